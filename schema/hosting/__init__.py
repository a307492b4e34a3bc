"""Hosting types: services and domains."""
