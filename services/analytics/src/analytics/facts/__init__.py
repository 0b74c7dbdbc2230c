"""Order facts: one row per order, with the customer it is attributed to (merges followed)."""
