"""The consent precedence rules, without a database."""

from datetime import UTC, datetime, timedelta

import pytest
from crm_events.customer import ConsentSource, ConsentStatus
from customer_profile.consents.rules import Decision, Outcome, decide

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)
EARLIER = T0 - timedelta(days=1)

GRANTED, WITHDRAWN = ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN
ORDER, API, IMPORT, SHOP = (
    ConsentSource.ORDER,
    ConsentSource.API,
    ConsentSource.IMPORT,
    ConsentSource.SHOP,
)
EXPLICIT = [API, IMPORT, SHOP]


def d(status: ConsentStatus, source: ConsentSource, at: datetime = T0) -> Decision:
    return Decision(status, source, at)


@pytest.mark.parametrize("source", [ORDER, *EXPLICIT])
def test_a_first_grant_applies_whatever_its_source(source: ConsentSource) -> None:
    assert decide(None, d(GRANTED, source)) is Outcome.APPLIED


def test_an_unticked_box_on_a_first_order_records_nothing() -> None:
    assert decide(None, d(WITHDRAWN, ORDER)) is Outcome.UNCHANGED


@pytest.mark.parametrize("source", EXPLICIT)
def test_a_first_explicit_withdrawal_is_recorded(source: ConsentSource) -> None:
    assert decide(None, d(WITHDRAWN, source)) is Outcome.APPLIED


@pytest.mark.parametrize("source", [ORDER, *EXPLICIT])
def test_the_same_status_from_the_same_source_changes_nothing(source: ConsentSource) -> None:
    assert decide(d(GRANTED, source, EARLIER), d(GRANTED, source, LATER)) is Outcome.UNCHANGED


@pytest.mark.parametrize("explicit", EXPLICIT)
@pytest.mark.parametrize("status", [GRANTED, WITHDRAWN])
@pytest.mark.parametrize("when", [EARLIER, T0, LATER])
def test_an_order_flag_never_overrides_an_explicit_decision(
    explicit: ConsentSource, status: ConsentStatus, when: datetime
) -> None:
    opposite = WITHDRAWN if status is GRANTED else GRANTED
    assert decide(d(status, explicit), d(opposite, ORDER, when)) is Outcome.OVERRIDDEN


@pytest.mark.parametrize("explicit", EXPLICIT)
@pytest.mark.parametrize("when", [EARLIER, LATER])
def test_an_explicit_decision_always_overrides_an_order_flag(
    explicit: ConsentSource, when: datetime
) -> None:
    assert decide(d(GRANTED, ORDER), d(WITHDRAWN, explicit, when)) is Outcome.APPLIED
    assert decide(d(WITHDRAWN, ORDER), d(GRANTED, explicit, when)) is Outcome.APPLIED


def test_an_explicit_grant_upgrades_an_order_grant() -> None:
    # Same status, stronger source: recorded, so that a later unticked box cannot withdraw it.
    assert decide(d(GRANTED, ORDER), d(GRANTED, API)) is Outcome.APPLIED


def test_the_newest_order_wins_among_order_flags() -> None:
    assert decide(d(GRANTED, ORDER), d(WITHDRAWN, ORDER, LATER)) is Outcome.APPLIED
    assert decide(d(WITHDRAWN, ORDER), d(GRANTED, ORDER, LATER)) is Outcome.APPLIED
    assert decide(d(GRANTED, ORDER), d(WITHDRAWN, ORDER, EARLIER)) is Outcome.OVERRIDDEN
    # The same order seen again (same time) with another flag does not flip the state.
    assert decide(d(GRANTED, ORDER), d(WITHDRAWN, ORDER, T0)) is Outcome.OVERRIDDEN


@pytest.mark.parametrize(("current", "incoming"), [(API, IMPORT), (IMPORT, SHOP), (SHOP, API)])
def test_the_newest_wins_among_explicit_decisions(
    current: ConsentSource, incoming: ConsentSource
) -> None:
    assert decide(d(GRANTED, current), d(WITHDRAWN, incoming, LATER)) is Outcome.APPLIED
    assert decide(d(GRANTED, current), d(WITHDRAWN, incoming, T0)) is Outcome.APPLIED
    assert decide(d(GRANTED, current), d(WITHDRAWN, incoming, EARLIER)) is Outcome.OVERRIDDEN
