"""The HTTP face of the centre server: the app, its middleware and dependencies, and every route."""
