from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from analytics.deps import SessionsDep
from analytics.reports import service, tables
from analytics.reports.schemas import (
    CohortRow,
    CohortsReport,
    ProductRow,
    ProductsQuery,
    ProductsReport,
    ReportQuery,
    SalesQuery,
    SalesReport,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"])


def _responses(what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {tables.CSV: {"schema": {"type": "string"}}}, "description": what},
        409: {"description": "the window holds more than one currency"},
    }


AcceptHeader = Annotated[str | None, Header(alias="accept", include_in_schema=False)]


def _wants_csv(accept: str | None) -> bool:
    return accept is not None and tables.CSV in accept.lower()


def _csv(text: str) -> Response:
    return Response(text, media_type=f"{tables.CSV}; charset=utf-8")


@router.get(
    "/sales", response_model=SalesReport, responses=_responses("The sales report (JSON, or CSV)")
)
async def read_sales(
    query: Annotated[SalesQuery, Query()], sessions: SessionsDep, accept: AcceptHeader = None
) -> Any:
    """Sales, orders and buyers of a store over [from, to): totals, a series by `granularity`,
    and the `compare` window's totals."""
    async with sessions() as session:
        report = await service.sales_report(session=session, query=query)
    if _wants_csv(accept):
        return _csv(tables.to_csv(tables.SALES_COLUMNS, tables.sales_rows(report)))
    return report


@router.get(
    "/products",
    response_model=ProductsReport,
    responses=_responses("The products report (JSON, or CSV)"),
)
async def read_products(
    query: Annotated[ProductsQuery, Query()], sessions: SessionsDep, accept: AcceptHeader = None
) -> Any:
    """The store's top SKUs over [from, to) by net sales or units."""
    async with sessions() as session:
        report = await service.products_report(session=session, query=query)
    if _wants_csv(accept):
        return _csv(tables.to_csv(tuple(ProductRow.model_fields), tables.products_rows(report)))
    return report


@router.get(
    "/cohorts",
    response_model=CohortsReport,
    responses=_responses("The cohorts report (JSON, or CSV)"),
)
async def read_cohorts(
    query: Annotated[ReportQuery, Query()], sessions: SessionsDep, accept: AcceptHeader = None
) -> Any:
    """Monthly acquisition cohorts first seen in the months of [from, to), by months since
    their first order."""
    async with sessions() as session:
        report = await service.cohorts_report(session=session, query=query)
    if _wants_csv(accept):
        return _csv(tables.to_csv(tuple(CohortRow.model_fields), tables.cohorts_rows(report)))
    return report
