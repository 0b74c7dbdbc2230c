"""The activity timeline: everything that happened to a customer across the suite."""
