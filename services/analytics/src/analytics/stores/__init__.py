"""Each store's settings that reports depend on: its time zone."""
