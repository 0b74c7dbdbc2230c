"""The refresher of measured gauges, without infrastructure."""

import asyncio

from crm_common.metrics import Refresher


async def test_probes_run_periodically_and_a_failing_one_stops_none_of_them() -> None:
    runs = {"failing": 0, "working": 0}

    async def failing() -> None:
        runs["failing"] += 1
        raise ConnectionError("broker unreachable")

    async def working() -> None:
        runs["working"] += 1

    refresher = Refresher([failing, working], interval_seconds=0.01)
    refresher.start()
    try:
        async with asyncio.timeout(10):
            while runs["working"] < 3:
                await asyncio.sleep(0.01)
    finally:
        await refresher.stop()

    assert runs["failing"] >= 3
    stopped_at = dict(runs)
    await asyncio.sleep(0.05)
    assert runs == stopped_at
