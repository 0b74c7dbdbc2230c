"""Who may call what on order-sync: shops and their data are written by admins only (or by the
shops themselves, through signed webhooks); the reads stay open to every role, the orders'
personal data unmasked for the support agents who talk to their buyers."""

from crm_common.access import ADMIN_ONLY, EVERYONE, OPERATIONS, AccessMatrix, public
from crm_common.auth import Role

SIGNED = public("authenticated by the platform's HMAC signature of the body")

ACCESS = AccessMatrix.of(
    "order-sync",
    {
        **OPERATIONS,
        "POST /v1/stores": ADMIN_ONLY,
        "GET /v1/stores/{store_id}": EVERYONE,
        "GET /v1/stores/{store_id}/sync-status": EVERYONE,
        "POST /v1/orders": ADMIN_ONLY,
        "POST /v1/orders:batch": ADMIN_ONLY,
        "GET /v1/orders": EVERYONE,
        "GET /v1/orders/{order_id}": EVERYONE,
        "POST /v1/imports": ADMIN_ONLY,
        "POST /v1/imports/{import_id}:resume": ADMIN_ONLY,
        "GET /v1/imports/{import_id}": EVERYONE,
        "GET /v1/imports/{import_id}/errors": EVERYONE,
        "PUT /v1/inventory/{sku}": ADMIN_ONLY,
        "GET /v1/inventory": EVERYONE,
        "GET /v1/inventory/{sku}": EVERYONE,
        "POST /v1/webhooks/shopify/{store_id}": SIGNED,
        "POST /v1/webhooks/woocommerce/{store_id}": SIGNED,
        "GET /v1/webhooks/deliveries": EVERYONE,
        # A delivery's raw body holds the shop's customers' personal data.
        "GET /v1/webhooks/deliveries/{delivery}": ADMIN_ONLY,
        "POST /v1/webhooks/deliveries/{delivery}:replay": ADMIN_ONLY,
    },
    personal_data=(Role.AGENT,),
    notes=(
        "Orders show the buyer's email, phone and names and the addresses' names, street lines "
        "and postal codes masked to roles without the personal-data right; only those with it "
        "may filter by `customer_email`.",
    ),
)
