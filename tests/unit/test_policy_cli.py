"""``maatwerk-hub policy check`` and ``policy explain``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.cli import main
from hub.contract.messages import new_document
from tests.helpers import BSN, timeout_request_body


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MAATWERK_REGISTRY", "MAATWERK_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAATWERK_KEYS_DIR", str(tmp_path / "keys"))


def _message(tmp_path: Path, **extra: Any) -> Path:
    document = new_document(type="timeout.request", sender="gm0193", recipient="cjib",
                            case_id="ZW-2026-0042", body=timeout_request_body("cjib", **extra))
    path = tmp_path / "message.json"
    path.write_text(json.dumps(document))
    return path


def _policy(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(f'version: "t-1"\npublished: 2026-11-01\nrules:\n{rules}')
    return path


CONTRADICTORY = """\
  - {id: one, message_type: receipt, recipient_kind: agency, allow: [received_at], reason: a}
  - {id: two, message_type: receipt, recipient_kind: agency, allow: [received_at], reason: b}
"""


def test_check_default_policy_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check"]) == 0
    out = capsys.readouterr().out
    assert "0 errors, 0 warnings" in out


def test_check_reads_maatwerk_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAATWERK_POLICY", str(_policy(tmp_path, CONTRADICTORY)))
    assert main(["policy", "check"]) == 1
    out = capsys.readouterr().out
    assert "error   two: contradicts rule one" in out
    assert "warning -: no rule covers" in out


def test_check_load_error_exits_1_with_the_rule_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _policy(tmp_path, "  - {id: broken, message_type: timeout.request, recipient: cjib, "
                            "allow: [bsn, health_context], reason: r}\n")
    assert main(["policy", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "rules[0] (id 'broken')" in err and "legal_ground" in err
    assert "Traceback" not in err


def test_check_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_explain_allowed_message_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "explain", str(_message(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "rule timeout-request-cjib" in out
    assert "ALLOWED by rule timeout-request-cjib" in out
    assert "REFUSED" not in out


def test_explain_refused_field_exits_1_without_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _message(tmp_path, health_context="Burn-out, in behandeling bij de GGZ")
    assert main(["policy", "explain", str(path)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "health_context" in x)
    assert "health" in line and "REFUSED" in line
    assert "GGZ" not in out and BSN not in out


def test_explain_at_outside_every_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = _policy(tmp_path, "  - {id: window, message_type: timeout.request, recipient: cjib, "
                               "allow: [bsn, references, requested_from, requested_months, "
                               "reason_code, scope], reason: r, not_after: 2026-12-31}\n")
    message = str(_message(tmp_path))
    assert main(["policy", "explain", message, "--policy", str(policy),
                 "--at", "2026-12-31T23:00:00+00:00"]) == 0
    assert main(["policy", "explain", message, "--policy", str(policy), "--at", "2027-01-01"]) == 1
    assert "NO RULE applies" in capsys.readouterr().out


def test_explain_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = str(_message(tmp_path))
    assert main(["policy", "explain", message, "--at", "yesterday"]) == 2
    assert main(["policy", "explain", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(x.startswith("maatwerk-hub: ") for x in err)


@pytest.mark.parametrize("argv", [["policy"], ["policy", "check"], ["policy", "explain"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    assert "usage:" in capsys.readouterr().out
