"""Who may call what on campaign: marketers work with contacts and segments; analysts and
viewers read them (contacts with the personal data masked); support agents have no need of
them."""

from crm_common.access import OPERATIONS, AccessMatrix, allow
from crm_common.auth import Role

ACCESS = AccessMatrix.of(
    "campaign",
    {
        **OPERATIONS,
        "GET /v1/contacts/{customer_id}": allow(Role.MARKETER, Role.ANALYST, Role.VIEWER),
        "POST /v1/segments": allow(Role.MARKETER),
        "GET /v1/segments": allow(Role.MARKETER, Role.ANALYST, Role.VIEWER),
        "POST /v1/segments:preview": allow(Role.MARKETER, Role.ANALYST),
        "GET /v1/segments/{segment_id}": allow(Role.MARKETER, Role.ANALYST, Role.VIEWER),
        "PATCH /v1/segments/{segment_id}": allow(Role.MARKETER),
        "DELETE /v1/segments/{segment_id}": allow(Role.MARKETER),
        "GET /v1/segments/{segment_id}/members/{customer_id}": allow(
            Role.MARKETER, Role.ANALYST, Role.VIEWER
        ),
    },
    personal_data=(Role.MARKETER,),
)
