"""Carts and checkouts from the shops' storefront activity, and abandoned checkouts."""
