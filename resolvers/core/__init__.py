"""Shared infrastructure of the rules: context, errors, loaders, permissions, policies, paging."""
