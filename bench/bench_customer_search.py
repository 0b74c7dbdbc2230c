"""customer-profile search on one million customers: p50/p99 latency and rows per query kind.

Loads `--customers` customers into a fresh database, set-based: the customers, their identities
(email, phone, a Shopify-sized store reference), tags and traits are generated in batches and
COPYed; the names blind index is one INSERT ... SELECT joining each customer's names to the terms
of the name vocabulary. Personal data is encrypted and digested exactly as the service does it
(with keys made for the run), so the service reads the rows as its own. Then it starts the real
app in process (`customer_profile.main.create_app`, lifespan and all, traced as `serve` runs it)
and sends
`GET /v1/customers:search` through httpx's ASGI transport, `--requests` times per query kind
with random inputs, kinds interleaved, one request at a time; and EXPLAIN ANALYZEs every SELECT
one request of each kind runs, to show which indexes answer it.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_customer_search.py --customers 1000000 --requests 300
    uv run python bench/bench_customer_search.py --keep            # keep the loaded database
    uv run python bench/bench_customer_search.py --database NAME   # reuse it (same --seed)
"""

import argparse
import asyncio
import base64
import contextlib
import gc
import hashlib
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import _harness as harness
import asyncpg
import httpx
from _harness import percentile
from asgi_lifespan import LifespanManager
from crm_common import db
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.telemetry import configure_tracing
from crm_events.customer import IdentityKind
from customer_profile import pii
from customer_profile.config import Settings
from customer_profile.customers.identities import IdentityKey, digest
from customer_profile.customers.models import Customer, CustomerIdentity
from customer_profile.main import MIGRATIONS, create_app
from customer_profile.search import names
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from sqlalchemy import event

BATCH = 50_000
STORE = "bench-store"
NOW = datetime.now(UTC).replace(microsecond=0)
LOADED_TABLES = (
    "customers",
    "customer_identities",
    "customer_name_terms",
    "customer_tags",
    "customer_attributes",
    "customer_erasures",
)
SYLLABLES = (
    "an", "na", "ma", "ri", "el", "jo", "li", "sa", "ka", "to", "mi", "de", "la", "ro",
    "be", "ni", "ta", "lu", "ha", "so", "vi", "ke", "da", "mo", "le", "ti", "ar", "en",
    "ol", "is", "ze", "yu", "fa", "go", "pe", "qu", "wi", "xa", "ch", "st", "br", "th",
)  # fmt: skip
TAGS = (
    "newsletter", "vip", "wholesale", "b2b", "gift-buyer", "returns-often", "loyalty-gold",
    "loyalty-silver", "influencer", "staff", "early-adopter", "black-friday", "eco", "bulk",
    "reseller", "press", "beta", "churn-risk", "high-value", "first-timer",
)  # fmt: skip
STAGES = ("prospect", "new", "active", "at_risk", "lapsed", "churned")


@dataclass(frozen=True)
class Person:
    customer_id: str
    first: int
    last: int
    email: str
    phone: str
    external_id: str
    tags: tuple[str, ...]
    state: str
    """`live`, `merged` or `erased`."""


@dataclass
class Vocabulary:
    first: list[str]
    last: list[str]
    first_weights: list[float]
    last_weights: list[float]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 4)))).title()


def vocabulary(rng: random.Random) -> Vocabulary:
    """Names as a shop sees them: a few very common, a long tail of rare ones (Zipf-like)."""
    first = sorted({_name(rng) for _ in range(900)})[:600]
    last = sorted(
        {_name(rng) + rng.choice(("", "son", "er", "ez", "ová", "sen")) for _ in range(4000)}
    )
    rng.shuffle(first)
    rng.shuffle(last)
    return Vocabulary(
        first,
        last,
        [1 / (r + 1) ** 0.9 for r in range(len(first))],
        [1 / (r + 1) ** 0.8 for r in range(len(last))],
    )


def _ascii(name: str) -> str:
    return name.encode("ascii", "ignore").decode().lower()


AREAS = (212, 312, 415, 646, 718, 917)


