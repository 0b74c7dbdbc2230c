"""Orders from the connected shops: stored as sent, versioned, announced on crm.orders.v1."""
