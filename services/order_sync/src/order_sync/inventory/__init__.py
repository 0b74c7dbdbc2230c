"""Stock per store and SKU: set by hand, moved by paid, cancelled and returned orders."""
