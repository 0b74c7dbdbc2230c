"""Who may call what on customer-profile.

Profiles are read by every role, with the personal data (email, phone, names, identities,
street addresses) masked for those without the right to it: analysts and viewers. What shows
personal data that cannot be masked field by field (timeline, merge log, merge suggestions,
exports) is kept to the roles that need it. Merges, erasure and exports are admin work.
"""

from crm_common.access import ADMIN_ONLY, EVERYONE, OPERATIONS, AccessMatrix, allow
from crm_common.auth import Role

PERSONAL_DATA = (Role.MARKETER, Role.AGENT)
"""Marketers run campaigns to customers, agents help them: both see who they are."""

ACCESS = AccessMatrix.of(
    "customer-profile",
    {
        **OPERATIONS,
        "GET /v1/customers": EVERYONE,
        "GET /v1/customers:search": EVERYONE,
        "GET /v1/customers/{customer_id}": EVERYONE,
        "PATCH /v1/customers/{customer_id}": allow(Role.MARKETER, Role.AGENT),
        "GET /v1/customers/{customer_id}/consents": EVERYONE,
        "PUT /v1/customers/{customer_id}/consents/{channel}/{purpose}": allow(Role.MARKETER),
        "GET /v1/customers/{customer_id}/timeline": allow(*PERSONAL_DATA),
        "POST /v1/customers:import": allow(Role.MARKETER),
        "GET /v1/customers:export": ADMIN_ONLY,
        "GET /v1/customers/{customer_id}:export": ADMIN_ONLY,
        "POST /v1/customers/{customer_id}:erase": ADMIN_ONLY,
        "POST /v1/customers/{customer_id}:merge": ADMIN_ONLY,
        "POST /v1/merges/{merge_id}:undo": ADMIN_ONLY,
        "GET /v1/merges": allow(*PERSONAL_DATA),
        "GET /v1/merges/{merge_id}": allow(*PERSONAL_DATA),
        "GET /v1/merge-suggestions": ADMIN_ONLY,
        "POST /v1/merge-suggestions/{suggestion_id}:dismiss": ADMIN_ONLY,
    },
    personal_data=PERSONAL_DATA,
    notes=(
        "Masked: `a***@example.com`, `+44********58`, names and street lines as `A***`; "
        "city, region and country are kept. Traits and tags are shown as they are.",
    ),
)
