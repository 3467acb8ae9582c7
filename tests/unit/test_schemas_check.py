"""``maatwerk-hub schemas check``: passes on the committed tree, names every stale file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.cli import main
from hub.contract import schemas

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


def test_committed_tree_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "check", "--dir", str(SCHEMAS)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_edited_file_is_named(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edited = copy / "json" / "timeout.request.schema.json"
    edited.write_text(edited.read_text() + " ")
    assert main(["schemas", "check", "--dir", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "json/timeout.request.schema.json (different)" in out
    assert "schemas export" in out
    assert schemas.stale(copy) == ["json/timeout.request.schema.json"]


def test_extra_file_is_named(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy / "test-vectors" / "valid" / "99-extra.json").write_text("{}\n")
    assert main(["schemas", "check", "--dir", str(copy)]) == 1
    assert "test-vectors/valid/99-extra.json (extra)" in capsys.readouterr().out


def test_missing_file_is_named(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy / "asyncapi.yaml").unlink()
    assert main(["schemas", "check", "--dir", str(copy)]) == 1
    assert "asyncapi.yaml (missing)" in capsys.readouterr().out


def test_export_repairs_the_tree(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy / "json" / "receipt.schema.json").write_text("{}")
    (copy / "json" / "old.schema.json").write_text("{}")
    (copy / "test-vectors" / "old").mkdir()
    (copy / "test-vectors" / "old" / "x.json").write_text("{}")
    assert main(["schemas", "export", "--dir", str(copy)]) == 0
    assert schemas.stale(copy) == []
    assert not (copy / "test-vectors" / "old").exists()
    assert main(["schemas", "check", "--dir", str(copy)]) == 0


def test_export_into_a_new_directory(tmp_path: Path) -> None:
    paths = schemas.export(tmp_path / "new")
    assert (tmp_path / "new" / "asyncapi.yaml") in paths
    assert schemas.stale(tmp_path / "new") == []


def test_export_refuses_a_foreign_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["schemas", "export", "--dir", str(tmp_path)]) == 2
    assert "not a schemas directory" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_check_of_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "check", "--dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "schemas export" in err
