import crm_common.idempotency
import crm_common.outbox  # noqa: F401  (registers outbox_events)
import customer_profile.addresses.models
import customer_profile.attributes.models
import customer_profile.consents.models
import customer_profile.contacts.models
import customer_profile.customers.models
import customer_profile.merges.models
import customer_profile.privacy.models
import customer_profile.scoring.models
import customer_profile.search.models
import customer_profile.timeline.models  # noqa: F401  (registers the tables)
from crm_common.db import run_alembic_env
from sqlmodel import SQLModel

run_alembic_env(SQLModel.metadata)
