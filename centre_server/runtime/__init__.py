"""The running centre: the single writer that applies commands, commits them and tells the listeners."""
