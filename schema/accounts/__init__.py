"""Client accounts and their members."""
