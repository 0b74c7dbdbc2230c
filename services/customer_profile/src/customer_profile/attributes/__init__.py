"""Tags and traits: what marketers and agents say about a customer, beside what orders say."""
