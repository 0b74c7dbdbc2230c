import crm_common.idempotency
import crm_common.outbox  # noqa: F401  (registers outbox_events)
import customer_profile.customers.models  # noqa: F401  (registers the tables)
from crm_common.db import run_alembic_env
from sqlmodel import SQLModel

run_alembic_env(SQLModel.metadata)
