# Importing the model modules registers their tables on SQLModel.metadata, which autogenerate
# compares with the database: ours, and crm_common's outbox and processed-event tables.
from campaign.contacts import models  # noqa: F401
from campaign.segments import models as segment_models  # noqa: F401
from crm_common import idempotency, outbox  # noqa: F401
from crm_common.db import run_alembic_env
from sqlmodel import SQLModel

run_alembic_env(SQLModel.metadata)
