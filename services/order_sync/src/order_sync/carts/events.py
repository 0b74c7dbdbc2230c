"""Shop carts and checkouts to our ids, snapshots and crm.carts.v1 events."""

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from crm_common.envelope import CloudEvent
from crm_events.cart import (
    CART_UPDATED,
    CHECKOUT_ABANDONED,
    CHECKOUT_STARTED,
    CartUpdated,
    CheckoutAbandoned,
    CheckoutSnapshot,
    CheckoutStarted,
)
from crm_events.shop_activity import ShopCart, ShopCheckout

SOURCE = "order-sync"

# Never change: every cart and checkout id ever issued is derived from it.
_ID_NAMESPACE = UUID("b5d2f7a4-6c1e-4e93-8f0a-2d7b9c3e1a58")


def cart_id_for(store_id: str, external_id: str) -> str:
    """Our id of a shop's cart: the same shop and cart id always give the same id."""
    # A JSON array keeps the parts apart whatever characters they contain.
    return str(uuid5(_ID_NAMESPACE, json.dumps(["cart", store_id, external_id])))


def checkout_id_for(store_id: str, external_id: str) -> str:
    """Our id of a shop's checkout."""
    return str(uuid5(_ID_NAMESPACE, json.dumps(["checkout", store_id, external_id])))


def cart_snapshot(cart: ShopCart, *, version: int) -> CartUpdated:
    """The cart as stored at `version`, unknown fields included."""
    body = cart.model_dump()
    external_id = body.pop("cart_id")
    return CartUpdated.model_validate(
        {
            **body,
            "cart_id": cart_id_for(cart.store_id, external_id),
            "external_id": external_id,
            "version": version,
        }
    )


def checkout_snapshot(checkout: ShopCheckout, *, version: int) -> CheckoutSnapshot:
    """The checkout as stored at `version`, unknown fields included."""
    body = checkout.model_dump()
    external_id = body.pop("checkout_id")
    cart_external_id = body.pop("cart_id")
    return CheckoutSnapshot.model_validate(
        {
            **body,
            "checkout_id": checkout_id_for(checkout.store_id, external_id),
            "external_id": external_id,
            "cart_id": (
                cart_id_for(checkout.store_id, cart_external_id) if cart_external_id else None
            ),
            "cart_external_id": cart_external_id,
            "version": version,
        }
    )


def cart_updated(data: CartUpdated) -> CloudEvent[Any]:
    """`crm.cart.updated` for one stored revision; its id is derived from the cart and version,
    so a revision can never be announced twice under different ids."""
    return CART_UPDATED.event(
        data,
        source=SOURCE,
        id=str(uuid5(UUID(data.cart_id), f"{data.version}/{CART_UPDATED.type}")),
        time=data.updated_at,
    )


def checkout_started(data: CheckoutSnapshot) -> CloudEvent[Any]:
    """`crm.checkout.started`, once per checkout."""
    return CHECKOUT_STARTED.event(
        CheckoutStarted.model_validate(data.model_dump()),
        source=SOURCE,
        id=str(uuid5(UUID(data.checkout_id), CHECKOUT_STARTED.type)),
        time=data.updated_at,
    )


def checkout_abandoned(data: CheckoutSnapshot, *, at: datetime) -> CloudEvent[Any]:
    """`crm.checkout.abandoned`, once per checkout."""
    return CHECKOUT_ABANDONED.event(
        CheckoutAbandoned.model_validate({**data.model_dump(), "abandoned_at": at}),
        source=SOURCE,
        id=str(uuid5(UUID(data.checkout_id), CHECKOUT_ABANDONED.type)),
        time=at,
    )
