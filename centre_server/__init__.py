"""centre_server."""
