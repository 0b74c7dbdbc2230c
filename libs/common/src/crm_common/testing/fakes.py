"""Stand-ins for tests that exercise a component without the one it talks to."""

import asyncio
from types import SimpleNamespace
from typing import Any


class RecordingBroker:
    """Just enough of a KafkaBroker for an outbox relay (`crm_common.outbox.OutboxRelay`): it
    keeps every publish command, in the order given, and sends nothing."""

    def __init__(self) -> None:
        self.commands: list[Any] = []
        self.config = SimpleNamespace(producer=self)

    async def publish(self, command: Any) -> "asyncio.Future[None]":
        self.commands.append(command)
        # Hand the loop over, as a real send does, so that other relays run between two sends.
        await asyncio.sleep(0)
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    @property
    def sent(self) -> list[bytes]:
        """The payloads, in the order sent."""
        return [command.body for command in self.commands]
