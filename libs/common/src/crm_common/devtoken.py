"""Development signing key and tokens: `python -m crm_common.devtoken --role admin`.

The key pair lives under `.local/jwt/`, made on first use; services are given the public half.
"""

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crm_common.auth import ALL_ROLES, issue_token


def ensure_key_pair(directory: Path) -> tuple[Path, Path]:
    """Return (private, public) PEM paths, generating the pair when absent."""
    private_path = directory / "dev-signing-key.pem"
    public_path = directory / "dev-signing-key.pub.pem"
    if not private_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private_path, public_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", action="append", choices=sorted(ALL_ROLES), required=False)
    parser.add_argument("--subject", default="dev@localhost")
    parser.add_argument("--key-dir", type=Path, default=Path(".local/jwt"))
    parser.add_argument("--public-key-path", action="store_true", help="print the key's path")
    args = parser.parse_args(argv)
    private_path, public_path = ensure_key_pair(args.key_dir)
    if args.public_key_path:
        sys.stdout.write(f"{public_path.resolve()}\n")
        return 0
    token = issue_token(
        private_path.read_text(), subject=args.subject, roles=args.role or ["admin"]
    )
    sys.stdout.write(token + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
