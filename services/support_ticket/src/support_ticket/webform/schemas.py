from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from support_ticket.tickets.schemas import Body, Name, Subject

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$", max_length=320
    ),
]


class WebFormTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name | None = None
    subject: Subject
    body: Annotated[Body, StringConstraints(min_length=1, max_length=20_000)]


class WebFormReceipt(BaseModel):
    """The number to quote; the ticket itself is answered by email."""

    number: int
