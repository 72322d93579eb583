"""HTTP API routers (DESIGN §4), one per resource."""
