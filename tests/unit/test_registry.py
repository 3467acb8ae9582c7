"""Loading the participant registry (hub.contract.registry): the demo, broken files, published
keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.contract import keys
from hub.contract.errors import ConfigError, ReasonCode, Refusal
from hub.contract.registry import load_registry

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _participant(pid: str, kind: str = "agency", **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": pid,
        "name": pid.upper(),
        "kind": kind,
        "contact": {"contact_point": f"Maatwerk {pid}", "email": f"maatwerk@{pid}.example",
                    "phone": "+31 70 000 0000"},
        "broker_user": pid,
        "sends": ["receipt"],
        "receives": ["receipt"],
    }
    entry.update(extra)
    return entry


def _document() -> dict[str, Any]:
    return {
        "version": "test",
        "participants": [
            _participant("hub", "hub"),
            _participant("loket", "loket"),
            _participant("gm0193", "municipality", cbs_code="GM0193"),
            _participant("cjib", oin="00000001000000005000"),
        ],
    }


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _error(tmp_path: Path, document: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_registry(_write(tmp_path, document))
    return str(caught.value)


def test_demo_registry_loads() -> None:
    registry = load_registry()
    assert registry.hub.id == "hub"
    assert {"loket", "let", "cjib", "duo", "uwv", "svb", "belastingdienst", "gm0193"} <= set(
        registry.participants
    )
    cjib = registry.get("cjib")
    assert cjib is not None and cjib.oin is not None and "timeout.request" in cjib.receives
    assert registry.by_broker_user("gm0193") is registry.get("gm0193")


def test_minimal_registry_loads(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path, _document()))
    assert [p.id for p in registry.of_kind("agency")] == ["cjib"]


def test_bad_oin_names_entry_and_field(tmp_path: Path) -> None:
    document = _document()
    document["participants"][3]["oin"] = "1234"
    message = _error(tmp_path, document)
    assert "participants[3] (id 'cjib'): oin" in message
    assert "20 digits" in message
    assert str(tmp_path / "registry.yaml") in message


def test_duplicate_broker_user_names_the_participant(tmp_path: Path) -> None:
    document = _document()
    document["participants"][3]["broker_user"] = "loket"
    message = _error(tmp_path, document)
    assert "cjib" in message and "broker_user" in message and "twice" in message


def test_unknown_message_type_in_sends(tmp_path: Path) -> None:
    document = _document()
    document["participants"][2]["sends"] = ["receipt", "timeout.pause"]
    message = _error(tmp_path, document)
    assert "participants[2] (id 'gm0193'): sends.1" in message


def test_key_whose_kid_does_not_match(tmp_path: Path) -> None:
    document = _document()
    entry = keys.public_entry(
        keys.Ed25519PrivateKey.generate(), not_before=NOW
    ).model_dump(mode="json", exclude_none=True)
    entry["kid"] = "AAAAAAAAAAAAAAAAAAAAAA"
    document["participants"][3]["keys"] = [entry]
    message = _error(tmp_path, document)
    assert "participants[3] (id 'cjib'): keys.0" in message
    assert "not derived from this public key" in message


def test_municipality_needs_a_cbs_code(tmp_path: Path) -> None:
    document = _document()
    del document["participants"][2]["cbs_code"]
    assert "participants[2] (id 'gm0193')" in _error(tmp_path, document)


def test_exactly_one_hub(tmp_path: Path) -> None:
    document = _document()
    document["participants"][1]["kind"] = "hub"
    assert "exactly one" in _error(tmp_path, document)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_registry(tmp_path / "missing.yaml")
    path = tmp_path / "broken.yaml"
    path.write_text("participants: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_registry(path)


def test_published_keys_are_merged(tmp_path: Path) -> None:
    entry = keys.generate(tmp_path, "cjib", now=NOW)
    registry = load_registry(None, tmp_path)
    cjib = registry.get("cjib")
    assert cjib is not None and [k.kid for k in cjib.keys] == [entry.kid]
    raw = registry.key_for("cjib", entry.kid, at=NOW + timedelta(days=1), now=NOW)
    assert raw == entry.raw


def test_key_for_refusals(tmp_path: Path) -> None:
    entry = keys.generate(tmp_path, "cjib", now=NOW, valid_days=10)
    keys.revoke(tmp_path, "cjib", entry.kid, now=NOW + timedelta(days=5))
    registry = load_registry(None, tmp_path)
    cases = [
        ("nobody", entry.kid, NOW, NOW, ReasonCode.UNKNOWN_SENDER),
        ("cjib", "AAAAAAAAAAAAAAAAAAAAAA", NOW, NOW, ReasonCode.UNKNOWN_KEY),
        ("cjib", entry.kid, NOW, NOW + timedelta(days=6), ReasonCode.KEY_REVOKED),
        ("cjib", entry.kid, NOW - timedelta(days=1), NOW, ReasonCode.KEY_NOT_VALID),
    ]
    for pid, kid, at, now, reason in cases:
        with pytest.raises(Refusal) as caught:
            registry.key_for(pid, kid, at=at, now=now)
        assert caught.value.reason is reason
