"""Who may call what on analytics: aggregate KPIs, no personal data; support agents have no
need of them."""

from crm_common.access import OPERATIONS, AccessMatrix, allow
from crm_common.auth import Role

ACCESS = AccessMatrix.of(
    "analytics",
    {
        **OPERATIONS,
        "GET /v1/kpis": allow(Role.ANALYST, Role.MARKETER, Role.VIEWER),
    },
    personal_data=(),
)
