"""Hall and counter displays: who is called where, seen and heard (``huduma-display``)."""
