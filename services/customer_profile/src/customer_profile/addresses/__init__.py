"""Postal addresses, collected from the shipping and billing addresses of a customer's orders."""
