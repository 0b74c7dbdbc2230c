"""Sales, cohort and product reports, answered from the roll-ups, as JSON or CSV."""
