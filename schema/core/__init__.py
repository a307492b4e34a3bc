"""Shared schema infrastructure: base types, scalars, limits, declared requirements, IDs."""
