"""The SLA API's output models (its input models are the package's own: `CalendarDefinition`,
`PolicySet`)."""

from datetime import datetime

from support_ticket.sla.calendar import CalendarDefinition
from support_ticket.sla.policies import PolicySet


class CalendarRead(CalendarDefinition):
    calendar_id: str
    updated_at: datetime


class PolicySetRead(PolicySet):
    revision: int
    """Grows with every change of the policies or of a calendar."""
    updated_at: datetime | None
