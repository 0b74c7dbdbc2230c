"""The optional SMTP listener: mail delivered to it goes the way `POST /v1/inbound/email` does.

The aiosmtpd server runs on the service's own event loop (not aiosmtpd's controller thread), so
that the handler uses the same MongoDB client as everything else.
"""

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from support_ticket.mail import service
from support_ticket.mail.inbound import UnreadableMail
from support_ticket.tickets.repository import Database
from support_ticket.tickets.thread import AttachmentRules

logger = logging.getLogger(__name__)


class _Handler:
    def __init__(self, database: Database, rules: AttachmentRules, store_id: str | None) -> None:
        self._database = database
        self._rules = rules
        self._store_id = store_id

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: ARG002 (aiosmtpd's hook)
        raw = envelope.original_content or b""
        try:
            await service.receive(
                database=self._database, raw=raw, store_id=self._store_id, rules=self._rules
            )
        except UnreadableMail as error:
            return f"550 5.6.0 {error}"
        except Exception:
            logger.exception("inbound mail not filed")
            # Temporary: the sending server tries again later.
            return "451 4.3.0 not filed, try again later"
        return "250 OK"


class SmtpListener:
    def __init__(
        self,
        database: Database,
        rules: AttachmentRules,
        *,
        host: str,
        port: int,
        max_bytes: int,
        store_id: str | None = None,
    ) -> None:
        self._handler = _Handler(database, rules, store_id)
        self._host = host
        self._port = port
        self._max_bytes = max_bytes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        def protocol() -> Any:
            return SMTP(self._handler, data_size_limit=self._max_bytes, enable_SMTPUTF8=True)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(protocol, host=self._host, port=self._port)

    @property
    def port(self) -> int:
        """The port listened on (the one chosen, when configured as 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
