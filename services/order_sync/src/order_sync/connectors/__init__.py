"""Platform payloads to our canonical order: pure functions, no I/O."""
