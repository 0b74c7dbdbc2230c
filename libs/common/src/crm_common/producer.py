"""Sending records already encoded, through a broker's own producer.

The outbox relay hands the broker thousands of stored records a second, each already a
CloudEvent in bytes with the trace context of the transaction that wrote it. FastStream's public
`publish` would run each through the broker's middleware (a new trace per record, at several
times the cost of the send) and wait for its acknowledgement; its producer, given a command,
does neither. Building that command takes an argument FastStream marks private
(`_publish_type`): this module is the one place that does, and its tests pin what it relies on.
"""

from collections.abc import Awaitable, Mapping

from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.structs import RecordMetadata
from faststream.kafka import KafkaBroker
from faststream.kafka.response import KafkaPublishCommand
from faststream.response import PublishType

UNPUBLISHABLE: tuple[type[Exception], ...] = (MessageSizeTooLargeError,)
"""What `send` raises for a record it will never send, however often it is given.

Only the producer's own check counts: a record it sends that the broker then refuses fails its
whole request, and aiokafka's idempotent producer cannot go on after that on the partition. So
every topic must take records of `crm_common.kafka.MAX_MESSAGE_BYTES` (the broker's default).
"""


class RecordProducer:
    """Sends records through `broker`'s producer, past its publish middleware."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(
        self, *, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, str]
    ) -> Awaitable[RecordMetadata]:
        """Queue one record; returns its acknowledgement to await.

        Records are sent in the order queued, so one key's records keep their order. A record
        the producer refuses outright (too large) raises here, before anything is queued.
        """
        ack: Awaitable[RecordMetadata] = await self._broker.config.producer.publish(
            KafkaPublishCommand(
                value,
                topic=topic,
                key=key,
                headers=dict(headers),
                no_confirm=True,
                _publish_type=PublishType.PUBLISH,
            )
        )
        return ack
