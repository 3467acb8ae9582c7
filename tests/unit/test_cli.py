"""The ``maatwerk-hub`` command in-process: keys, sign, verify, register and every --help."""

from __future__ import annotations

import argparse
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.cli import build_parser, main
from hub.contract.messages import new_document

VECTORS = Path(__file__).resolve().parents[2] / "schemas" / "test-vectors"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MAATWERK_REGISTRY", "MAATWERK_CLOCK_SKEW_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAATWERK_KEYS_DIR", str(tmp_path / "keys"))


def _unsigned(tmp_path: Path) -> Path:
    document = new_document(
        type="timeout.request", sender="gm0193", recipient="cjib", case_id="ZW-2026-0042",
        body={
            "bsn": "123456782",
            "references": {"cjib_payment_references": ["1234567890123456"]},
            "requested_from": "2026-12-01",
            "requested_months": 4,
            "reason_code": "livelihood_threatened",
            "scope": ["collection"],
        },
    )
    path = tmp_path / "message.json"
    path.write_text(json.dumps(document))
    return path


def _signed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    keys_dir = tmp_path / "keys"
    assert main(["keys", "generate", "gm0193", "--keys-dir", str(keys_dir)]) == 0
    capsys.readouterr()
    pem = keys_dir / "private" / "gm0193.pem"
    assert main(["sign", str(_unsigned(tmp_path)), "--key", str(pem)]) == 0
    signed = tmp_path / "signed.json"
    signed.write_text(capsys.readouterr().out)
    return signed


def test_keys_generate_writes_a_private_pem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = tmp_path / "keys"
    assert main(["keys", "generate", "cjib", "--keys-dir", str(keys_dir)]) == 0
    pem = keys_dir / "private" / "cjib.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    published = json.loads((keys_dir / "cjib.json").read_text())
    assert published[0]["kid"] in capsys.readouterr().out


def test_keys_generate_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = tmp_path / "keys"
    assert main(["keys", "generate", "cjib", "--keys-dir", str(keys_dir)]) == 0
    assert main(["keys", "generate", "cjib", "--keys-dir", str(keys_dir)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_sign_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signed = _signed(tmp_path, capsys)
    message = json.loads(signed.read_text())
    assert main(["verify", str(signed), "--keys-dir", str(tmp_path / "keys")]) == 0
    out = capsys.readouterr().out
    assert out == (f"ok: timeout.request {message['id']} from gm0193, "
                   f"key {message['signature']['kid']}\n")


def test_verify_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signed = _signed(tmp_path, capsys)
    message = json.loads(signed.read_text())
    message["body"]["requested_months"] = 12
    signed.write_text(json.dumps(message))
    assert main(["verify", str(signed), "--keys-dir", str(tmp_path / "keys")]) == 1
    assert capsys.readouterr().out.startswith("refused: bad_signature: ")


def test_verify_vectors_with_now_and_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = str(VECTORS / "registry.yaml")
    for name, code, reason in [("valid/01-timeout.request.json", 0, "ok: timeout.request"),
                               ("invalid/04-revoked-key.json", 1, "refused: key_revoked: "),
                               ("invalid/05-expired.json", 1, "refused: expired: ")]:
        vector = json.loads((VECTORS / name).read_text())
        path = tmp_path / "m.json"
        path.write_text(json.dumps(vector["message"]))
        args = ["verify", str(path), "--registry", registry, "--now", vector["verify_at"]]
        assert main(args) == code, name
        assert capsys.readouterr().out.startswith(reason)


def test_verify_unsigned_and_malformed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(_unsigned(tmp_path))]) == 1
    assert capsys.readouterr().out.startswith("refused: schema_violation: ")
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"id": 1, "id": 2}')
    assert main(["verify", str(broken)]) == 1
    assert capsys.readouterr().out.startswith("refused: malformed_json: duplicate key")


@pytest.mark.parametrize("command", [["verify"], ["sign", "--key", "nope.pem"]])
def test_missing_files_are_one_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, str(tmp_path / "absent.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "absent.json" in err and "Traceback" not in err


def test_sign_with_missing_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", str(_unsigned(tmp_path)), "--key", str(tmp_path / "nope.pem")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.pem" in err


def test_verify_now_needs_a_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["verify", str(_unsigned(tmp_path)), "--now", "2026-11-23T10:00:00"])
    assert caught.value.code == 2
    assert "--now" in capsys.readouterr().err


def test_register_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "list"]) == 0
    out = capsys.readouterr().out
    assert "cjib" in out and "maatwerk@cjib.example" in out
    assert main(["register", "list", "--json"]) == 0
    assert any(p["id"] == "gm0193" for p in json.loads(capsys.readouterr().out))
    assert main(["register", "show", "cjib"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "cjib"


def test_register_show_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[
    tuple[str, ...]
]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


_PATHS = _command_paths(build_parser())


def test_the_command_tree_is_complete() -> None:
    for expected in [("sign",), ("verify",), ("schemas", "export"), ("schemas", "check"),
                     ("keys", "generate"), ("register", "show")]:
        assert expected in _PATHS


@pytest.mark.parametrize("path", _PATHS, ids=lambda p: " ".join(p) or "(top)")
def test_every_command_has_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*path, "--help"])
    assert caught.value.code == 0
    assert "usage: maatwerk-hub" in capsys.readouterr().out


def test_signed_output_is_indented_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _signed(tmp_path, capsys).read_text()
    assert text.startswith('{\n  "id": ')
    assert datetime.fromisoformat(json.loads(text)["created_at"]) <= datetime.now(UTC)
