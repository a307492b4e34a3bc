"""Hosting: services and domains, their changes and upgrades."""