def people(count: int, vocab: Vocabulary, rng: random.Random) -> list[Person]:
    firsts = rng.choices(range(len(vocab.first)), vocab.first_weights, k=count)
    lasts = rng.choices(range(len(vocab.last)), vocab.last_weights, k=count)
    tag_weights = [1 / (r + 1) ** 1.3 for r in range(len(TAGS))]
    found = []
    for i in range(count):
        roll = rng.random()
        state = "erased" if roll < 0.001 else "merged" if roll < 0.006 else "live"
        tags = tuple(sorted(set(rng.choices(TAGS, tag_weights, k=rng.choice((0, 0, 1, 1, 2, 3))))))
        found.append(
            Person(
                customer_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                first=firsts[i],
                last=lasts[i],
                email=f"{_ascii(vocab.first[firsts[i]])}.{_ascii(vocab.last[lasts[i]])}.{i}"
                "@example.com",
                # Unique for up to 48 million customers: area, exchange and line from i.
                phone=f"+1{AREAS[i % 6]}{200 + (i // 6) % 800}{(i // 4800) % 10_000:04d}",
                external_id=str(5_000_000_000_000_000 + i),
                tags=tags if state == "live" else (),
                state=state,
            )
        )
    return found


def _stats(rng: random.Random) -> tuple[int, datetime | None, datetime | None]:
    """orders_count, first and last order: 2% prospects; the rest spread over three years."""
    if rng.random() < 0.02:
        return 0, None, None
    count = min(1 + int(rng.expovariate(0.45)), 60)
    last = NOW - timedelta(days=rng.random() ** 1.6 * 1100, seconds=rng.randint(0, 86_399))
    first = last - timedelta(days=0 if count == 1 else rng.random() * 900)
    return count, first, last


def _purpose(table: Any, column: str) -> str:
    purpose: str = table.c[column].type.purpose
    return purpose


