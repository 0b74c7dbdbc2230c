"""The CRM suite's event contracts: pydantic models, the single source of truth for the JSON
Schemas committed under `schemas/events/` (regenerate with `python -m crm_events export`)."""
