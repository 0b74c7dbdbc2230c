import asyncio

import pytest
from crm_common.periodic import Periodic


async def test_work_runs_again_after_a_failure_until_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the database went away")
        if len(runs) == 3:
            third.set()

    periodic = Periodic("test-work", work, interval=0.01)
    periodic.start()
    await asyncio.wait_for(third.wait(), timeout=5)
    await periodic.stop()
    stopped_at = len(runs)
    await asyncio.sleep(0.05)

    assert stopped_at >= 3
    assert len(runs) == stopped_at
    assert any(
        "test-work failed" in record.getMessage() and record.exc_info for record in caplog.records
    )


async def test_stop_before_start_and_twice_is_harmless() -> None:
    async def work() -> None:
        return None

    periodic = Periodic("idle", work, interval=10)
    await periodic.stop()
    periodic.start()
    await periodic.stop()
    await periodic.stop()


async def test_a_wake_runs_the_work_again_without_waiting_for_the_interval() -> None:
    runs: list[float] = []
    ran = asyncio.Event()

    async def work() -> None:
        runs.append(asyncio.get_running_loop().time())
        ran.set()

    periodic = Periodic("woken", work, interval=60)
    periodic.start()
    await asyncio.wait_for(ran.wait(), timeout=5)
    ran.clear()
    periodic.wake()
    await asyncio.wait_for(ran.wait(), timeout=5)
    await periodic.stop()

    assert len(runs) == 2
    assert runs[1] - runs[0] < 5