class Loader:
    """COPY the generated rows, batch by batch, with the service's encryption and digests."""

    def __init__(self, connection: asyncpg.Connection, vocab: Vocabulary, seed: int) -> None:
        self.connection = connection
        self.vocab = vocab
        self.rng = random.Random(seed + 1)
        customers = Customer.__table__  # type: ignore[attr-defined]
        self.email_purpose = _purpose(customers, "email")
        self.phone_purpose = _purpose(customers, "phone")
        # One ciphertext per distinct name, copied to every customer of that name: it decrypts
        # the same (encrypting each copy anew would only cost load time).
        self.first_cipher = [
            pii.encrypt_text(_purpose(customers, "first_name"), n) for n in vocab.first
        ]
        self.last_cipher = [
            pii.encrypt_text(_purpose(customers, "last_name"), n) for n in vocab.last
        ]
        identities = CustomerIdentity.__table__  # type: ignore[attr-defined]
        self.identity_purpose = _purpose(identities, "normalised_value")

    async def customers(self, batch: Sequence[Person], survivors: Sequence[str]) -> None:
        rows = []
        for person in batch:
            count, first, last = _stats(self.rng)
            erased = person.state == "erased"
            rows.append(
                (
                    person.customer_id,
                    None if erased else pii.encrypt_text(self.email_purpose, person.email),
                    None if erased else pii.encrypt_text(self.phone_purpose, person.phone),
                    None if erased else self.first_cipher[person.first],
                    None if erased else self.last_cipher[person.last],
                    False,
                    count,
                    Decimal(count * 37) + Decimal("0.50") if count else Decimal(0),
                    "USD" if count else None,
                    first,
                    last,
                    1,
                    first or NOW - timedelta(days=30),
                    last or NOW - timedelta(days=30),
                    self.rng.choice(survivors) if person.state == "merged" else None,
                )
            )
        await self.connection.copy_records_to_table(
            "customers",
            records=rows,
            columns=[
                "customer_id", "email", "phone", "first_name", "last_name", "accepts_marketing",
                "orders_count", "total_spent", "currency", "first_order_at", "last_order_at",
                "version", "created_at", "updated_at", "merged_into",
            ],
        )  # fmt: skip

    async def identities(self, batch: Sequence[Person]) -> None:
        rows = []
        for person in batch:
            if person.state != "live":
                continue  # merged: moved to their survivor; erased: deleted
            for key in (
                IdentityKey(IdentityKind.EMAIL, person.email),
                IdentityKey(IdentityKind.PHONE, person.phone),
                IdentityKey(IdentityKind.STORE_REF, person.external_id, STORE),
            ):
                rows.append(
                    (
                        key.kind.value,
                        key.store_id or "",
                        digest(key),
                        pii.encrypt_text(self.identity_purpose, key.value),
                        person.customer_id,
                        NOW - timedelta(days=400),
                    )
                )
        await self.connection.copy_records_to_table(
            "customer_identities",
            records=rows,
            columns=["kind", "store_id", "value", "normalised_value", "customer_id", "linked_at"],
        )

    async def tags_and_traits(self, batch: Sequence[Person]) -> None:
        tags = [
            (tag, person.customer_id, NOW - timedelta(days=10), None)
            for person in batch
            for tag in person.tags
        ]
        await self.connection.copy_records_to_table(
            "customer_tags", records=tags, columns=["tag", "customer_id", "added_at", "merge_id"]
        )
        purpose = "customer_attributes.traits"
        traits = [
            (
                person.customer_id,
                pii.encrypt_json(purpose, {"size": self.rng.choice("SML"), "lang": "en"}),
                NOW - timedelta(days=10),
                NOW - timedelta(days=10),
            )
            for person in batch
            if person.state == "live" and self.rng.random() < 0.1
        ]
        await self.connection.copy_records_to_table(
            "customer_attributes",
            records=traits,
            columns=["customer_id", "traits", "traits_updated_at", "updated_at"],
        )

    async def erasures(self, everyone: Sequence[Person]) -> None:
        rows = [
            (p.customer_id, NOW - timedelta(days=5), "bench", None)
            for p in everyone
            if p.state == "erased"
        ]
        await self.connection.copy_records_to_table(
            "customer_erasures",
            records=rows,
            columns=["customer_id", "erased_at", "erased_by", "erased_with"],
        )

    async def name_terms(self, everyone: Sequence[Person]) -> None:
        """The blind index, set-based: each live customer's names joined to their terms."""
        vocabulary_terms = [
            (side, index, term)
            for side, words in ((0, self.vocab.first), (1, self.vocab.last))
            for index, word in enumerate(words)
            for term in names.terms(word)
        ]
        await self.connection.execute(
            "CREATE TEMPORARY TABLE bench_terms (side smallint, idx int, term bytea);"
            "CREATE TEMPORARY TABLE bench_names (customer_id text, first_idx int, last_idx int)"
        )
        await self.connection.copy_records_to_table("bench_terms", records=vocabulary_terms)
        await self.connection.copy_records_to_table(
            "bench_names",
            records=[(p.customer_id, p.first, p.last) for p in everyone if p.state == "live"],
        )
        await self.connection.execute("SET work_mem = '512MB'")
        # Sorted like the primary key, so that the rows arrive in index order; DISTINCT: a
        # prefix of the first name may also be one of the last name.
        await self.connection.execute(
            """
            INSERT INTO customer_name_terms (term, customer_id)
            SELECT DISTINCT term, customer_id FROM (
                SELECT t.term, n.customer_id
                FROM bench_names n JOIN bench_terms t ON t.side = 0 AND t.idx = n.first_idx
                UNION ALL
                SELECT t.term, n.customer_id
                FROM bench_names n JOIN bench_terms t ON t.side = 1 AND t.idx = n.last_idx
            ) AS both_names
            ORDER BY term, customer_id
            """
        )
        await self.connection.execute("RESET work_mem")


@contextlib.asynccontextmanager
async def secondary_indexes_dropped(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """Load without maintaining the indexes that are not primary keys; rebuild them after."""
    rows = await connection.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        list(LOADED_TABLES),
    )
    for row in rows:
        await connection.execute(f'DROP INDEX "{row["indexname"]}"')
    try:
        yield
    finally:
        await connection.execute("SET maintenance_work_mem = '512MB'")
        for row in rows:
            await connection.execute(row["indexdef"])


