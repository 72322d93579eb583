"""Every figure of a centre's day, defined once, and the board's live view of them."""
