"""Every write of the roll-ups. Each takes a batch's rows as one array per column and is one
statement: it takes the orders' previous entries out of the roll-ups and puts the new ones
in (`INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x`), so a roll-up row is only ever
adjusted, never recomputed. Local days come from the store's time zone, UTC without one."""

from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.rollups.buyers import BuyerCounts, Piece
from analytics.rollups.entries import LineEntryRow, SalesEntryRow
from analytics.rollups.models import LineEntry, SalesEntry

_BUYER_LOCKS = 8_005_003
_STORE_LOCKS = 8_005_004
_PERIOD_LOCKS = 8_005_005

_LOCK_MANY = text(
    "SELECT count(pg_advisory_xact_lock(:namespace, hashtext(key))) FROM unnest(:keys) AS key"
).bindparams(bindparam("keys", type_=ARRAY(String())))
_SHARE_MANY = text(
    "SELECT count(pg_advisory_xact_lock_shared(:namespace, hashtext(key))) "
    "FROM unnest(:keys) AS key"
).bindparams(bindparam("keys", type_=ARRAY(String())))

_LOCAL_DAY = "(({at}) AT TIME ZONE coalesce(settings.time_zone, 'UTC'))::date"
_SETTINGS = "LEFT JOIN store_settings AS settings ON settings.store_id = {alias}.store_id"


def _arrays(columns: Sequence[str], types: Sequence[str]) -> str:
    return ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(columns, types, strict=True))


_SALES_COLUMNS = SalesEntryRow._fields
_SALES_TYPES = ("text", "integer", "text", "text", "timestamptz", "integer", "integer") + (
    "numeric",
) * 5
_SALES_SUMS = _SALES_COLUMNS[5:]


def _replace(table: str, columns: Sequence[str], types: Sequence[str]) -> str:
    """The CTEs `old` (the orders' stored entries) and `input` (the new ones, stored): the
    entries are upserted by position (an entry unchanged is left alone, as most new versions
    of an order change nothing it sums), and positions no longer there deleted, as a row
    cannot be deleted and inserted again in one statement."""
    listed = ", ".join(columns)
    kept = columns[2:]
    return (
        f"WITH input AS (SELECT * FROM unnest({_arrays(columns, types)}) AS i({listed})), "
        f"old AS (SELECT {listed} FROM {table} WHERE order_id = ANY(CAST(:changed AS text[]))), "
        f"gone AS (DELETE FROM {table} AS e WHERE e.order_id = ANY(CAST(:changed AS text[])) "
        "AND NOT EXISTS (SELECT FROM input WHERE input.order_id = e.order_id "
        "AND input.position = e.position)), "
        f"fresh AS (INSERT INTO {table} ({listed}) SELECT * FROM input "
        "ON CONFLICT (order_id, position) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in kept)
        + f" WHERE ({', '.join(f'{table}.{c}' for c in kept)}) IS DISTINCT FROM "
        f"({', '.join(f'excluded.{c}' for c in kept)})), "
    )


_REPLACE_SALES = text(
    _replace(SalesEntry.__tablename__, _SALES_COLUMNS, _SALES_TYPES) + "delta AS ("
    f"SELECT store_id, currency, at, {', '.join(_SALES_SUMS)} FROM input UNION ALL "
    f"SELECT store_id, currency, at, {', '.join('-' + c for c in _SALES_SUMS)} FROM old) "
    f"INSERT INTO sales_days (store_id, currency, day, {', '.join(_SALES_SUMS)}) "
    f"SELECT delta.store_id, currency, {_LOCAL_DAY.format(at='delta.at')}, "
    + ", ".join(f"sum({c})" for c in _SALES_SUMS)
    + f" FROM delta {_SETTINGS.format(alias='delta')} GROUP BY 1, 2, 3 HAVING "
    + " OR ".join(f"sum({c}) <> 0" for c in _SALES_SUMS)
    + " ON CONFLICT (store_id, currency, day) DO UPDATE SET "
    + ", ".join(f"{c} = sales_days.{c} + excluded.{c}" for c in _SALES_SUMS)
)

_LINE_COLUMNS = LineEntryRow._fields
_LINE_TYPES = ("text", "integer", "text", "text", "timestamptz", "text", "integer") + (
    "numeric",
) * 3
_LINE_SUMS = _LINE_COLUMNS[6:]


