from typing import Annotated

from crm_common.db import transaction
from fastapi import APIRouter, Query

from order_sync.deps import SessionsDep
from order_sync.inventory import service
from order_sync.inventory.exceptions import InvalidStockRequest
from order_sync.inventory.schemas import StockLevelRead, StockLevelSet, StockPage

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])

StoreQuery = Annotated[str, Query(min_length=1, max_length=64)]


# `:path` lets a SKU hold a `/` (sent as %2F).
@router.put("/{sku:path}")
async def set_level(
    sku: str,
    level_in: StockLevelSet,
    sessions: SessionsDep,
    store_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> StockLevelRead:
    """Set the units on hand of `sku` in a store (a stock count); the store is named by the
    `store_id` query parameter or body field (both, if given, must agree)."""
    store = _store_of(store_id, level_in.store_id)
    async with transaction(sessions) as session:
        level = await service.set_level(session=session, store_id=store, sku=sku, level_in=level_in)
    return service.read(level)


@router.get("")
async def list_levels(
    store_id: StoreQuery,
    sessions: SessionsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> StockPage:
    """A store's stock levels by SKU, cursor-paginated (`next_cursor`, null at the end)."""
    async with sessions() as session:
        return await service.list_levels(
            session=session, store_id=store_id, limit=limit, cursor=cursor
        )


@router.get("/{sku:path}", responses={404: {"description": "the SKU is not tracked in that store"}})
async def read_level(sku: str, store_id: StoreQuery, sessions: SessionsDep) -> StockLevelRead:
    """The stock level of `sku` in a store; 404 while the SKU is not tracked there."""
    async with sessions() as session:
        return await service.get_level(session=session, store_id=store_id, sku=sku)


def _store_of(query: str | None, body: str | None) -> str:
    if query is not None and body is not None and query != body:
        raise InvalidStockRequest("store_id", f"the body names {body}, the query {query}")
    store = query if query is not None else body
    if store is None:
        raise InvalidStockRequest("query.store_id", "name the store (query or body store_id)")
    return store
