"""Staff commands and background jobs: they act for the provider, not for a viewer."""