def _sku_upsert(table: str, period: str) -> str:
    bucket = "day" if period == "day" else "date_trunc('month', day)"
    return (
        f"INSERT INTO {table} (store_id, currency, {period}, sku, {', '.join(_LINE_SUMS)}) "
        f"SELECT store_id, currency, {bucket}, "
        "sku, " + ", ".join(f"sum({c})" for c in _LINE_SUMS) + " FROM local GROUP BY 1, 2, 3, 4 "
        "HAVING "
        + " OR ".join(f"sum({c}) <> 0" for c in _LINE_SUMS)
        + f" ON CONFLICT (store_id, currency, {period}, sku) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _LINE_SUMS)
    )


_REPLACE_LINES = text(
    _replace(LineEntry.__tablename__, _LINE_COLUMNS, _LINE_TYPES) + "delta AS ("
    f"SELECT store_id, currency, at, sku, {', '.join(_LINE_SUMS)} FROM input UNION ALL "
    f"SELECT store_id, currency, at, sku, {', '.join('-' + c for c in _LINE_SUMS)} FROM old), "
    f"local AS (SELECT delta.store_id, currency, {_LOCAL_DAY.format(at='delta.at')} AS day, "
    f"sku, {', '.join(_LINE_SUMS)} FROM delta {_SETTINGS.format(alias='delta')}), "
    f"days AS ({_sku_upsert('sku_days', 'day')}) " + _sku_upsert("sku_months", "month")
)

