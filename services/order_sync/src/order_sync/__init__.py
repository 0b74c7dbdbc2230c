"""order-sync: shop connections and the orders they send, published as canonical order events."""
