"""Proof of possession (issue 12): a participant makes its key pair itself and submits only the
public key, signed with the new key; the operator publishes it after verifying that signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.cli import main
from hub.contract import keys
from hub.contract.registry import load_registry


def test_submit_then_accept_publishes_only_a_key_whose_holder_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    participant_keys, operator_keys = tmp_path / "participant", tmp_path / "operator"
    monkeypatch.setenv("MAATWERK_TRUST_FILE", str(tmp_path / "trust.json"))
    request = tmp_path / "request.json"
    assert main(["keys", "submit", "cjib", "--keys-dir", str(participant_keys),
                 "--out", str(request)]) == 0
    assert not keys.public_keys_path(participant_keys, "cjib").exists()  # nothing published
    kid = json.loads(request.read_text())["key"]["kid"]
    assert keys.private_key_path(participant_keys, "cjib", kid).exists()

    forged = json.loads(request.read_text())  # someone else's key, this signature
    keys.generate(tmp_path / "other", "x")
    forged["key"] = keys.read_public_entries(keys.public_keys_path(tmp_path / "other", "x"))[0]\
        .model_dump(mode="json", exclude_none=True)
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert main(["keys", "accept", str(tmp_path / "forged.json"),
                 "--keys-dir", str(operator_keys)]) == 2
    assert "not signed with the submitted key" in capsys.readouterr().err
    tampered = json.loads(request.read_text())
    tampered["participant"] = "duo"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    assert main(["keys", "accept", str(tmp_path / "tampered.json"),
                 "--keys-dir", str(operator_keys)]) == 2
    assert "no proof of possession" in capsys.readouterr().err
    assert not keys.public_keys_path(operator_keys, "duo").exists()

    assert main(["keys", "accept", str(request), "--keys-dir", str(operator_keys)]) == 0
    out = capsys.readouterr().out
    assert f"key {kid} (proof of possession verified)" in out
    assert "trust document not re-signed" in out  # no registry authority key here
    published = keys.read_public_entries(keys.public_keys_path(operator_keys, "cjib"))
    assert [e.kid for e in published] == [kid]
    registry = load_registry(None, operator_keys)
    assert registry.get("cjib") is not None and registry.get("cjib").keys[0].kid == kid  # type: ignore[union-attr]