# The buyers an order counts for: the one recorded (before the change) and the one its fact
# names now.
_BUYERS_OF = text(
    "SELECT store_id, buyer FROM buyer_orders WHERE order_id = ANY(CAST(:orders AS text[])) "
    "UNION SELECT store_id, coalesce(customer_id, 'ref:' || customer_ref) FROM order_facts "
    "WHERE order_id = ANY(CAST(:orders AS text[])) "
    "AND (customer_id IS NOT NULL OR customer_ref IS NOT NULL)"
)
_BUYERS_OF_STORE = text(
    "SELECT DISTINCT store_id, coalesce(customer_id, 'ref:' || customer_ref) FROM order_facts "
    "WHERE store_id = :store_id AND (customer_id IS NOT NULL OR customer_ref IS NOT NULL) "
    "UNION SELECT DISTINCT store_id, buyer FROM buyer_orders WHERE store_id = :store_id"
)
_ORDER_OF_BUYER = "ORDER BY placed_at, order_id"
_BUYER_COLUMNS = (
    "store_id, currency, net_sales, day, previous_day, second_day, first_day, first_in_month"
)
# The changes `delta` (each row of `buyer_orders` with a sign) make to the cohorts.
_PUT_COHORTS = (
    "INSERT INTO cohort_months (store_id, currency, cohort, month, buyers, orders, net_sales) "
    "SELECT store_id, currency, date_trunc('month', first_day), date_trunc('month', day), "
    "sum(CASE WHEN first_in_month THEN sign ELSE 0 END), sum(sign), sum(sign * net_sales) "
    "FROM delta GROUP BY 1, 2, 3, 4 HAVING sum(CASE WHEN first_in_month THEN sign ELSE 0 END) "
    "<> 0 OR sum(sign) <> 0 OR sum(sign * net_sales) <> 0 "
    "ON CONFLICT (store_id, currency, cohort, month) DO UPDATE SET "
    "buyers = cohort_months.buyers + excluded.buyers, "
    "orders = cohort_months.orders + excluded.orders, "
    "net_sales = cohort_months.net_sales + excluded.net_sales"
)
# Every order of each buyer named, recounted from the facts: the history of a buyer changes
# as a whole when an order is added, moved by a merge or its undo, or placed earlier.
_RECOUNT_BUYERS = text(
    "WITH touched AS (SELECT DISTINCT store_id, buyer FROM unnest(CAST(:store_ids AS text[]), "
    "CAST(:buyers AS text[])) AS t(store_id, buyer)), "
    "held AS (SELECT b.* FROM buyer_orders AS b JOIN touched AS t "
    "ON b.store_id = t.store_id AND b.buyer = t.buyer), "
    f"old AS (SELECT {_BUYER_COLUMNS} FROM held), "
    "bought AS ("
    "SELECT f.order_id, f.store_id, t.buyer, f.currency, f.net_sales, f.placed_at "
    "FROM touched AS t JOIN order_facts AS f ON f.store_id = t.store_id "
    "AND f.customer_id = t.buyer WHERE f.counted UNION ALL "
    "SELECT f.order_id, f.store_id, t.buyer, f.currency, f.net_sales, f.placed_at "
    "FROM touched AS t JOIN order_facts AS f ON f.store_id = t.store_id "
    "AND f.customer_ref = substr(t.buyer, 5) "
    "WHERE t.buyer LIKE 'ref:%' AND f.customer_id IS NULL AND f.counted), "
    f"local AS (SELECT bought.*, {_LOCAL_DAY.format(at='bought.placed_at')} AS day "
    f"FROM bought {_SETTINGS.format(alias='bought')}), "
    "placed AS (SELECT local.*, row_number() OVER buyer AS n, lag(day) OVER buyer AS previous, "
    "first_value(day) OVER buyer AS first, nth_value(day, 2) OVER (buyer ROWS BETWEEN "
    "UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second, "
    "row_number() OVER (PARTITION BY store_id, buyer, date_trunc('month', day) "
    f"{_ORDER_OF_BUYER}) = 1 AS first_in_month FROM local "
    f"WINDOW buyer AS (PARTITION BY store_id, buyer {_ORDER_OF_BUYER})), "
    # A set difference, not an anti-join: `placed` is estimated at a row or two, and an
    # anti-join planned on that rescans it for every row held.
    "gone AS (DELETE FROM buyer_orders AS b USING (SELECT order_id FROM held EXCEPT "
    "SELECT order_id FROM placed) AS left_out WHERE b.order_id = left_out.order_id), "
    "fresh AS (INSERT INTO buyer_orders (order_id, store_id, buyer, currency, net_sales, day, "
    "previous_day, second_day, first_day, first_in_month) "
    "SELECT order_id, store_id, buyer, currency, net_sales, day, "
    "coalesce(previous, '-infinity'), "
    "CASE WHEN n = 1 THEN coalesce(second, 'infinity') ELSE 'infinity' END, "
    f"first, first_in_month FROM placed ON CONFLICT (order_id) DO UPDATE SET "
    "store_id = excluded.store_id, buyer = excluded.buyer, currency = excluded.currency, "
    "net_sales = excluded.net_sales, day = excluded.day, "
    "previous_day = excluded.previous_day, second_day = excluded.second_day, "
    f"first_day = excluded.first_day, first_in_month = excluded.first_in_month "
    f"RETURNING {_BUYER_COLUMNS}), "
    f"delta AS (SELECT {_BUYER_COLUMNS}, 1 AS sign FROM fresh UNION ALL "
    f"SELECT {_BUYER_COLUMNS}, -1 FROM old), "
    # Each order is the pair (its previous day, its day); a first order with a second names
    # the pair of those two days as a second order.
    "pairs AS (SELECT store_id, previous_day AS x, day AS y, sign AS orders, 0 AS seconds "
    "FROM delta UNION ALL SELECT store_id, day, second_day, 0, sign FROM delta "
    "WHERE previous_day = '-infinity' AND second_day < 'infinity'), "
    "grains AS (SELECT store_id, grain, "
    "CASE WHEN grain = 'mm' THEN date_trunc('month', x)::date ELSE x END AS x, "
    "CASE WHEN grain = 'dd' THEN y ELSE date_trunc('month', y)::date END AS y, orders, seconds "
    "FROM pairs CROSS JOIN (VALUES ('dd'), ('dm'), ('mm')) AS g(grain)), "
    # Sorted, so that two transactions adjusting the same rows lock them in one order.
    "put_pairs AS (INSERT INTO buyer_pairs (store_id, grain, x, y, orders, seconds) "
    "SELECT store_id, grain, x, y, sum(orders), sum(seconds) FROM grains GROUP BY 1, 2, 3, 4 "
    "HAVING sum(orders) <> 0 OR sum(seconds) <> 0 ORDER BY 1, 2, 3, 4 "
    "ON CONFLICT (store_id, grain, x, y) DO UPDATE SET "
    "orders = buyer_pairs.orders + excluded.orders, "
    "seconds = buyer_pairs.seconds + excluded.seconds RETURNING store_id, grain, y), "
    "put_gaps AS (INSERT INTO gap_months (store_id, month, gap, orders) "
    "SELECT store_id, date_trunc('month', day)::date, day - previous_day, sum(sign) FROM delta "
    "WHERE previous_day > '-infinity' GROUP BY 1, 2, 3 HAVING sum(sign) <> 0 ORDER BY 1, 2, 3 "
    "ON CONFLICT (store_id, month, gap) DO UPDATE SET "
    "orders = gap_months.orders + excluded.orders), "
    "cohorts AS (" + _PUT_COHORTS + ") "
    # The days whose pairs changed: their periods' figures are refreshed after.
    "SELECT DISTINCT store_id, y FROM put_pairs WHERE grain = 'dd'"
)


