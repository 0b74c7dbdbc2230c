"""Merges: joining two customers, the append-only merge log, undo, and merge suggestions."""
