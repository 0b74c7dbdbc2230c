"""The SLA configuration as stored: business calendars by id, and the ordered policy set."""

from datetime import datetime

from pydantic import BaseModel

from support_ticket.sla.calendar import CalendarDefinition
from support_ticket.sla.policies import PolicySet

COLLECTION = "sla"
POLICIES_ID = "policies"
"""The `_id` of the one policy set document; calendars are `calendar:<id>`."""


class StoredCalendar(BaseModel):
    calendar_id: str
    definition: CalendarDefinition
    updated_at: datetime


class StoredPolicies(BaseModel):
    """The policy set and the revision of the whole configuration.

    `revision` grows with every change of the policies or of any calendar; each ticket keeps the
    revision its SLA was computed with, so that tickets computed with an older one are found and
    computed again (after a crash too)."""

    policies: PolicySet = PolicySet()
    revision: int = 0
    updated_at: datetime | None = None
