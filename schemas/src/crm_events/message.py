"""Message and coupon events that campaign publishes on `crm.messages.v1`.

A message is one send of one template to one customer on one channel, from a one-off campaign
or a flow step. Its events follow it through delivery and engagement; each names the message and
the customer, who is the Kafka key (and CloudEvent `subject`), so one customer's events stay in
order. `occurred_at` is when it happened at the provider (an open is reported minutes later), and
the envelope's `time` when campaign published it.

Analytics reads these for campaign reports (sent, delivered, opened, clicked, unsubscribed,
attributed revenue net of refunds, lift against the holdout); customer-profile puts them on the
timeline and takes `crm.message.unsubscribed` as the customer withdrawing marketing consent for
that channel. No event carries an address, a subject line, a body or a link's URL.
"""

from enum import StrEnum
from typing import Any

from crm_common.contracts import EventContract
from pydantic import Field

from crm_events._base import ContractModel
from crm_events.topics import CRM_MESSAGES
from crm_events.types import Currency, Money, NonEmptyStr, UtcDatetime

__all__ = [
    "COUPON_ISSUED",
    "COUPON_REDEEMED",
    "MESSAGE_BOUNCED",
    "MESSAGE_CLICKED",
    "MESSAGE_COMPLAINED",
    "MESSAGE_CONTRACTS",
    "MESSAGE_CONVERSION_ATTRIBUTED",
    "MESSAGE_DELIVERED",
    "MESSAGE_OPENED",
    "MESSAGE_SENT",
    "MESSAGE_UNSUBSCRIBED",
    "MESSAGE_WITHHELD",
    "AttributionModel",
    "BounceKind",
    "CouponIssued",
    "CouponRedeemed",
    "MessageBounced",
    "MessageChannel",
    "MessageClicked",
    "MessageComplained",
    "MessageConversionAttributed",
    "MessageDelivered",
    "MessageEvent",
    "MessageOpened",
    "MessagePurpose",
    "MessageSent",
    "MessageUnsubscribed",
    "MessageWithheld",
    "WithheldReason",
]


class MessageChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    WEBHOOK = "webhook"


class MessagePurpose(StrEnum):
    MARKETING = "marketing"
    """Campaigns, offers, newsletters: needs the customer's marketing consent for the channel."""
    TRANSACTIONAL = "transactional"
    """About the customer's own order, account or ticket."""


class MessageEvent(ContractModel):
    """What every message event names: the message, its customer and where it came from."""

    message_id: NonEmptyStr
    """campaign's id of this one send."""
    customer_id: NonEmptyStr
    """customer-profile's id: the Kafka key and CloudEvent subject."""
    store_id: str | None = None
    channel: MessageChannel
    purpose: MessagePurpose = MessagePurpose.MARKETING
    campaign_id: str | None = None
    """The one-off campaign that sent it; null for a flow's message."""
    flow_id: str | None = None
    """The flow (abandoned cart, welcome, win-back, ...) that sent it; null for a campaign's."""
    step_id: str | None = None
    """The flow step that sent it."""
    template_id: str | None = None
    experiment_id: str | None = None
    """The A/B test the message took part in, if any."""
    variant: str | None = None
    """The experiment's variant this customer got."""
    occurred_at: UtcDatetime
    """When it happened (at the provider for delivery and engagement)."""


class MessageSent(MessageEvent):
    """The message was handed to the channel's provider."""


class MessageDelivered(MessageEvent):
    """The provider reports the message delivered."""


class MessageOpened(MessageEvent):
    """The customer opened the message (email: the tracking pixel loaded)."""

    machine_open: bool = False
    """True when the open came from a mail client fetching images by itself (Apple Mail
    Privacy Protection and the like), not from the customer: reports may leave these out."""


class MessageClicked(MessageEvent):
    """The customer followed a link of the message."""

    link_id: str | None = None
    """Which link of the template (never the URL, which may hold a personal token)."""


class BounceKind(StrEnum):
    HARD = "hard"
    """Permanent: the address does not exist; campaign sends it nothing more."""
    SOFT = "soft"
    """Temporary: a full mailbox, a server down."""


class MessageBounced(MessageEvent):
    """The provider could not deliver the message."""

    bounce: BounceKind
    reason: str | None = None
    """The provider's diagnostic (an SMTP reply, say), without the address."""


class MessageComplained(MessageEvent):
    """The customer reported the message as spam; campaign stops marketing on the channel."""


class MessageUnsubscribed(MessageEvent):
    """The customer unsubscribed through the message (its unsubscribe link or header, a STOP
    reply): they withdraw marketing consent for `channel`, which customer-profile records."""


class WithheldReason(StrEnum):
    HOLDOUT = "holdout"
    """The customer is in the campaign's or experiment's control group."""
    NO_CONSENT = "no_consent"
    FREQUENCY_CAP = "frequency_cap"
    QUIET_HOURS = "quiet_hours"
    """Deferred to the end of the customer's quiet hours; a `sent` follows."""
    SUPPRESSED = "suppressed"
    """A hard bounce, a complaint or an erased customer."""


class MessageWithheld(MessageEvent):
    """A message the customer would have got was not sent. Holdout members are the baseline
    against which campaign lift is measured."""

    reason: WithheldReason


class AttributionModel(StrEnum):
    LAST_CLICK = "last_click"
    LAST_OPEN = "last_open"
    LAST_SEND = "last_send"


