"""What each field and mutation does: permission checks, rules, data access and loaders."""
