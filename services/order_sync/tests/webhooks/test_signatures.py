"""The platforms' signature test vectors (tests/fixtures/SOURCES.md) and the comparison."""

import base64
from pathlib import Path

import pytest
from order_sync.webhooks import signatures

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LARAVEL_SHOPIFY_SECRET = "0" * 32


def test_shopify_vector_over_the_exact_bytes_of_the_test_notification() -> None:
    body = (FIXTURES / "shopify/orders_test_notification_2017.json").read_bytes()
    key = signatures.shopify_key(LARAVEL_SHOPIFY_SECRET)

    assert len(body) == 5845
    assert signatures.sign(key, body) == "hvTE9wpDzMcDnPEuHWvYZ58ElKn5vHs0LomurfNIuUc="
    assert signatures.verify(key, body, "hvTE9wpDzMcDnPEuHWvYZ58ElKn5vHs0LomurfNIuUc=")
    # One byte less (the trailing newline) is another body with another signature.
    assert signatures.sign(key, body[:-1]) == "8XONphp7SwshFUbEZYyCW+QPYizxuvb4InxnFboivnM="
    assert not signatures.verify(key, body[:-1], "hvTE9wpDzMcDnPEuHWvYZ58ElKn5vHs0LomurfNIuUc=")


def test_shopify_vector_from_sqlpage() -> None:
    body = b'{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}'
    key = signatures.shopify_key("test-webhook-secret")

    signature = signatures.sign(key, body)

    assert signature == "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
    assert base64.b64decode(signature).hex() == (
        "40dc8e6d394a6ccc76a8394f17f64e65c06a8393a03e0fb6a24cb7ce575cd06c"
    )


def test_woocommerce_vector_from_its_core_tests() -> None:
    key = signatures.woocommerce_key("")

    assert signatures.sign(key, b"secret") == "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs",  # truncated
        "gBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs=",  # one letter's case
        "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs=\u00e9",  # not ASCII
    ],
)
def test_anything_but_the_exact_signature_fails(signature: str | None) -> None:
    assert not signatures.verify(signatures.woocommerce_key(""), b"secret", signature)


@pytest.mark.parametrize(
    ("stored", "key"),
    [
        ("plain", b"plain"),
        ("a&amp;b", b"a&b"),
        ("&lt;&gt;&quot;&#039;&#x27;", b"<>\"''"),
        ("&#0060;&#62;&#34;&#X22;&#x26;", b'<>""&'),
        ("&amp;lt;", b"&lt;"),  # decoded once, as PHP does
        ("&#x3C;&apos;&nbsp;", b"&#x3C;&apos;&nbsp;"),  # not among the ones WordPress decodes
    ],
)
def test_woocommerce_signs_with_its_secret_after_wp_specialchars_decode(
    stored: str, key: bytes
) -> None:
    assert signatures.woocommerce_key(stored) == key
