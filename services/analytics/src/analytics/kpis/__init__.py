"""Headline KPIs of a store over a time window, computed from the order facts."""