async def load(
    database_url: str, everyone: list[Person], vocab: Vocabulary, seed: int
) -> dict[str, float]:
    """Load the generated customers; returns seconds per phase."""
    timings: dict[str, float] = {}
    count = len(everyone)
    live = [p.customer_id for p in everyone if p.state == "live"]
    connection = await asyncpg.connect(database_url)
    try:
        # Foreign keys are checked by construction here, not row by row.
        await connection.execute("SET session_replication_role = replica")
        loader = Loader(connection, vocab, seed)
        async with secondary_indexes_dropped(connection):
            for name, step in (
                ("customers", lambda b: loader.customers(b, live)),
                ("identities", loader.identities),
                ("tags and traits", loader.tags_and_traits),
            ):
                started = time.perf_counter()
                for offset in range(0, count, BATCH):
                    await step(everyone[offset : offset + BATCH])
                timings[name] = time.perf_counter() - started
            started = time.perf_counter()
            await loader.erasures(everyone)
            await loader.name_terms(everyone)
            timings["name terms"] = time.perf_counter() - started
            started = time.perf_counter()
        timings["indexes"] = time.perf_counter() - started
        await connection.execute("SET session_replication_role = origin")
        started = time.perf_counter()
        # The visibility map lets the searches read their indexes only.
        for table in LOADED_TABLES:
            await connection.execute(f"VACUUM (ANALYZE) {table}")
        timings["vacuum analyze"] = time.perf_counter() - started
    finally:
        await connection.close()
    return timings


@dataclass
class Samples:
    """What the queries draw their random inputs from: values that exist, and a few that do not."""

    people: list[Person]
    vocab: Vocabulary
    rng: random.Random

    def person(self) -> Person:
        while True:
            found = self.rng.choice(self.people)
            if found.state == "live":
                return found

    def prefix(self) -> str:
        person = self.person()
        word = self.rng.choice((self.vocab.first[person.first], self.vocab.last[person.last]))
        return word[: self.rng.choice((1, 2, 2, 3, 3, 4, 5, 6))]

    def full_name_prefixes(self) -> str:
        person = self.person()
        first, last = self.vocab.first[person.first], self.vocab.last[person.last]
        return f"{first[: self.rng.randint(1, 4)]} {last[: self.rng.randint(1, 4)]}"

    def tag(self) -> str:
        return self.rng.choice(TAGS)

    def stage(self) -> str:
        return self.rng.choice(STAGES)


def query_kinds(samples: Samples) -> dict[str, Callable[[], dict[str, Any]]]:
    def miss_or(hit: Callable[[], dict[str, Any]], miss: dict[str, Any]) -> dict[str, Any]:
        return miss if samples.rng.random() < 0.1 else hit()

    return {
        "email": lambda: miss_or(
            lambda: {"email": samples.person().email.upper()}, {"email": "no-one@example.com"}
        ),
        "phone": lambda: {"phone": samples.person().phone},
        "store reference": lambda: {"store_id": STORE, "external_id": samples.person().external_id},
        "name prefix": lambda: {"name": samples.prefix()},
        "name, two words": lambda: {"name": samples.full_name_prefixes()},
        "tag": lambda: {"tag": samples.tag()},
        "two tags": lambda: {"tag": [samples.tag(), samples.tag()]},
        "stage": lambda: {"stage": samples.stage()},
        "tag + stage": lambda: {"tag": samples.tag(), "stage": samples.stage()},
        "name + tag": lambda: {"name": samples.prefix(), "tag": samples.tag()},
        "name + stage": lambda: {"name": samples.prefix(), "stage": samples.stage()},
    }


@dataclass
class Measured:
    seconds: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    pages: int = 0
    """Requests that had a next page."""
    slowest: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


