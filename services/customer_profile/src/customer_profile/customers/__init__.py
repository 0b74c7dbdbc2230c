"""Customers: who buys, under which identities, and what they have bought."""
