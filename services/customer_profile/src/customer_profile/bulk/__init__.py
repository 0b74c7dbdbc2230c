"""Bulk import and export of customers."""
