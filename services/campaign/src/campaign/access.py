"""Who may call what on campaign: marketers work with contacts; analysts and viewers read them
with the personal data masked; support agents have no need of them."""

from crm_common.access import OPERATIONS, AccessMatrix, allow
from crm_common.auth import Role

ACCESS = AccessMatrix.of(
    "campaign",
    {
        **OPERATIONS,
        "GET /v1/contacts/{customer_id}": allow(Role.MARKETER, Role.ANALYST, Role.VIEWER),
    },
    personal_data=(Role.MARKETER,),
)
