"""Sales roll-ups per store, currency and local day (and per SKU, buyer and cohort), kept in
step with the order facts in the same transactions."""