# Orders whose facts changed only their currency or net sales: the same place in their buyer's
# history, other amounts in the cohorts.
_RESTATE = text(
    "WITH given AS (SELECT order_id, currency, net_sales FROM order_facts "
    "WHERE order_id = ANY(CAST(:orders AS text[]))), "
    "held AS (SELECT b.* FROM buyer_orders AS b JOIN given USING (order_id)), "
    "fresh AS (UPDATE buyer_orders AS b SET currency = given.currency, "
    "net_sales = given.net_sales FROM given WHERE b.order_id = given.order_id "
    f"RETURNING {', '.join(f'b.{c.strip()}' for c in _BUYER_COLUMNS.split(','))}), "
    f"delta AS (SELECT {_BUYER_COLUMNS}, 1 AS sign FROM fresh UNION ALL "
    f"SELECT {_BUYER_COLUMNS}, -1 FROM held) " + _PUT_COHORTS
)


class Buyer(NamedTuple):
    store_id: str
    buyer: str


async def share_stores(*, session: AsyncSession, store_ids: Iterable[str]) -> None:
    """Hold the stores against a rebuild of their roll-ups until the transaction ends."""
    await _lock(session, _SHARE_MANY, _STORE_LOCKS, store_ids)


async def lock_store(*, session: AsyncSession, store_id: str) -> None:
    """Hold the store alone (every batch touching it waits) until the transaction ends."""
    await _lock(session, _LOCK_MANY, _STORE_LOCKS, [store_id])


async def lock_buyers(*, session: AsyncSession, buyers: Iterable[Buyer]) -> None:
    """Hold the buyers until the transaction ends, so that two transactions recounting one
    buyer take turns and the second sees the first's orders; taken in sorted order."""
    await _lock(session, _LOCK_MANY, _BUYER_LOCKS, (f"{s}\n{b}" for s, b in buyers))


async def _lock(session: AsyncSession, statement: Any, namespace: int, keys: Iterable[str]) -> None:
    ordered = sorted(set(keys))
    if ordered:
        await session.execute(statement, {"namespace": namespace, "keys": ordered})


async def replace_sales_entries(
    *, session: AsyncSession, order_ids: Collection[str], rows: Sequence[SalesEntryRow]
) -> None:
    """Take the orders' stored sales entries out of `sales_days` and put `rows` in instead."""
    if order_ids:
        await session.execute(_REPLACE_SALES, _columns(_SALES_COLUMNS, rows, order_ids))


async def replace_line_entries(
    *, session: AsyncSession, order_ids: Collection[str], rows: Sequence[LineEntryRow]
) -> None:
    """Take the orders' stored line entries out of `sku_days` and `sku_months`, and put `rows`
    in instead."""
    if order_ids:
        await session.execute(_REPLACE_LINES, _columns(_LINE_COLUMNS, rows, order_ids))


def _columns(
    names: Sequence[str], rows: Sequence[tuple[Any, ...]], order_ids: Collection[str]
) -> dict[str, Any]:
    values: dict[str, Any] = {name: [] for name in names}
    if rows:
        values = {
            name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)
        }
    values["changed"] = list(order_ids)
    return values


async def buyers_of(*, session: AsyncSession, order_ids: Collection[str]) -> list[Buyer]:
    """The buyers whose histories these orders are (or were) in."""
    if not order_ids:
        return []
    rows = await session.execute(_BUYERS_OF, {"orders": list(order_ids)})
    return [Buyer(*row) for row in rows.all()]


async def buyers_of_store(*, session: AsyncSession, store_id: str) -> list[Buyer]:
    rows = await session.execute(_BUYERS_OF_STORE, {"store_id": store_id})
    return [Buyer(*row) for row in rows.all()]


