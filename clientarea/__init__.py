"""The client area's application package: ASGI app, settings, authentication and CLI."""
