"""Huduma headquarters: receives centres' daily summaries (PostgreSQL) and shows the national board."""
