"""`python -m customer_profile.pii keygen|status|rotate`: keys and their rotation.

- `keygen`: print a new random key (base64, 32 bytes) for PII_KEYS or PII_LOOKUP_KEY; with
  `--dev-dir DIR`, make the development keys file there once and print its path.
- `status`: how many ciphertexts each key still protects, per encrypted column and in the
  outbox (`outbox_events.payload`: the events not relayed yet), as JSON.
- `rotate`: re-encrypt everything under the active key, in batches (JSON report). Run it after
  every replica runs with the new active key; a key may be dropped once `status` shows none.
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

from crm_common import db

from customer_profile.pii import configure
from customer_profile.pii.keyring import Keyring, PiiKeyError, ensure_dev_keys_file, new_key
from customer_profile.pii.outbox import PURPOSE as OUTBOX_PURPOSE


async def _status(database_url: str) -> dict[str, dict[str, int]]:
    from customer_profile.pii import rotation

    engine = db.create_engine(database_url, pool_size=1)
    try:
        async with db.session_factory(engine)() as session:
            usage = await rotation.key_usage(session=session, columns=rotation.encrypted_columns())
            usage[OUTBOX_PURPOSE] = await rotation.outbox_key_usage(session=session)
            return usage
    finally:
        await engine.dispose()


async def _rotate(database_url: str, batch_size: int) -> dict[str, object]:
    from customer_profile.pii import rotation

    engine = db.create_engine(database_url, pool_size=1)
    try:
        report = await rotation.rotate(sessions=db.session_factory(engine), batch_size=batch_size)
    finally:
        await engine.dispose()
    return {"active_key": report.active_key, "rewritten": report.rewritten}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m customer_profile.pii")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="print a new key, or make the dev keys file")
    keygen.add_argument("--dev-dir", type=Path, help="make (once) DIR/keys.json, print its path")
    for name, text in (
        ("status", "ciphertexts per key and column"),
        ("rotate", "re-encrypt under the active key"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "--database-url", help="defaults to CUSTOMER_PROFILE_DATABASE_URL or the built-in URL"
        )
        if name == "rotate":
            command.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    if args.command == "keygen":
        if args.dev_dir is not None:
            sys.stdout.write(f"{ensure_dev_keys_file(args.dev_dir).resolve()}\n")
        else:
            sys.stdout.write(new_key() + "\n")
        return 0

    # The app imports every model module, which registers its tables and encrypted columns.
    import customer_profile.main  # noqa: F401
    from customer_profile.config import Settings

    settings = Settings()
    try:
        configure(Keyring.from_settings(settings))
    except PiiKeyError as error:
        sys.stderr.write(f"customer-profile: {error}\n")
        return 2
    url = args.database_url or settings.database_url
    result: object
    if args.command == "status":
        result = asyncio.run(_status(url))
    else:
        result = asyncio.run(_rotate(url, args.batch_size))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
