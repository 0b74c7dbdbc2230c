"""The least a service between shop.orders.v1 and crm.orders.v1 can do: no database at all.

Run as its own process by `bench_order_sync.py`, like order-sync: it consumes the shop's topic in
batches of up to 500 and, for each record, publishes two records to the target topic (order-sync
owes `crm.order.placed` and `crm.order.paid` for a new paid order), keyed by the order id, the
first marked as a placed event; then commits the batch's offsets. It prints `ready` once the
group has given it its partitions. Kafka client work only: what
it reaches is the ceiling of any Python service relaying those events on this machine.

    python bench/_forwarder.py BOOTSTRAP SOURCE TARGET GROUP
"""

import asyncio
import sys

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from order_sync.orders.events import order_id_for

PLACED = b'"type":"crm.order.placed"'
PAID = b'"type":"crm.order.paid"'
UPSERTED = b'"type":"shop.order.upserted"'


async def forward(bootstrap: str, source: str, target: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    # order-sync's relay producer settings (crm_common.outbox).
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1024 * 1024
    )
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            pending = []
            for records in batch.values():
                for record in records:
                    data = orjson.loads(record.value)["data"]
                    key = order_id_for(data["store_id"], data["external_id"]).encode()
                    for kind in (PLACED, PAID):
                        value = record.value.replace(UPSERTED, kind, 1)
                        pending.append(await producer.send(target, value, key=key))
            if pending:
                await asyncio.gather(*pending)
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(forward(*sys.argv[1:5]))
