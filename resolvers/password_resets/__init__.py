"""Password resets: requesting a link and using it."""
