import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO

from crm_common.problems import ProblemError
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from customer_profile.bulk import exporter, importer, parsing
from customer_profile.bulk.schemas import ImportReport
from customer_profile.deps import Caller, PolicyDep, SessionsDep
from customer_profile.privacy.deps import CustomersTopic

router = APIRouter(prefix="/v1", tags=["bulk"])


NDJSON = "application/x-ndjson"
_FORMATS = {
    "text/csv": parsing.Format.CSV,
    "application/csv": parsing.Format.CSV,
    "application/x-ndjson": parsing.Format.NDJSON,
    "application/ndjson": parsing.Format.NDJSON,
    "application/jsonl": parsing.Format.NDJSON,
    "application/jsonlines": parsing.Format.NDJSON,
}
# The upload is spooled: in memory up to this size, then in a temporary file.
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
IMPORT_PATH = "/v1/customers:import"
MAX_IMPORT_BYTES = 1024 * 1024 * 1024
"""The request body limit of `IMPORT_PATH` (main.py); larger files are split."""

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            NDJSON: {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    IMPORT_PATH.removeprefix("/v1"),
    openapi_extra=_IMPORT_BODY,
    responses={
        415: {
            "description": f"the body is neither text/csv nor {NDJSON}",
            "headers": {"Accept-Post": {"required": True, "schema": {"type": "string"}}},
        }
    },
)
async def import_customers(
    request: Request,
    sessions: SessionsDep,
    policy: PolicyDep,
    topic: CustomersTopic,
    principal: Caller,
) -> ImportReport:
    """Create or update customers from a CSV (`text/csv`) or NDJSON (`application/x-ndjson`)
    file of contacts (admin or marketer); each row goes through identity resolution like an
    order, a row that breaks a rule is reported and the others applied."""
    fmt = _format(request.headers.get("content-type", ""))
    async with _spooled(request) as file:
        try:
            ignored = parsing.check(file, fmt)
        except parsing.ImportFormatError as error:
            raise ProblemError(
                422,
                str(error),
                title="Invalid request",
                errors=[{"field": "body", "message": str(error), "type": "invalid_file"}],
            ) from error
        return await importer.import_rows(
            sessions=sessions,
            rows=parsing.read_rows(file, fmt),
            fmt=fmt,
            actor=principal.subject,
            customers_topic=topic,
            policy=policy,
            ignored_columns=ignored,
        )


@router.get(
    "/customers:export",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "one customer per line"}},
)
async def export_customers(
    sessions: SessionsDep, principal: Caller, store_id: str | None = None
) -> StreamingResponse:
    """Every customer (of `store_id`: with an order or a shop reference there) as NDJSON, one
    per line (admin; each customer exported is audited)."""
    lines = exporter.export_lines(sessions=sessions, actor=principal.subject, store_id=store_id)
    return StreamingResponse(lines, media_type=NDJSON)


def _format(content_type: str) -> parsing.Format:
    media_type = content_type.split(";")[0].strip().lower()
    fmt = _FORMATS.get(media_type)
    if fmt is None:
        raise ProblemError(
            415,
            f"an import is text/csv or {NDJSON}, not {media_type or 'no content type'}",
            headers={"Accept-Post": f"text/csv, {NDJSON}"},
        )
    return fmt


@asynccontextmanager
async def _spooled(request: Request) -> AsyncIterator[IO[bytes]]:
    """The request body, read as it arrives into a file that stays in memory while small."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as file:
        async for chunk in request.stream():
            file.write(chunk)
        file.seek(0)
        yield file
