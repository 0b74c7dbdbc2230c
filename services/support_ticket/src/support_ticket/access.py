"""Who may call what on support-ticket: agents help customers; analysts and viewers read them
with the personal data masked; marketers have no need of the support desk."""

from crm_common.access import OPERATIONS, AccessMatrix, allow
from crm_common.auth import Role

ACCESS = AccessMatrix.of(
    "support-ticket",
    {
        **OPERATIONS,
        "GET /v1/customers/{customer_id}": allow(Role.AGENT, Role.ANALYST, Role.VIEWER),
    },
    personal_data=(Role.AGENT,),
)
