"""The public web form: a customer opens a ticket from the store's site, with no token."""
