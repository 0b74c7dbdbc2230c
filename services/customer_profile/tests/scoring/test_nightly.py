"""The nightly job: when it runs, and what one run does."""

from datetime import UTC, datetime, timedelta

import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent, format_rfc3339
from customer_profile.scoring import nightly, repository
from customer_profile.scoring.models import ScoringRun
from customer_profile.timeline import service as timeline
from customer_profile.timeline.models import PendingActivity
from sqlalchemy import func, select


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 1, 2, 59, tzinfo=UTC), datetime(2026, 3, 1, 3, 0, tzinfo=UTC)),
        (datetime(2026, 3, 1, 3, 0, tzinfo=UTC), datetime(2026, 3, 2, 3, 0, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2027, 1, 1, 3, 0, tzinfo=UTC)),
    ],
)
def test_the_next_run_is_the_next_batch_hour(now, expected) -> None:
    assert nightly.next_run(now, 3) == expected


@pytest.mark.integration
async def test_one_run_scores_and_purges_expired_pending_activity(sessions) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=20)
    viewed = CloudEvent[dict[str, object]](
        source="shop/s1",
        type="shop.product.viewed",
        data={
            "store_id": "s1",
            "product_id": "p-1",
            "customer": {"email": "nobody-yet@example.com"},
            "viewed_at": format_rfc3339(long_ago),
        },
        time=long_ago,
    )
    async with transaction(sessions) as session:
        applied = await timeline.apply_activity(
            session=session, events=[viewed], now=long_ago, pending_for=timedelta(days=10)
        )
    assert (applied.outcomes, applied.rejected) == ({"pending": 1}, {})
    async with sessions() as session:
        assert await repository.last_run_at(session=session) is None

    assert await nightly.run_once(sessions) is True
    async with sessions() as session:
        assert await repository.last_run_at(session=session) is not None
        assert await session.scalar(select(func.count()).select_from(ScoringRun)) == 1
        assert await session.scalar(select(func.count()).select_from(PendingActivity)) == 0
