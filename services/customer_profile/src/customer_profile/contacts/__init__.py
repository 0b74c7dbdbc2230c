"""Contacts from outside orders: imports and shop customer accounts, one ingestion."""