class Capture:
    """The SQL the app sends while `on`: what EXPLAIN ANALYZE replays."""

    def __init__(self) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, *args: Any) -> None:
        # before_cursor_execute(conn, cursor, statement, parameters, context, executemany)
        statement, parameters = args[2], args[3]
        # The outbox relay polls on the same engine meanwhile: not the search's. The search is
        # one statement starting `WITH` (its page, the audit of the page, the rows).
        query = statement.lstrip().upper().startswith(("SELECT", "WITH"))
        if self.on and query and "outbox_events" not in statement:
            self.statements.append((statement, parameters))


def _scans(plan: dict[str, Any]) -> list[str]:
    found = []
    node = plan.get("Node Type", "")
    if "Scan" in node:
        target = plan.get("Index Name") or plan.get("Relation Name") or ""
        found.append(f"{node} {target}".strip())
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def explain(
    database_url: str, statements: Sequence[tuple[str, Any]]
) -> tuple[list[str], float]:
    """Every scan of the captured statements, and their total execution time (ms)."""
    connection = await asyncpg.connect(database_url)
    scans: list[str] = []
    total = 0.0
    try:
        for statement, parameters in statements:
            # Rolled back: the search statement also writes its audit entries.
            transaction = connection.transaction()
            await transaction.start()
            try:
                plan = await connection.fetchval(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *(parameters or ())
                )
            finally:
                await transaction.rollback()
            document = json.loads(plan)[0]
            scans += _scans(document["Plan"])
            total += document["Execution Time"]
    finally:
        await connection.close()
    return scans, total


async def measure(
    database_url: str,
    everyone: list[Person],
    vocab: Vocabulary,
    requests: int,
    seed: int,
    bootstrap: str,
    workdir: Path,
) -> tuple[dict[str, Measured], dict[str, tuple[list[str], float]]]:
    private_key, public_key = ensure_key_pair(workdir / "jwt")
    suffix = secrets.token_hex(4)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        jwt_public_key=public_key.read_text(),
        orders_topic=f"bench.crm.orders.{suffix}",
        customers_topic=f"bench.crm.customers.{suffix}",
        activity_topic=f"bench.shop.activity.{suffix}",
        messages_topic=f"bench.crm.messages.{suffix}",
        tickets_topic=f"bench.crm.tickets.{suffix}",
        consumer_group=f"bench-customer-profile-{suffix}",
        kafka_topic_partitions=1,
        scoring_nightly=False,
    )
    token = issue_token(private_key.read_text(), subject="bench", roles=["viewer"])
    # As `crm_common.service.serve` runs the service (its JSON logs aside): traced, database
    # calls included, and the collector kept off everything built at start.
    configure_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    app = create_app(settings)
    gc.freeze()
    capture = Capture()
    event.listen(app.state.runtime.engine.sync_engine, "before_cursor_execute", capture)
    samples = Samples(everyone, vocab, random.Random(seed + 2))
    kinds = query_kinds(samples)
    results = {kind: Measured() for kind in kinds}
    plans: dict[str, tuple[list[str], float]] = {}
    async with (
        LifespanManager(app, startup_timeout=120, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://customer-profile",
            headers={"authorization": f"Bearer {token}"},
        ) as client,
    ):

        async def search(params: dict[str, Any]) -> dict[str, Any]:
            response = await client.get("/v1/customers:search", params=params)
            if response.status_code != 200:
                raise RuntimeError(f"{params}: {response.status_code} {response.text}")
            page: dict[str, Any] = response.json()
            return page

        for kind, make in kinds.items():  # warm up, and capture one request's SQL per kind
            for _ in range(20):
                await search(make())
            capture.statements, capture.on = [], True
            await search(make())
            capture.on = False
            plans[kind] = await explain(database_url, capture.statements)
        for _ in range(requests):
            for kind, make in kinds.items():
                params = make()
                started = time.perf_counter()
                page = await search(params)
                elapsed = time.perf_counter() - started
                results[kind].seconds.append(elapsed)
                slowest = [*results[kind].slowest, (elapsed, params)]
                results[kind].slowest = sorted(slowest, key=lambda item: item[0])[-3:]
                results[kind].rows.append(len(page["items"]))
                results[kind].pages += page["next_cursor"] is not None
    return results, plans


