"""Every HTTP route of the centre server, one module per resource."""
