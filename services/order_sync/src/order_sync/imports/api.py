from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

from crm_common.db import transaction
from fastapi import APIRouter, Depends, Query, Request, Response, status

from order_sync.deps import SessionsDep, SettingsDep
from order_sync.imports import service, upload
from order_sync.imports.runner import ImportRunner
from order_sync.imports.schemas import ImportFormat, ImportOrigin, ImportRead, RowErrorPage

router = APIRouter(prefix="/v1/imports", tags=["imports"])


def get_runner(request: Request) -> ImportRunner:
    runner: ImportRunner = request.app.state.import_runner
    return runner


RunnerDep = Annotated[ImportRunner, Depends(get_runner)]


_FILE = {"type": "string", "description": "the file: a CSV header row, or one order per line"}
# The body is streamed by `upload.receive`, not parsed by FastAPI: described here.
_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "text/csv": {"schema": _FILE},
            "application/x-ndjson": {"schema": _FILE},
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_UPLOAD,
    responses={
        202: {
            "description": "queued; follow the job at its Location",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        415: {"description": "the body is not multipart/form-data, CSV or NDJSON"},
    },
)
async def start_import(
    request: Request,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    runner: RunnerDep,
    store_id: str,
    fmt: Annotated[ImportFormat | None, Query(alias="format")] = None,
) -> ImportRead:
    """Import a CSV or NDJSON file of canonical orders for `store_id`: the upload is streamed
    to a spool file, then applied in the background; follow it at the `Location` answered."""
    async with sessions() as session:
        await service.ensure_store(session=session, store_id=store_id)
    import_id = str(uuid4())
    settings.import_spool_dir.mkdir(parents=True, exist_ok=True)
    path = settings.import_spool_dir / f"{import_id}.upload"
    try:
        with path.open("wb") as out:
            received = await upload.receive(request, out=out, fmt=fmt)
        async with transaction(sessions) as session:
            job = await service.create_job(
                session=session,
                import_id=import_id,
                store_id=store_id,
                fmt=received.format,
                origin=ImportOrigin.API,
                file_path=Path(path),
                file_name=received.file_name,
                file_bytes=received.size,
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    runner.submit(import_id)
    response.headers["Location"] = f"/v1/imports/{import_id}"
    return service.to_read(job, [])


@router.post(
    "/{import_id}:resume",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": "no such import"},
        409: {"description": "the import has completed"},
    },
)
async def resume_import(import_id: str, sessions: SessionsDep, runner: RunnerDep) -> ImportRead:
    """Continue a failed or interrupted import after its last committed row; 409 when it has
    completed."""
    async with transaction(sessions) as session:
        await service.request_resume(session=session, import_id=import_id)
    runner.submit(import_id)
    async with sessions() as session:
        return await service.read_job(session=session, import_id=import_id)


@router.get("/{import_id}", responses={404: {"description": "no such import"}})
async def read_import(import_id: str, sessions: SessionsDep) -> ImportRead:
    """An import's status, progress and first row errors."""
    async with sessions() as session:
        return await service.read_job(session=session, import_id=import_id)


@router.get("/{import_id}/errors", responses={404: {"description": "no such import"}})
async def read_import_errors(
    import_id: str,
    sessions: SessionsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> RowErrorPage:
    """The import's row errors by row, a page at a time."""
    async with sessions() as session:
        return await service.list_errors(
            session=session, import_id=import_id, cursor=cursor, limit=limit
        )
