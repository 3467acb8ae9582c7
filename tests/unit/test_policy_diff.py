"""``maatwerk-hub policy diff``: newly allowed and no longer allowed fields, with grounds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from hub.cli import main


def _write(path: Path, change: object) -> Path:
    raw = yaml.safe_load(resources.files("hub.contract.defaults").joinpath("policy.yaml")
                         .read_text("utf-8"))
    if callable(change):
        change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_diff_names_fields_per_recipient_and_type(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(tmp_path / "old.yaml", None)
    rule = next(r for r in yaml.safe_load(old.read_text())["rules"]
                if r["id"] == "escalation-request-loket")

    def narrower(raw: dict[str, object]) -> None:
        raw["version"] = "new"
        for r in raw["rules"]:  # type: ignore[attr-defined]
            if r["id"] == rule["id"]:
                r["allow"] = [f for f in r["allow"] if f != "urgency"]

    new = _write(tmp_path / "new.yaml", narrower)
    assert main(["policy", "diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "escalation.request to recipient loket" in out
    assert "no longer allowed: urgency" in out
    assert "newly allowed" not in out
    assert f"was {rule['id']}: " in out
    assert main(["policy", "diff", str(new), str(old)]) == 0
    back = capsys.readouterr().out
    assert "newly allowed: urgency" in back and f"ground {rule['id']}: " in back
    assert main(["policy", "diff", str(old), str(old)]) == 0
    assert "no change" in capsys.readouterr().out
