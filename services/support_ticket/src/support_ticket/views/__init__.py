"""Ticket lists each agent saves for themselves: a name and the filters it applies."""
