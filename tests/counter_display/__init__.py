"""Tests of the counter and hall displays."""
