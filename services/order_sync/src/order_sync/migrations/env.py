import crm_common.idempotency
import crm_common.outbox  # noqa: F401  (registers outbox_events)
import order_sync.carts.models
import order_sync.imports.models
import order_sync.inventory.models
import order_sync.orders.models
import order_sync.shop_customers.models
import order_sync.stores.models
import order_sync.webhooks.deliveries.models
import order_sync.webhooks.models  # noqa: F401
from crm_common.db import run_alembic_env
from sqlmodel import SQLModel

run_alembic_env(SQLModel.metadata)
