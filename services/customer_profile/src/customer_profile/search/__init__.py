"""Searching customers: by identity, name prefix, tag and lifecycle stage, a page at a time."""
