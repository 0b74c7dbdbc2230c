"""Each report as one flat table, for `Accept: text/csv`: the same values as its JSON, as
JSON writes them (decimals as fixed-point strings, null as an empty cell)."""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from analytics.reports.schemas import CohortsReport, ProductsReport, SalesFigures, SalesReport

CSV = "text/csv"

SALES_COLUMNS = ("row", "period_start", "period_end", *SalesFigures.model_fields)


def _cells(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def sales_rows(report: SalesReport) -> list[dict[str, Any]]:
    """A row per period of the series, then `total` for the window and `compare` for the
    compared window."""
    rows = [{"row": "period", **_cells(period)} for period in report.series]
    rows.append(
        {
            "row": "total",
            "period_start": report.start.isoformat(),
            "period_end": report.end.isoformat(),
            **_cells(report.totals),
        }
    )
    if report.compare is not None:
        rows.append(
            {
                "row": "compare",
                "period_start": report.compare.start.isoformat(),
                "period_end": report.compare.end.isoformat(),
                **_cells(report.compare.totals),
            }
        )
    return rows


def products_rows(report: ProductsReport) -> list[dict[str, Any]]:
    return [_cells(product) for product in report.products]


def cohorts_rows(report: CohortsReport) -> list[dict[str, Any]]:
    return [_cells(cohort) for cohort in report.cohorts]


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