class MessageConversionAttributed(MessageEvent):
    """An order is credited to the message: the customer's last click (else open, else send)
    within the attribution window before the order was placed. Revenue net of refunds comes
    from the order's own events on `crm.orders.v1`."""

    order_id: NonEmptyStr
    """order-sync's id of the order."""
    total: Money
    """The order's total when it was placed."""
    currency: Currency
    model: AttributionModel
    window_hours: int = Field(ge=1)
    """How long after the message an order still counted for it."""


class CouponIssued(ContractModel):
    """campaign gave the customer a coupon code."""

    coupon_id: NonEmptyStr
    customer_id: NonEmptyStr
    store_id: str | None = None
    code: NonEmptyStr
    """The code the customer types at checkout."""
    message_id: str | None = None
    """The message that carried it."""
    campaign_id: str | None = None
    flow_id: str | None = None
    discount_percent: int | None = Field(default=None, ge=1, le=100)
    discount_amount: Money | None = None
    currency: Currency | None = None
    """The currency of `discount_amount`."""
    expires_at: UtcDatetime | None = None
    occurred_at: UtcDatetime


class CouponRedeemed(ContractModel):
    """An order used the customer's coupon code."""

    coupon_id: NonEmptyStr
    customer_id: NonEmptyStr
    store_id: str | None = None
    code: NonEmptyStr
    order_id: NonEmptyStr
    occurred_at: UtcDatetime


_SENT: dict[str, Any] = {
    "message_id": "0b8f6a52-52e5-4a43-9d1b-6a3f39d0c1a7",
    "customer_id": "7f3c1b9e-2d4a-4c6b-8e0f-1a2b3c4d5e6f",
    "store_id": "demo",
    "channel": "email",
    "purpose": "marketing",
    "campaign_id": None,
    "flow_id": "abandoned-cart",
    "step_id": "reminder-1",
    "template_id": "cart-reminder",
    "experiment_id": "subject-test",
    "variant": "b",
    "occurred_at": "2026-11-01T11:00:00Z",
}
_ORDER_ID = "5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61"


def _contract(event_type: str, model: type[Any], example: dict[str, Any]) -> EventContract[Any]:
    return EventContract(
        type=event_type,
        version=1,
        domain="message",
        model=model,
        topic=CRM_MESSAGES,
        example=example,
        key="customer_id",
        source="campaign",
    )


MESSAGE_SENT = _contract("crm.message.sent", MessageSent, _SENT)
MESSAGE_DELIVERED = _contract(
    "crm.message.delivered", MessageDelivered, {**_SENT, "occurred_at": "2026-11-01T11:00:02Z"}
)
MESSAGE_OPENED = _contract(
    "crm.message.opened",
    MessageOpened,
    {**_SENT, "machine_open": False, "occurred_at": "2026-11-01T12:14:00Z"},
)
MESSAGE_CLICKED = _contract(
    "crm.message.clicked",
    MessageClicked,
    {**_SENT, "link_id": "cart-button", "occurred_at": "2026-11-01T12:15:00Z"},
)
MESSAGE_BOUNCED = _contract(
    "crm.message.bounced",
    MessageBounced,
    {**_SENT, "bounce": "hard", "reason": "550 5.1.1 user unknown"},
)
MESSAGE_COMPLAINED = _contract("crm.message.complained", MessageComplained, _SENT)
MESSAGE_UNSUBSCRIBED = _contract("crm.message.unsubscribed", MessageUnsubscribed, _SENT)
MESSAGE_WITHHELD = _contract(
    "crm.message.withheld", MessageWithheld, {**_SENT, "variant": None, "reason": "holdout"}
)
MESSAGE_CONVERSION_ATTRIBUTED = _contract(
    "crm.message.conversion_attributed",
    MessageConversionAttributed,
    {
        **_SENT,
        "order_id": _ORDER_ID,
        "total": "32.00",
        "currency": "USD",
        "model": "last_click",
        "window_hours": 120,
        "occurred_at": "2026-11-01T12:40:00Z",
    },
)
_COUPON: dict[str, Any] = {
    "coupon_id": "c9a1d8e2-1f0b-4b5a-9c3e-7d6f5e4a3b21",
    "customer_id": _SENT["customer_id"],
    "store_id": "demo",
    "code": "COMEBACK-7Q2K",
    "message_id": _SENT["message_id"],
    "campaign_id": None,
    "flow_id": "win-back",
    "discount_percent": 10,
    "discount_amount": None,
    "currency": None,
    "expires_at": "2026-12-01T00:00:00Z",
    "occurred_at": "2026-11-01T11:00:00Z",
}
COUPON_ISSUED = _contract("crm.coupon.issued", CouponIssued, _COUPON)
COUPON_REDEEMED = _contract(
    "crm.coupon.redeemed",
    CouponRedeemed,
    {
        "coupon_id": _COUPON["coupon_id"],
        "customer_id": _SENT["customer_id"],
        "store_id": "demo",
        "code": _COUPON["code"],
        "order_id": _ORDER_ID,
        "occurred_at": "2026-11-03T09:30:00Z",
    },
)

MESSAGE_CONTRACTS: tuple[EventContract[Any], ...] = (
    MESSAGE_SENT,
    MESSAGE_DELIVERED,
    MESSAGE_OPENED,
    MESSAGE_CLICKED,
    MESSAGE_BOUNCED,
    MESSAGE_COMPLAINED,
    MESSAGE_UNSUBSCRIBED,
    MESSAGE_WITHHELD,
    MESSAGE_CONVERSION_ATTRIBUTED,
    COUPON_ISSUED,
    COUPON_REDEEMED,
)
