"""Who may call what on analytics: aggregate KPIs and predictions keyed by pseudonymous
customer ids, no personal data; support agents have no need of them. Fitting a model, and
setting a store's time zone (which recounts its roll-ups), are an analyst's acts."""

from crm_common.access import OPERATIONS, AccessMatrix, allow
from crm_common.auth import Role

ACCESS = AccessMatrix.of(
    "analytics",
    {
        **OPERATIONS,
        "GET /v1/kpis": allow(Role.ANALYST, Role.MARKETER, Role.VIEWER),
        "GET /v1/reports/sales": allow(Role.ANALYST, Role.MARKETER, Role.VIEWER),
        "GET /v1/reports/products": allow(Role.ANALYST, Role.MARKETER, Role.VIEWER),
        "GET /v1/reports/cohorts": allow(Role.ANALYST, Role.MARKETER, Role.VIEWER),
        "GET /v1/stores/{store_id}/settings": allow(Role.ANALYST, Role.MARKETER, Role.VIEWER),
        "PUT /v1/stores/{store_id}/settings": allow(Role.ANALYST),
        "POST /v1/models/clv:fit": allow(Role.ANALYST),
        "GET /v1/models/clv": allow(Role.ANALYST, Role.MARKETER, Role.VIEWER),
        "GET /v1/customers/{customer_id}/predictions": allow(
            Role.ANALYST, Role.MARKETER, Role.VIEWER
        ),
    },
    personal_data=(),
)
