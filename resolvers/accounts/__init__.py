"""Client accounts: their profile, members and security settings."""
