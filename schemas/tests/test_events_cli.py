import json
import shutil
import subprocess
from pathlib import Path

import pytest
from crm_events.cli import main
from crm_events.registry import SCHEMAS_DIR

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="compat needs git")

PLACED = Path("order/crm.order.placed.v1.json")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway git repository holding an exported copy of the schemas."""
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    assert main(["--dir", str(tmp_path / "schemas" / "events"), "export"]) == 0
    return tmp_path


def events(repo: Path) -> Path:
    return repo / "schemas" / "events"


def edit(path: Path, change: str) -> None:
    schema = json.loads(path.read_text())
    data = schema["properties"]["data"]
    if change == "remove":
        del data["properties"]["note"]
    elif change == "require":
        data["required"].append("note")
    elif change == "add-optional":
        data["properties"]["channel"] = {"type": "string"}
    path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)


def test_check_passes_on_the_committed_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dir", str(SCHEMAS_DIR), "check"]) == 0
    assert "every example validates" in capsys.readouterr().out


def test_export_then_check_in_a_fresh_directory(tmp_path: Path) -> None:
    assert main(["--dir", str(tmp_path), "export"]) == 0
    assert main(["--dir", str(tmp_path), "check"]) == 0
    for committed in SCHEMAS_DIR.rglob("*.json"):
        relative = committed.relative_to(SCHEMAS_DIR)
        assert (tmp_path / relative).read_text() == committed.read_text()


def test_check_fails_on_an_edited_schema_and_a_bad_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--dir", str(tmp_path), "export"])
    edit(tmp_path / PLACED, "require")
    example = tmp_path / "shop" / "examples" / "shop.order.upserted.v1.json"
    example.write_text(example.read_text().replace('"total": "32.00"', '"total": 32.0'))

    assert main(["--dir", str(tmp_path), "check"]) == 1
    err = capsys.readouterr().err
    assert "order/crm.order.placed.v1.json: differs from the models" in err
    assert "$.data.total: 32.0 is not of type 'string'" in err


def test_compat_passes_before_the_first_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(events(repo)), "compat"]) == 0
    assert "does not exist" in capsys.readouterr().out


def test_compat_compares_with_head_when_the_tree_changed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, "schemas")
    edit(events(repo) / PLACED, "remove")

    assert main(["--dir", str(events(repo)), "compat"]) == 1
    assert (
        "order/crm.order.placed.v1.json: $.data.note: property removed" in capsys.readouterr().err
    )


def test_compat_compares_with_the_previous_commit_when_clean(repo: Path) -> None:
    commit(repo, "schemas")
    edit(events(repo) / PLACED, "require")
    commit(repo, "require a note")

    assert main(["--dir", str(events(repo)), "compat"]) == 1
    assert main(["--dir", str(events(repo)), "compat", "--base", "HEAD"]) == 0


def test_compat_allows_additions_and_new_files(repo: Path) -> None:
    commit(repo, "schemas")
    edit(events(repo) / PLACED, "add-optional")
    shutil.copy(events(repo) / PLACED, events(repo) / "order" / "crm.order.placed.v2.json")

    assert main(["--dir", str(events(repo)), "compat"]) == 0


def test_compat_reports_a_removed_schema(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit(repo, "schemas")
    (events(repo) / PLACED).unlink()

    assert main(["--dir", str(events(repo)), "compat"]) == 1
    assert "order/crm.order.placed.v1.json: removed" in capsys.readouterr().err


def test_compat_with_an_unknown_ref_passes(repo: Path) -> None:
    commit(repo, "schemas")

    assert main(["--dir", str(events(repo)), "compat", "--base", "no-such-ref"]) == 0
