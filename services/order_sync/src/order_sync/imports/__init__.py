"""Historical imports: a CSV or NDJSON file of canonical orders, applied in resumable chunks."""
