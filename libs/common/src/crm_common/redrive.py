"""Re-drive a dead-letter topic: `python -m crm_common.redrive shop.orders.v1.dlq`.

Each parked event goes back to the topic it came from (its `x-dlq-source-topic` header), with
its key and original headers, once the cause has been fixed. Progress is kept as the offsets of
the consumer group `crm.redrive`, so a second run only re-drives what arrived since. Events an
outbox relay parked because the producer refused them are skipped: their dead letters carry no
payload, which stays in the producing service's `outbox_parked` table.
"""

import argparse
import asyncio
import logging
import os
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from crm_common.kafka import KafkaSecurity, client_options

logger = logging.getLogger(__name__)

_GROUP = "crm.redrive"


async def redrive(
    bootstrap_servers: str,
    dlq: str,
    *,
    dry_run: bool = False,
    security: KafkaSecurity | None = None,
) -> int:
    """Republish every event parked on `dlq` since the last re-drive; returns how many."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options(security),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **client_options(security),
    )
    await consumer.start()
    await producer.start()
    moved = 0
    try:
        partitions = [
            TopicPartition(dlq, p) for p in await _partitions(bootstrap_servers, dlq, security)
        ]
        consumer.assign(partitions)
        # Stop at the end as it is now: events parked while we run wait for the next re-drive.
        end = await consumer.end_offsets(partitions)
        for partition in partitions:
            while await consumer.position(partition) < end[partition]:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                for record in batch.get(partition, []):
                    if record.offset >= end[partition]:
                        break
                    headers = dict(record.headers)
                    source = headers.get("x-dlq-source-topic", b"").decode()
                    if not source:
                        logger.warning("skipping offset %s: no source topic", record.offset)
                        continue
                    if "x-dlq-payload-omitted" in headers:
                        # An event the producer refused for good: re-sending nothing would
                        # only dead-letter an empty record downstream.
                        logger.warning(
                            "skipping offset %s: event %s is in its producer's outbox_parked",
                            record.offset,
                            headers.get("x-dlq-event-id", b"").decode(),
                        )
                        continue
                    kept = [(k, v) for k, v in record.headers if not k.startswith("x-dlq-")]
                    if not dry_run:
                        await producer.send_and_wait(
                            source,
                            record.value,
                            key=record.key,
                            headers=[*kept, ("x-redriven-from", dlq.encode())],
                        )
                    moved += 1
            if not dry_run:
                await consumer.commit({partition: end[partition]})
    finally:
        await producer.stop()
        await consumer.stop()
    return moved


async def _partitions(
    bootstrap_servers: str, topic: str, security: KafkaSecurity | None
) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options(security))
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description.get("error_code"):
        raise SystemExit(f"cannot read topic {topic}: error code {description['error_code']}")
    return sorted(p["partition"] for p in description["partitions"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dlq", help="the dead-letter topic, e.g. shop.orders.v1.dlq")
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--dry-run", action="store_true", help="count, publish nothing")
    args = parser.parse_args(argv)
    if not args.dlq.endswith(".dlq"):
        parser.error("the topic must be a dead-letter topic (ending in .dlq)")
    # With SASL/SCRAM over TLS, as the services are configured (KAFKA_SASL_USERNAME, ...).
    username = os.environ.get("KAFKA_SASL_USERNAME")
    security = (
        KafkaSecurity(
            username=username,
            password=os.environ.get("KAFKA_SASL_PASSWORD", ""),
            cafile=os.environ.get("KAFKA_SSL_CAFILE"),
        )
        if username
        else None
    )
    moved = asyncio.run(
        redrive(args.bootstrap_servers, args.dlq, dry_run=args.dry_run, security=security)
    )
    verb = "would re-drive" if args.dry_run else "re-drove"
    sys.stdout.write(f"{verb} {moved} event(s) from {args.dlq}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
