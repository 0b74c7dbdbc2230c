"""Consent per channel and purpose: the current state, its append-only log and its events."""
