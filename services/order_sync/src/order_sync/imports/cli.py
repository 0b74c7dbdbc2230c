"""The command-line import: the same jobs, chunks and service functions, against the database.

    order-sync-import FILE --store STORE [--format csv|ndjson]
    order-sync-import --resume IMPORT_ID

or `python -m order_sync.imports ...`. Settings come from the environment like the service's
(ORDER_SYNC_DATABASE_URL, ...). Events go to the outbox; the running service's relay publishes
them. Prints the job as JSON and exits 0 when every order was applied, 2 when some rows were
rejected, 1 when the job failed.
"""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from crm_common.db import create_engine, migrate, session_factory, transaction
from crm_common.problems import ProblemError

from order_sync.config import Settings
from order_sync.imports import service
from order_sync.imports.models import ImportJob
from order_sync.imports.runner import run_import
from order_sync.imports.schemas import (
    FORMAT_BY_EXTENSION,
    ImportFormat,
    ImportOrigin,
    ImportStatus,
)

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"

logger = logging.getLogger("order_sync.imports")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    invoked = Path(sys.argv[0]).name
    parser = argparse.ArgumentParser(
        prog="python -m order_sync.imports" if invoked == "__main__.py" else invoked,
        description="Import a CSV or NDJSON file of canonical orders into order-sync.",
    )
    parser.add_argument("file", nargs="?", type=Path, help="the file to import")
    parser.add_argument("--store", help="the registered store the orders belong to")
    parser.add_argument("--format", choices=[f.value for f in ImportFormat], default=None)
    parser.add_argument("--resume", metavar="IMPORT_ID", help="continue an interrupted import")
    parser.add_argument("--database-url", help="instead of ORDER_SYNC_DATABASE_URL")
    args = parser.parse_args(argv)
    if args.resume is None and (args.file is None or args.store is None):
        parser.error("give FILE and --store, or --resume IMPORT_ID")
    named = args.file is not None and args.file.suffix.lower() in FORMAT_BY_EXTENSION
    if args.resume is None and args.format is None and not named:
        parser.error("cannot tell the file's format from its name: pass --format")
    return args


async def run(args: argparse.Namespace, settings: Settings) -> ImportJob | None:
    """Create (or resume) the job and run it to its end in this process."""
    engine = create_engine(settings.database_url, pool_size=2)
    sessions = session_factory(engine)
    try:
        await migrate(engine, MIGRATIONS)
        if args.resume:
            import_id = args.resume
            async with transaction(sessions) as session:
                await service.request_resume(session=session, import_id=import_id)
        else:
            path = args.file.resolve()
            fmt = ImportFormat(args.format or FORMAT_BY_EXTENSION[path.suffix.lower()])
            async with transaction(sessions) as session:
                job = await service.create_job(
                    session=session,
                    store_id=args.store,
                    fmt=fmt,
                    origin=ImportOrigin.CLI,
                    file_path=path,
                    file_name=path.name,
                    file_bytes=path.stat().st_size,
                )
            import_id = job.import_id
        logger.info("importing", extra={"import_id": import_id})
        return await run_import(
            engine=engine,
            sessions=sessions,
            import_id=import_id,
            settings=settings,
            after_chunk=lambda job: logger.info(
                "chunk committed", extra={"import_id": job.import_id}
            ),
        )
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    args = parse_args(argv)
    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = Settings(**overrides)
    try:
        job = asyncio.run(run(args, settings))
    except ProblemError as error:  # an unknown store or import, a completed import
        logger.error("%s", error.detail)
        return 1
    if job is None:
        logger.error("another process is running this import")
        return 1
    sys.stdout.write(service.to_read(job, []).model_dump_json(indent=2) + "\n")
    if job.status != ImportStatus.COMPLETED:
        return 1
    return 2 if job.orders_rejected else 0
