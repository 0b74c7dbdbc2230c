"""The campaign service's own copy of who each customer is, fed by crm.customers.v1."""
