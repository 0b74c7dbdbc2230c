"""Listing tickets: filtered, most recently changed first, in keyset pages behind an opaque
cursor bound to the filters it was issued for."""

import base64
import binascii
import hashlib
import json
from dataclasses import asdict
from datetime import datetime

from support_ticket.tickets import repository
from support_ticket.tickets.exceptions import InvalidCursor
from support_ticket.tickets.models import Ticket
from support_ticket.tickets.repository import Database, TicketFilters


async def list_tickets(
    *, database: Database, filters: TicketFilters, limit: int, cursor: str | None
) -> tuple[list[Ticket], str | None]:
    """One page of the tickets matching `filters` after `cursor`, and the next page's cursor
    (None at the end); raises `InvalidCursor`."""
    after = decode_cursor(cursor, filters) if cursor else None
    # One more than asked tells whether another page follows.
    found = await repository.list_tickets(
        database=database, filters=filters, after=after, limit=limit + 1
    )
    page = found[:limit]
    if len(found) <= limit:
        return page, None
    last = page[-1]
    return page, encode_cursor(last.updated_at, last.ticket_id, filters)


def encode_cursor(updated_at: datetime, ticket_id: str, filters: TicketFilters) -> str:
    document = {"u": updated_at.isoformat(), "t": ticket_id, "f": _fingerprint(filters)}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filters: TicketFilters) -> tuple[datetime, str]:
    """The keyset position in `cursor`; raises `InvalidCursor` when it is not one of ours or
    was issued for other filters."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        updated_at = datetime.fromisoformat(document["u"])
        ticket_id = document["t"]
        fingerprint = document["f"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise InvalidCursor("not a cursor this API issued") from error
    if not isinstance(ticket_id, str) or updated_at.tzinfo is None:
        raise InvalidCursor("not a cursor this API issued")
    if fingerprint != _fingerprint(filters):
        raise InvalidCursor("it was issued for other filters; start again without a cursor")
    return updated_at, ticket_id


def _fingerprint(filters: TicketFilters) -> str:
    raw = json.dumps(asdict(filters), sort_keys=True).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()
