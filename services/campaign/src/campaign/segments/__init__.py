"""Segments: JSON definitions over customers' traits and behaviour, with streaming membership."""