async def recount_buyers(
    *, session: AsyncSession, buyers: Sequence[Buyer]
) -> list[tuple[str, date]]:
    """Recount every order of these buyers into `buyer_orders`, `buyer_pairs`, `gap_months`
    and `cohort_months`, taking their previous counts out; returns the (store, day) whose
    pairs changed."""
    if not buyers:
        return []
    changed = await session.execute(
        _RECOUNT_BUYERS,
        {"store_ids": [b.store_id for b in buyers], "buyers": [b.buyer for b in buyers]},
    )
    return [(store_id, day) for store_id, day in changed.all()]


async def restate_buyer_orders(*, session: AsyncSession, order_ids: Collection[str]) -> None:
    """Give these orders' rows in `buyer_orders` their facts' currency and net sales, and
    move the difference in `cohort_months`; the caller holds their buyers locked."""
    if order_ids:
        await session.execute(_RESTATE, {"orders": list(order_ids)})


_PIECES = (
    "WITH pieces AS (SELECT * FROM unnest(CAST(:window AS integer[]), "
    "CAST(:store_id AS text[]), CAST(:kind AS text[]), CAST(:x_from AS date[]), "
    "CAST(:y_from AS date[]), CAST(:y_to AS date[]), CAST(:sign AS integer[])) "
    "AS p(w, store_id, kind, x_from, y_from, y_to, sign)), "
)
# `rollups/buyers.py` says which rows answer what. Each kind of piece is its own join, so that
# each probes the index that fits it: a day's pairs by (y, x), a day's pairs into the months
# by (x, y).
_WINDOW_BUYERS = (
    _PIECES + "by_day AS MATERIALIZED (SELECT p.w, p.x_from, g.x, g.y, "
    "p.sign * g.orders AS orders, p.sign * g.seconds AS seconds "
    "FROM pieces AS p JOIN buyer_pairs AS g ON g.store_id = p.store_id AND g.grain = 'dd' "
    "AND g.y = p.y_from WHERE p.kind = 'day'), "
    "by_month AS (SELECT p.w, p.x_from, g.x, g.orders, g.seconds FROM pieces AS p "
    "JOIN buyer_pairs AS g ON g.store_id = p.store_id AND g.grain = 'mm' "
    "AND g.y >= p.y_from AND g.y < p.y_to WHERE p.kind = 'months'), "
    "from_day AS (SELECT p.w, g.orders, g.seconds FROM pieces AS p "
    "JOIN buyer_pairs AS g ON g.store_id = p.store_id AND g.grain = 'dm' "
    "AND g.x = p.x_from AND g.y >= p.y_from AND g.y < p.y_to WHERE p.kind = 'from_day'), "
    "counted AS ("
    + " UNION ALL ".join(
        f"SELECT w, orders, CASE WHEN x = '-infinity' THEN orders ELSE 0 END AS new, "
        "CASE WHEN x >= x_from THEN orders ELSE 0 END AS inside, "
        f"CASE WHEN x >= x_from THEN seconds ELSE 0 END AS seconds FROM {rows}"
        for rows in ("by_day", "by_month")
    )
    + " UNION ALL SELECT w, 0, 0, orders, seconds FROM from_day), "
    "counts AS (SELECT w, sum(orders) AS orders, sum(new) AS new, sum(inside) AS inside, "
    "sum(seconds) AS seconds FROM counted GROUP BY w), "
    "gaps AS (SELECT w, CASE WHEN x > '-infinity' THEN y - x END AS gap, orders AS n "
    "FROM by_day WHERE x > '-infinity' UNION ALL SELECT p.w, m.gap, m.orders "
    "FROM pieces AS p JOIN gap_months AS m ON m.store_id = p.store_id "
    "AND m.month >= p.y_from AND m.month < p.y_to WHERE p.kind = 'months'), "
    "histogram AS (SELECT w, gap, sum(n) AS n FROM gaps GROUP BY 1, 2 HAVING sum(n) <> 0), "
    "running AS (SELECT w, gap, sum(n) OVER (PARTITION BY w ORDER BY gap) AS upto, "
    "sum(n) OVER (PARTITION BY w) AS total FROM histogram), "
    # The lower median: the first gap with half the orders at or below it.
    "medians AS (SELECT w, min(gap) AS median FROM running WHERE 2 * upto >= total "
    "GROUP BY w), "
    "figures AS (SELECT w, orders - inside AS buyers, new, new - seconds AS one_time, orders, "
    "median FROM counts LEFT JOIN medians USING (w)) "
)
_READ_WINDOWS = text(_WINDOW_BUYERS + "SELECT * FROM figures")
# Every period named is written, a period left without orders as zeros.
_REFRESH_PERIODS = text(
    _WINDOW_BUYERS + ", periods AS (SELECT * FROM unnest(CAST(:period_window AS integer[]), "
    "CAST(:period_store AS text[]), CAST(:granularity AS text[]), "
    "CAST(:period_start AS date[])) AS p(w, store_id, granularity, period_start)) "
    "INSERT INTO buyer_periods (store_id, granularity, period_start, buyers, new_buyers, "
    "one_time_buyers, orders, median_gap_days) "
    "SELECT p.store_id, p.granularity, p.period_start, coalesce(f.buyers, 0), "
    "coalesce(f.new, 0), coalesce(f.one_time, 0), coalesce(f.orders, 0), f.median "
    "FROM periods AS p LEFT JOIN figures AS f USING (w) ORDER BY 1, 2, 3 "
    "ON CONFLICT (store_id, granularity, period_start) DO UPDATE SET "
    "buyers = excluded.buyers, new_buyers = excluded.new_buyers, "
    "one_time_buyers = excluded.one_time_buyers, orders = excluded.orders, "
    "median_gap_days = excluded.median_gap_days"
)


