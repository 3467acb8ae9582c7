"""The published test vectors hold, and schemas/ is exactly what the code generates."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.contract import schemas
from hub.contract.authenticate import Limits, authenticate, verify_message
from hub.contract.canonical import canonicalize
from hub.contract.errors import ReasonCode, Refusal
from hub.contract.registry import Registry, load_registry
from hub.contract.signing import b64url, kid_for

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
VECTORS = SCHEMAS / "test-vectors"
VALID = sorted((VECTORS / "valid").glob("*.json"))
INVALID = sorted((VECTORS / "invalid").glob("*.json"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _registry() -> Registry:
    return load_registry(VECTORS / "registry.yaml")


def _raw(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def test_enough_vectors() -> None:
    """Issue 11, point 13: a valid vector of every message type (the hub's included), an invalid
    one of every reason content alone can cause, one per kind of policy refusal."""
    from hub.contract.messages import MESSAGE_TYPES

    types = {_load(p)["message"]["type"] for p in VALID}
    assert types == set(MESSAGE_TYPES)
    reasons = {_load(p)["expected_reason"] for p in INVALID}
    stateful = {"missing_user_id", "user_id_mismatch", "message_id_mismatch", "unroutable",
                "id_reused", "id_conflict", "unknown_conversation",
                "missing_signature",  # a message without a signature fails the schema first
                "participant_suspended",  # the registry's status, not the message content
                "escalation_rule", "bridging_rule",  # the case's escalation state decides
                "participant_not_admitted"}  # needs a registry entry without a mandate
    assert reasons == {r.value for r in ReasonCode} - stateful


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_vector_verifies(path: Path) -> None:
    vector = _load(path)
    message = vector["message"]
    verify_at = datetime.fromisoformat(vector["verify_at"])
    envelope = verify_message(_raw(message), _registry(), verify_at)
    assert str(envelope.id) == message["id"]
    unsigned = copy.deepcopy(message)
    del unsigned["signature"]["value"]
    signed_bytes = canonicalize(unsigned)
    assert vector["signing_input"].encode("utf-8") == signed_bytes
    assert vector["signing_input_sha256"] == hashlib.sha256(signed_bytes).hexdigest()
    assert vector["signature"] == message["signature"]["value"]
    assert vector["kid"] == message["signature"]["kid"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_vector_key_matches_keys_json(path: Path) -> None:
    vector = _load(path)
    keys = {k["name"]: k for k in _load(VECTORS / "keys.json")["keys"]}
    key = keys[vector["key"]]
    assert key["public_key"] == vector["public_key"]
    assert key["kid"] == vector["kid"]


def raw_of(vector: dict[str, Any]) -> bytes:
    """The bytes of a vector's message: ``message_text`` as it is, else ``message`` encoded."""
    if "message_text" in vector:
        return str(vector["message_text"]).encode("utf-8")
    return _raw(vector["message"])


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_vector_is_refused_with_the_expected_reason(path: Path) -> None:
    vector = _load(path)
    if vector["step"] != "verify":
        pytest.skip("refused by the pipeline: tests/unit/test_vector_agreement.py")
    limits = Limits(max_message_bytes=vector.get("max_message_bytes"))
    with pytest.raises(Refusal) as caught:
        authenticate(raw_of(vector), None, _registry(),
                     datetime.fromisoformat(vector["verify_at"]), limits=limits,
                     check_identity=False)
    assert caught.value.reason.value == vector["expected_reason"]


def test_keys_json_is_self_consistent() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_private_key,
    )

    for key in _load(VECTORS / "keys.json")["keys"]:
        seed = bytes.fromhex(key["seed_hex"])
        assert seed == hashlib.sha256(key["seed_text"].encode()).digest()
        private = Ed25519PrivateKey.from_private_bytes(seed)
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert b64url(raw) == key["public_key"] and raw.hex() == key["public_key_hex"]
        assert kid_for(raw) == key["kid"]
        pem = load_pem_private_key(key["private_key_pkcs8_pem"].encode(), password=None)
        assert isinstance(pem, Ed25519PrivateKey)
        assert pem.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) == raw


def test_canonicalization_pairs_hold() -> None:
    cases = _load(VECTORS / "canonicalization.json")["cases"]
    assert len(cases) >= 3
    for case in cases:
        canonical = canonicalize(json.loads(case["input_json_text"]))
        assert canonical == case["canonical"].encode("utf-8"), case["name"]
        assert canonical.hex() == case["canonical_utf8_hex"], case["name"]


def test_canonicalization_includes_the_rfc_examples() -> None:
    cases = _load(VECTORS / "canonicalization.json")["cases"]
    texts = " ".join(c["input_json_text"] for c in cases)
    for fragment in ("333333333.33333329", "1E30", "4.50", "2e-3", "\\u20ac$\\u000F", "\\ufb33",
                     "\\ud83d\\ude00"):
        assert fragment in texts


def test_export_reproduces_the_committed_tree(tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    schemas.export(target)
    generated = {p.relative_to(target).as_posix(): p.read_bytes()
                 for p in target.rglob("*") if p.is_file()}
    committed = {p.relative_to(SCHEMAS).as_posix(): p.read_bytes()
                 for p in SCHEMAS.rglob("*") if p.is_file()}
    assert sorted(generated) == sorted(committed)
    for rel, data in generated.items():
        assert committed[rel] == data, f"schemas/{rel} is stale: run maatwerk-hub schemas export"


def test_export_is_deterministic(tmp_path: Path) -> None:
    assert schemas.render() == schemas.render()
    schemas.export(tmp_path / "a")
    assert schemas.stale(tmp_path / "a") == []


def test_asyncapi_names_every_message_type() -> None:
    import yaml

    from hub.contract.messages import MESSAGE_SPECS

    document = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text("utf-8"))
    assert document["asyncapi"] == "3.0.0"
    assert set(document["servers"]) == {"amqp", "amqps"}
    messages = document["components"]["messages"]
    for type_name in MESSAGE_SPECS:
        assert messages[type_name]["payload"] == {"$ref": f"./json/{type_name}.schema.json"}
        assert (SCHEMAS / "json" / f"{type_name}.schema.json").is_file()
    assert document["channels"]["inbox"]["address"] == "maatwerk.inbox.{participant}"
    assert "participant" in document["channels"]["inbox"]["parameters"]


def test_json_schemas_have_dialect_and_id() -> None:
    for path in sorted((SCHEMAS / "json").glob("*.schema.json")):
        schema = _load(path)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f"/json/{path.name}")
        assert schema["title"]
