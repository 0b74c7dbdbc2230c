"""`python -m customer_profile.scoring recompute`: the exact RFM batch, e.g. from a cron job."""

import argparse
import asyncio
import sys

from crm_common import db

from customer_profile.config import Settings
from customer_profile.scoring import service


async def _recompute(database_url: str) -> str:
    engine = db.create_engine(database_url, pool_size=1)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            run = await service.recompute(session=session)
    finally:
        await engine.dispose()
    return run.model_dump_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m customer_profile.scoring")
    commands = parser.add_subparsers(dest="command", required=True)
    recompute = commands.add_parser(
        "recompute", help="score every customer of every store exactly (set-based SQL)"
    )
    recompute.add_argument(
        "--database-url", help="defaults to CUSTOMER_PROFILE_DATABASE_URL or the built-in URL"
    )
    args = parser.parse_args(argv)
    url = args.database_url or Settings().database_url
    sys.stdout.write(asyncio.run(_recompute(url)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