def report(
    count: int,
    results: dict[str, Measured],
    plans: dict[str, tuple[list[str], float]],
    timings: dict[str, float],
) -> str:
    lines = [
        f"customer-profile search: {count:,} customers, page size 50, one request at a time",
        "",
        "| query | requests | p50 ms | p99 ms | max ms | rows (mean) | full pages | SQL ms "
        "| scans (one request, EXPLAIN ANALYZE) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind, measured in results.items():
        ms = [s * 1000 for s in measured.seconds]
        scans = sorted(set(plans[kind][0]))
        lines.append(
            f"| {kind} | {len(ms)} | {percentile(ms, 0.5):.1f} | {percentile(ms, 0.99):.1f} "
            f"| {max(ms):.1f} | {statistics.fmean(measured.rows):.1f} | {measured.pages} "
            f"| {plans[kind][1]:.2f} | {'; '.join(scans)} |"
        )
    if timings:
        lines += ["", "load: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())]
    seq = sorted({s for kind in plans for s in plans[kind][0] if s.startswith("Seq Scan")})
    lines.append("sequential scans: " + (", ".join(seq) if seq else "none"))
    return "\n".join(lines)


def bench_keys(seed: int) -> dict[str, str]:
    """PII keys for the run, derived from the seed so that `--database` can reuse a load."""

    def key(label: str) -> str:
        return base64.b64encode(hashlib.sha256(f"bench-{seed}-{label}".encode()).digest()).decode()

    return {
        "CUSTOMER_PROFILE_PII_KEYS": json.dumps({"bench": key("data")}),
        "CUSTOMER_PROFILE_PII_ACTIVE_KEY": "bench",
        "CUSTOMER_PROFILE_PII_LOOKUP_KEY": key("lookup"),
    }


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="per query kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="reuse a database loaded with --keep (same seed)")
    args = parser.parse_args(argv)
    server_url = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    os.environ.update(bench_keys(args.seed))
    pii.configure(pii.Keyring.from_settings(pii.PiiKeySettings()))

    name = args.database or f"bench_customer_search_{secrets.token_hex(4)}"
    database_url = harness.database_url(server_url, name)
    admin = await asyncpg.connect(harness.database_url(server_url, "postgres"))
    timings: dict[str, float] = {}
    try:
        rng = random.Random(args.seed)
        vocab = vocabulary(rng)
        everyone = people(args.customers, vocab, rng)
        if args.database is None:
            await admin.execute(f'CREATE DATABASE "{name}"')
            engine = db.create_engine(database_url, pool_size=1)
            await db.migrate(engine, MIGRATIONS)
            await engine.dispose()
            sys.stderr.write(f"loading {args.customers:,} customers into {name}\n")
            timings = await load(database_url, everyone, vocab, args.seed)
        with tempfile.TemporaryDirectory(prefix="bench-customer-search-") as workdir:
            results, plans = await measure(
                database_url, everyone, vocab, args.requests, args.seed, bootstrap, Path(workdir)
            )
        sys.stdout.write(report(args.customers, results, plans, timings) + "\n")
        for kind, measured in results.items():
            slow = ", ".join(f"{s * 1000:.0f} ms {p}" for s, p in reversed(measured.slowest))
            sys.stderr.write(f"slowest {kind}: {slow}\n")
        sys.stdout.write(
            json.dumps(
                {
                    kind: {
                        "p50_ms": round(percentile(m.seconds, 0.5) * 1000, 2),
                        "p99_ms": round(percentile(m.seconds, 0.99) * 1000, 2),
                        "rows_mean": round(statistics.fmean(m.rows), 1),
                    }
                    for kind, m in results.items()
                }
            )
            + "\n"
        )
    finally:
        if args.keep:
            sys.stderr.write(
                f"kept database {name} (reuse: --database {name} --seed {args.seed})\n"
            )
        elif args.database is None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
