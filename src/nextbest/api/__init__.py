"""The HTTP API: the Litestar app, its routes and its wire types."""
