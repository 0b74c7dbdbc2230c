"""`python -m crm_events export | check | compat [--base REF]`: keep the schema files honest."""

import argparse
import json
import subprocess
import sys
from pathlib import Path, PurePosixPath

from crm_common.contracts import ContractRegistry, ContractViolation, incompatibilities

from crm_events.registry import CONTRACTS, SCHEMAS_DIR


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _complain(line: str) -> None:
    sys.stderr.write(line + "\n")


def export(registry: ContractRegistry) -> int:
    written = registry.export()
    for path in written:
        _say(f"wrote {path.relative_to(registry.schemas_dir).as_posix()}")
    _say(f"{len(registry)} contracts exported to {registry.schemas_dir} ({len(written)} changed)")
    return 0


def check(registry: ContractRegistry) -> int:
    problems = registry.drift()
    for contract in registry:
        example = registry.schemas_dir / contract.example_path
        if not example.is_file() or not (registry.schemas_dir / contract.path).is_file():
            continue  # already reported as missing
        try:
            registry.validate(json.loads(example.read_text(encoding="utf-8")))
        except (ContractViolation, ValueError) as error:
            problems.append(f"{contract.example_path}: {error}")
    for problem in problems:
        _complain(problem)
    if problems:
        _complain("schemas drifted from the models: run `python -m crm_events export`")
        return 1
    _say(f"{len(registry)} contracts match {registry.schemas_dir}; every example validates")
    return 0


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _is_schema(relative: PurePosixPath) -> bool:
    return relative.suffix == ".json" and "examples" not in relative.parts


def compat(events_dir: Path, base: str | None) -> int:
    top = _git(events_dir, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        _complain(f"compat needs a git checkout: {top.stderr.strip()}")
        return 2
    root = Path(top.stdout.strip())
    prefix = events_dir.resolve().relative_to(root.resolve()).as_posix() + "/"
    if base is None:
        changed = _git(root, "status", "--porcelain", "--", prefix).stdout.strip()
        base = "HEAD" if changed else "HEAD~1"
    if _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").returncode != 0:
        _say(f"compat: {base} does not exist (first commit?); nothing to compare with")
        return 0
    listing = _git(root, "ls-tree", "-r", "--name-only", base, "--", prefix)
    before = {
        PurePosixPath(name[len(prefix) :])
        for name in listing.stdout.splitlines()
        if name.startswith(prefix)
    }
    before = {relative for relative in before if _is_schema(relative)}
    now = {
        PurePosixPath(path.relative_to(events_dir).as_posix())
        for path in events_dir.rglob("*.json")
    }
    now = {relative for relative in now if _is_schema(relative)}
    problems = [
        f"{relative}: removed (it exists at {base}; publish a new major version instead)"
        for relative in sorted(before - now)
    ]
    for relative in sorted(now & before):
        old = json.loads(_git(root, "show", f"{base}:{prefix}{relative}").stdout)
        new = json.loads((events_dir / relative).read_text(encoding="utf-8"))
        problems.extend(f"{relative}: {problem}" for problem in incompatibilities(old, new))
    for problem in problems:
        _complain(problem)
    if problems:
        _complain(f"{len(problems)} backward-incompatible change(s) since {base}")
        return 1
    _say(
        f"compat: {len(now)} schemas are backward compatible with {base} ({len(now - before)} new)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_events", description=__doc__)
    parser.add_argument(
        "--dir", type=Path, default=SCHEMAS_DIR, help="the schemas directory (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("export", help="write every schema and example from the models")
    commands.add_parser("check", help="fail when the files drift or an example is invalid")
    compat_parser = commands.add_parser(
        "compat", help="fail on backward-incompatible changes since a git ref"
    )
    compat_parser.add_argument(
        "--base",
        default=None,
        help="git ref to compare with (default: HEAD when schemas changed in the work tree, "
        "else HEAD~1)",
    )
    args = parser.parse_args(argv)
    registry = CONTRACTS.with_schemas_dir(args.dir)
    if args.command == "export":
        return export(registry)
    if args.command == "check":
        return check(registry)
    return compat(args.dir, args.base)