def _piece_columns(found: Sequence[Piece]) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {name: [] for name in Piece._fields}
    for piece in found:
        for name, value in zip(Piece._fields, piece, strict=True):
            values[name].append(value)
    return values


async def window_buyers(
    *, session: AsyncSession, pieces: Sequence[Piece]
) -> dict[int, BuyerCounts]:
    """The buyer figures of each window (by index) the pieces belong to; windows without
    orders are left out."""
    if not pieces:
        return {}
    rows = await session.execute(_READ_WINDOWS, _piece_columns(pieces))
    return {
        w: BuyerCounts(
            buyers=int(buyers),
            new_buyers=int(new),
            one_time_buyers=int(one_time),
            orders=int(orders),
            median_gap_days=median,
        )
        for w, buyers, new, one_time, orders, median in rows.all()
    }


async def refresh_periods(
    *,
    session: AsyncSession,
    periods: Sequence[tuple[str, str, date, date]],
    pieces: Sequence[Piece],
) -> None:
    """Store the buyer figures of these periods (store, granularity, start, end), window i
    of `pieces` being period i. The periods are locked first, so that a transaction
    refreshing one after another's change of it sees that change."""
    if not periods:
        return
    await _lock(
        session,
        _LOCK_MANY,
        _PERIOD_LOCKS,
        (f"{store_id}\n{granularity}\n{start}" for store_id, granularity, start, _ in periods),
    )
    await session.execute(
        _REFRESH_PERIODS,
        {
            **_piece_columns(pieces),
            "period_window": list(range(len(periods))),
            "period_store": [p[0] for p in periods],
            "granularity": [p[1] for p in periods],
            "period_start": [p[2] for p in periods],
        },
    )


_REBUILD = (
    "DELETE FROM sales_days WHERE store_id = :store_id",
    "DELETE FROM sku_days WHERE store_id = :store_id",
    "DELETE FROM sku_months WHERE store_id = :store_id",
    f"INSERT INTO sales_days (store_id, currency, day, {', '.join(_SALES_SUMS)}) "
    f"SELECT e.store_id, currency, {_LOCAL_DAY.format(at='e.at')}, "
    + ", ".join(f"sum({c})" for c in _SALES_SUMS)
    + f" FROM sales_entries AS e {_SETTINGS.format(alias='e')} WHERE e.store_id = :store_id "
    "GROUP BY 1, 2, 3",
    f"WITH local AS (SELECT e.store_id, currency, {_LOCAL_DAY.format(at='e.at')} AS day, sku, "
    f"{', '.join(_LINE_SUMS)} FROM line_entries AS e {_SETTINGS.format(alias='e')} "
    f"WHERE e.store_id = :store_id), days AS ({_sku_upsert('sku_days', 'day')}) "
    + _sku_upsert("sku_months", "month"),
)


async def rebuild_store_days(*, session: AsyncSession, store_id: str) -> None:
    """Sum the store's sales and line entries into its days and months afresh (after its time
    zone changed)."""
    for statement in _REBUILD:
        await session.execute(text(statement), {"store_id": store_id})
