"""Bearer tokens: keys by `kid` from a JWKS document that rotates without a restart, and the
claims checked with a bounded clock skew."""

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from crm_common.auth import JwksKeys, StaticKey, TokenVerifier, issue_token
from crm_common.problems import Unauthorized
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _key_pair() -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private, key.public_key()


KEYS = {name: _key_pair() for name in ("k1", "k2")}


def _jwks(*names: str) -> bytes:
    keys = []
    for name in names:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(KEYS[name][1], as_dict=True)
        keys.append({**jwk, "kid": name, "alg": "RS256", "use": "sig"})
    return json.dumps({"keys": keys}).encode()


def _token(name: str, **claims: Any) -> str:
    return issue_token(KEYS[name][0], subject="someone", roles=["viewer"], key_id=name, **claims)


def _verifier(keys: Any, *, leeway: float = 30.0) -> TokenVerifier:
    return TokenVerifier(
        keys=keys,
        algorithm="RS256",
        issuer="crm-suite",
        audience="crm-suite",
        leeway_seconds=leeway,
    )


async def test_keys_rotate_in_a_jwks_file_without_a_restart(tmp_path: Path) -> None:
    document = tmp_path / "jwks.json"
    document.write_bytes(_jwks("k1"))
    clock = Clock()
    verifier = _verifier(JwksKeys(str(document), max_age=300, min_refetch=30, clock=clock))

    assert (await verifier.verify(_token("k1"))).subject == "someone"
    with pytest.raises(Unauthorized, match=r"unknown key \(k2\)"):
        await verifier.verify(_token("k2"))

    # The provider publishes k2 beside k1: a token naming k2 makes the document be read again,
    # once the last read is old enough that made-up key ids cannot force a read each.
    document.write_bytes(_jwks("k1", "k2"))
    with pytest.raises(Unauthorized, match="unknown key"):
        await verifier.verify(_token("k2"))
    clock.now += 30
    assert (await verifier.verify(_token("k2"))).subject == "someone"

    # Then it withdraws k1: tokens it signed fail once the document is read again.
    document.write_bytes(_jwks("k2"))
    assert (await verifier.verify(_token("k1"))).subject == "someone"
    clock.now += 300
    with pytest.raises(Unauthorized, match=r"unknown key \(k1\)"):
        await verifier.verify(_token("k1"))


@pytest.fixture
def jwks_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = _jwks("k1", "k2")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


async def test_keys_are_read_from_a_jwks_url(jwks_server: str) -> None:
    verifier = _verifier(JwksKeys(jwks_server))
    principals = await asyncio.gather(verifier.verify(_token("k1")), verifier.verify(_token("k2")))
    assert [p.subject for p in principals] == ["someone", "someone"]


async def test_an_unreachable_jwks_refuses_tokens_rather_than_failing() -> None:
    verifier = _verifier(JwksKeys("http://127.0.0.1:1/jwks.json"))
    with pytest.raises(Unauthorized, match="cannot be read"):
        await verifier.verify(_token("k1"))


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"ttl": timedelta(seconds=-10)}, True),  # expired 10 s ago: within the skew
        ({"ttl": timedelta(seconds=-60)}, False),
        ({"not_before": timedelta(seconds=10)}, True),
        ({"not_before": timedelta(seconds=60)}, False),
    ],
)
async def test_exp_and_nbf_are_checked_with_a_bounded_skew(
    claims: dict[str, Any], accepted: bool
) -> None:
    private, public = KEYS["k1"]
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": "someone",
        "roles": [],
        "iss": "crm-suite",
        "aud": "crm-suite",
        "iat": now,
        "exp": now + claims.get("ttl", timedelta(hours=1)),
    }
    if "not_before" in claims:
        payload["nbf"] = now + claims["not_before"]
    token = jwt.encode(payload, private, algorithm="RS256")
    verifier = _verifier(StaticKey(pem), leeway=30)
    if accepted:
        assert (await verifier.verify(token)).subject == "someone"
    else:
        with pytest.raises(Unauthorized):
            await verifier.verify(token)


async def test_a_token_with_another_algorithm_or_audience_is_refused() -> None:
    _, public = KEYS["k1"]
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    verifier = _verifier(StaticKey(pem))
    now = datetime.now(UTC)
    claims = {"sub": "x", "iss": "crm-suite", "aud": "crm-suite", "exp": now + timedelta(hours=1)}
    # The public key used as an HMAC secret: the classic algorithm confusion.
    forged = jwt.encode(claims, "a-secret-long-enough-for-hmac-sha256!", algorithm="HS256")
    with pytest.raises(Unauthorized, match="invalid"):
        await verifier.verify(forged)
    elsewhere = jwt.encode({**claims, "aud": "another-app"}, KEYS["k1"][0], algorithm="RS256")
    with pytest.raises(Unauthorized, match=r"(?i)audience"):
        await verifier.verify(elsewhere)
