"""Who may call what on support-ticket: agents work the tickets; analysts and viewers read them
with the personal data masked; admins also define a store's ticket fields and the SLA calendars
and policies (agents read those); marketers have no need of the support desk. Mail providers
forward inbound mail with a token of their own (the agent role); the web form takes none."""

from crm_common.access import OPERATIONS, AccessMatrix, allow, public
from crm_common.auth import Role

READERS = allow(Role.AGENT, Role.ANALYST, Role.VIEWER)
AGENTS = allow(Role.AGENT)

ACCESS = AccessMatrix.of(
    "support-ticket",
    {
        **OPERATIONS,
        "GET /v1/customers/{customer_id}": READERS,
        "POST /v1/tickets": AGENTS,
        "GET /v1/tickets": READERS,
        "GET /v1/tickets/{ticket_id}": READERS,
        "PATCH /v1/tickets/{ticket_id}": AGENTS,
        "GET /v1/tickets/{ticket_id}/history": READERS,
        "POST /v1/tickets/{ticket_id}/messages": AGENTS,
        "GET /v1/tickets/{ticket_id}/messages": READERS,
        "GET /v1/tickets/{ticket_id}/attachments/{attachment_id}": AGENTS,
        "PUT /v1/stores/{store_id}/ticket-fields/{key}": allow(),
        "GET /v1/stores/{store_id}/ticket-fields": READERS,
        "PUT /v1/sla/calendars/{calendar_id}": allow(),
        "GET /v1/sla/calendars/{calendar_id}": AGENTS,
        "PUT /v1/sla/policies": allow(),
        "GET /v1/sla/policies": AGENTS,
        "POST /v1/views": READERS,
        "GET /v1/views": READERS,
        "DELETE /v1/views/{view_id}": READERS,
        "POST /v1/inbound/email": AGENTS,
        "POST /v1/forms/{store_id}/tickets": public(
            "a customer's contact form: rate-limited per store, opens a ticket and reads nothing"
        ),
    },
    personal_data=(Role.AGENT,),
)
