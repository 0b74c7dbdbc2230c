"""Storing shop carts and checkouts (newest revision wins) and owing their crm.carts.v1 events."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.idempotency import first_delivery
from crm_common.outbox import add_event
from crm_events.shop_activity import ShopCart, ShopCheckout
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.carts import events, repository
from order_sync.carts.models import Cart, Checkout, CheckoutState
from order_sync.carts.rules import normalized_email
from order_sync.stores.service import find_store

SHOP_ACTIVITY_CONSUMER = "order-sync.shop-activity"


class RecordStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Recorded:
    id: str
    """Our cart or checkout id."""
    status: RecordStatus
    version: int


class UnknownStore(Exception):
    """Activity of a store that is not registered (dead-lettered: the shop must register)."""

    def __init__(self, store_id: str) -> None:
        super().__init__(f"store {store_id} is not registered; register it first")
        self.store_id = store_id


async def record_cart(*, session: AsyncSession, cart: ShopCart, topic: str) -> Recorded:
    """Store `cart` unless it is no newer than the stored revision, and stage
    `crm.cart.updated` on `topic` for a stored change. Raises `UnknownStore`."""
    await _require_store(session, cart.store_id)
    cart_id = events.cart_id_for(cart.store_id, cart.cart_id)
    now = datetime.now(UTC)
    existing = await repository.lock_cart(session=session, cart_id=cart_id)
    if existing is None:
        row = _cart_row(cart, cart_id=cart_id, version=1, created_at=now, now=now)
        if await repository.insert_cart(session=session, cart=row):
            add_event(session, topic=topic, key=cart_id, event=_cart_event(cart, version=1))
            return Recorded(cart_id, RecordStatus.CREATED, 1)
        # A concurrent delivery stored it first; ours applies on top of it.
        existing = await repository.lock_cart(session=session, cart_id=cart_id)
        if existing is None:
            raise RuntimeError(f"cart {cart_id} vanished while it was being stored")
    if cart.updated_at <= existing.updated_at:
        return Recorded(cart_id, RecordStatus.UNCHANGED, existing.version)
    version = existing.version + 1
    row = _cart_row(cart, cart_id=cart_id, version=version, created_at=existing.created_at, now=now)
    await repository.replace_cart(session=session, cart=row)
    add_event(session, topic=topic, key=cart_id, event=_cart_event(cart, version=version))
    return Recorded(cart_id, RecordStatus.UPDATED, version)


async def record_checkout(*, session: AsyncSession, checkout: ShopCheckout, topic: str) -> Recorded:
    """Store `checkout` unless it is no newer than the stored revision; the first revision
    stages `crm.checkout.started` on `topic`. A newer one is activity: it is stored (its
    contents are what an abandonment announces) and restarts the idle clock, but announces
    nothing, and never reopens a checkout already abandoned or converted. A revision with a
    `completed_at` converts an open checkout (an order was placed from it). Raises
    `UnknownStore`."""
    await _require_store(session, checkout.store_id)
    checkout_id = events.checkout_id_for(checkout.store_id, checkout.checkout_id)
    now = datetime.now(UTC)
    existing = await repository.lock_checkout(session=session, checkout_id=checkout_id)
    if existing is None:
        row = _checkout_row(checkout, checkout_id=checkout_id, version=1, now=now, previous=None)
        if await repository.insert_checkout(session=session, checkout=row):
            data = events.checkout_snapshot(checkout, version=1)
            add_event(session, topic=topic, key=checkout_id, event=events.checkout_started(data))
            return Recorded(checkout_id, RecordStatus.CREATED, 1)
        existing = await repository.lock_checkout(session=session, checkout_id=checkout_id)
        if existing is None:
            raise RuntimeError(f"checkout {checkout_id} vanished while it was being stored")
    if _activity_time(checkout) <= existing.updated_at:
        if checkout.completed_at is not None and existing.state == CheckoutState.OPEN.value:
            # Completion is final whichever revision tells it.
            await repository.set_state(
                session=session, checkout_ids=[checkout_id], state=CheckoutState.CONVERTED
            )
        return Recorded(checkout_id, RecordStatus.UNCHANGED, existing.version)
    version = existing.version + 1
    row = _checkout_row(
        checkout, checkout_id=checkout_id, version=version, now=now, previous=existing
    )
    await repository.replace_checkout(session=session, checkout=row)
    return Recorded(checkout_id, RecordStatus.UPDATED, version)


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """A `shop.cart.updated` or `shop.checkout.started` event: its id and what it carries."""

    event_id: str
    item: ShopCart | ShopCheckout


async def apply_activity_events(
    *, session: AsyncSession, items: Sequence[ActivityEvent], topic: str
) -> dict[int, UnknownStore]:
    """Apply each event not applied before, in order, staging what it owes on `topic`.

    Returns, by position in `items`, those of unregistered stores; they are not recorded as
    processed, so a redrive after the store is registered applies them.
    """
    refused: dict[int, UnknownStore] = {}
    for position, event in enumerate(items):
        if await find_store(session=session, store_id=event.item.store_id) is None:
            refused[position] = UnknownStore(event.item.store_id)
            continue
        if not await first_delivery(
            session, consumer=SHOP_ACTIVITY_CONSUMER, event_id=event.event_id
        ):
            continue
        if isinstance(event.item, ShopCart):
            await record_cart(session=session, cart=event.item, topic=topic)
        else:
            await record_checkout(session=session, checkout=event.item, topic=topic)
    return refused


async def _require_store(session: AsyncSession, store_id: str) -> None:
    if await find_store(session=session, store_id=store_id) is None:
        raise UnknownStore(store_id)


def _cart_event(cart: ShopCart, *, version: int) -> CloudEvent[Any]:
    return events.cart_updated(events.cart_snapshot(cart, version=version))


def _activity_time(checkout: ShopCheckout) -> datetime:
    # The contract fills a missing updated_at from started_at, so None cannot reach here.
    return checkout.updated_at or checkout.started_at


def _state(checkout: ShopCheckout, previous: Checkout | None) -> str:
    state = previous.state if previous else CheckoutState.OPEN.value
    # A completed checkout had an order placed from it, so it is never abandoned; one already
    # announced as abandoned stays so (an announcement is not taken back).
    if checkout.completed_at is not None and state == CheckoutState.OPEN.value:
        return CheckoutState.CONVERTED.value
    return state


def _cart_row(
    cart: ShopCart, *, cart_id: str, version: int, created_at: datetime, now: datetime
) -> Cart:
    customer = cart.customer
    return Cart(
        cart_id=cart_id,
        store_id=cart.store_id,
        external_id=cart.cart_id,
        customer_external_id=customer.external_id if customer else None,
        customer_email=normalized_email(customer.email) if customer else None,
        currency=cart.currency,
        total=cart.total,
        body=cart.model_dump(mode="json"),
        updated_at=cart.updated_at,
        version=version,
        created_at=created_at,
        changed_at=now,
    )


def _checkout_row(
    checkout: ShopCheckout,
    *,
    checkout_id: str,
    version: int,
    now: datetime,
    previous: Checkout | None,
) -> Checkout:
    customer = checkout.customer
    return Checkout(
        checkout_id=checkout_id,
        store_id=checkout.store_id,
        external_id=checkout.checkout_id,
        cart_external_id=checkout.cart_id,
        customer_external_id=customer.external_id if customer else None,
        customer_email=normalized_email(customer.email) if customer else None,
        currency=checkout.currency,
        total=checkout.total,
        body=checkout.model_dump(mode="json"),
        started_at=checkout.started_at,
        updated_at=_activity_time(checkout),
        received_at=now,
        state=_state(checkout, previous),
        abandoned_at=previous.abandoned_at if previous else None,
        version=version,
        created_at=previous.created_at if previous else now,
    )
