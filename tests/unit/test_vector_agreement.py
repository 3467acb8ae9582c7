"""Issue 11, points 1, 2 and 13: the published schemas, the listed rules and the hub agree.

Every vector runs through a standard validator (``jsonschema``, Draft 2020-12, format checking
on) plus the rules listed under ``x-maatwerk.rules`` (checked here by code of their own, not the
hub's), and through the hub (``authenticate`` and ``Pipeline.process``); any disagreement fails.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from referencing import Registry as SchemaRegistry
from referencing import Resource

from hub.contract.agreements import load_agreements
from hub.contract.authenticate import Limits, authenticate
from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import MESSAGE_TYPES
from hub.contract.notary import Notary
from hub.contract.policy import load_policy
from hub.contract.registry import load_registry
from hub.core.audit_entries import entry_for_route
from hub.core.outcomes import Inbound, Refuse, Route
from hub.core.pipeline import Pipeline, PipelineSettings
from hub.state.audit import AuditLog
from hub.state.database import open_database
from hub.state.ledger import Ledger
from hub.state.migrations import migrate
from hub.state.seen import REFUSED, MessageStore

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
VECTORS = SCHEMAS / "test-vectors"
VALID = sorted((VECTORS / "valid").glob("*.json"))
INVALID = sorted((VECTORS / "invalid").glob("*.json"))
SCHEMA_REASONS = {ReasonCode.SCHEMA_VIOLATION, ReasonCode.UNKNOWN_TYPE, ReasonCode.MALFORMED_JSON}


def _load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _schema(type_name: str) -> dict[str, Any]:
    return dict(_load(SCHEMAS / "json" / f"{type_name}.schema.json"))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the listed rules, implemented from their sentence, independently of the hub ------------------

def _elfproef(bsn: str) -> bool:
    total = sum(int(d) * w for d, w in zip(bsn, (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True))
    return total % 11 == 0


def _max_days() -> float:
    lifetimes = load_agreements().lifetimes.default
    assert lifetimes.days is not None
    return lifetimes.days


RULE_CHECKS: dict[str, Any] = {
    "expires-after-created": lambda m: _time(m["expires_at"]) > _time(m["created_at"]),
    "sender-not-recipient": lambda m: m["sender"] != m["recipient"],
    "bsn-elfproef": lambda m: _elfproef(m["body"]["bsn"]),
    "effective-until-not-before-from": lambda m: not (
        m["body"].get("effective_from") and m["body"].get("effective_until"))
    or m["body"]["effective_until"] >= m["body"]["effective_from"],
    "period-until-not-before-from": lambda m: m["body"]["period_until"]
    >= m["body"]["period_from"],
    "resume-on-after-suspended-from": lambda m: m["body"].get("resume_on") is None
    or m["body"]["resume_on"] > m["body"]["suspended_from"],
    "max-lifetime": lambda m: _time(m["expires_at"]) - _time(m["created_at"])
    <= timedelta(days=_max_days()),
}


def standard_verdict(message: Any) -> tuple[ReasonCode | None, list[str]]:
    """What a team with only schemas/ concludes: the reason of the first failure (schema, then
    the listed rules in order) and the failing rule ids / schema paths, or None."""
    if not isinstance(message, dict):
        return ReasonCode.MALFORMED_JSON, []
    if message.get("type") not in MESSAGE_TYPES:
        return ReasonCode.UNKNOWN_TYPE, []
    schema = _schema(message["type"])
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path))
    if errors:
        return ReasonCode.SCHEMA_VIOLATION, ["/" + "/".join(map(str, e.absolute_path))
                                             for e in errors]
    for rule in schema["x-maatwerk"]["rules"]:
        if not RULE_CHECKS[rule["id"]](message):
            return ReasonCode(rule["reason_code"]), [rule["id"]]
    return None, []


def test_every_listed_rule_has_a_check_and_an_invalid_vector() -> None:
    listed = {r["id"] for t in MESSAGE_TYPES for r in _schema(t)["x-maatwerk"]["rules"]}
    assert listed == set(RULE_CHECKS)
    failing = set()
    for path in INVALID:
        vector = _load(path)
        message = vector.get("message")
        if isinstance(message, dict) and message.get("type") in MESSAGE_TYPES:
            failing.update(standard_verdict(message)[1])
    assert listed <= failing, f"listed rules without an invalid vector: {listed - failing}"


def test_schemas_are_valid_draft_2020_12_and_registry_resolves() -> None:
    resources = [(s["$id"], Resource.from_contents(s))
                 for s in (_load(p) for p in (SCHEMAS / "json").glob("*.json"))]
    SchemaRegistry().with_resources(resources)
    for path in (SCHEMAS / "json").glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(_load(path))


@pytest.mark.parametrize("path", VALID + INVALID, ids=lambda p: p.name)
def test_standard_validator_and_hub_agree(path: Path) -> None:
    vector = _load(path)
    message = vector.get("message")
    if "message_text" in vector:
        raw = vector["message_text"].encode("utf-8")
        try:
            message = json.loads(vector["message_text"], object_pairs_hook=_no_duplicates)
        except ValueError:
            message = None
    else:
        raw = json.dumps(message, ensure_ascii=False).encode("utf-8")
    predicted, _ = standard_verdict(message)
    limit = vector.get("max_message_bytes")
    if limit is not None and len(raw) > limit:
        predicted = ReasonCode.OVERSIZE
    registry = load_registry(VECTORS / "registry.yaml")
    hub_reason: ReasonCode | None = None
    try:
        authenticate(raw, None, registry, _time(vector["verify_at"]),
                     limits=Limits(max_message_bytes=limit), check_identity=False)
    except Refusal as refusal:
        hub_reason = refusal.reason
    if predicted in SCHEMA_REASONS or predicted is ReasonCode.OVERSIZE:
        assert hub_reason is predicted, f"validator: {predicted}, hub: {hub_reason}"
    else:
        assert hub_reason not in SCHEMA_REASONS, f"the hub refuses with {hub_reason}, the " \
            "schema and the listed rules accept"
    if "expected_reason" not in vector:
        assert predicted is None and hub_reason is None
    elif predicted is not None:
        assert predicted.value == vector["expected_reason"]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


async def test_vectors_through_the_pipeline(tmp_path: Path) -> None:
    """Valid vectors route in order (each answer after what it answers); every invalid vector is
    then refused by Pipeline.process with its expected reason."""
    registry = load_registry(VECTORS / "registry.yaml")
    agreements = load_agreements()
    db = await open_database(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    await migrate(db)
    clock: list[datetime] = []
    pipeline = Pipeline(registry=registry, policy=load_policy(VECTORS / "policy.yaml"),
                        agreements=agreements,
                        store=MessageStore(db), clock=lambda: clock[-1],
                        settings=PipelineSettings())
    audit = AuditLog(db, hash_key=b"vectors")
    # a notary of its own: the hub copies the LET's decision (07) to the municipality
    notary = Notary(registry, Ed25519PrivateKey.generate())
    ledger = Ledger(db, agreements, registry, notary, audit)
    try:
        for path in VALID:
            vector = _load(path)
            message = vector["message"]
            if message["sender"] == "hub":
                continue  # the hub's own messages never pass its inbound pipeline
            clock.append(_time(vector["verify_at"]))
            outcome = await pipeline.process(_inbound(message, registry))
            assert isinstance(outcome, Route), f"{path.name}: {outcome}"
            await ledger.record_routed(
                outcome.envelope, policy_version=outcome.policy_version, rule=outcome.rule,
                now=clock[-1], raw=outcome.body, entry=entry_for_route(outcome, b"vectors"),
                stamp=outcome.stamp, info_rule=outcome.info_rule)
        for path in INVALID:
            vector = _load(path)
            clock.append(_time(vector["verify_at"]))
            pipeline.settings = PipelineSettings(
                max_message_bytes=vector.get("max_message_bytes", 256 * 1024))
            raw = (vector["message_text"].encode() if "message_text" in vector
                   else json.dumps(vector["message"]).encode())
            sender = registry.get("gm0193")
            assert sender is not None
            message = vector.get("message") or {}
            inbound = _inbound(message, registry) if message else Inbound(
                body=raw, user_id=sender.broker_user, message_id=None)
            outcome = await pipeline.process(Inbound(body=raw, user_id=inbound.user_id,
                                                     message_id=inbound.message_id))
            assert isinstance(outcome, Refuse), f"{path.name}: {outcome}"
            assert outcome.reason.value == vector["expected_reason"], (
                f"{path.name}: {outcome.reason} {outcome.detail}")
            if outcome.claimed and outcome.message_id is not None:
                # as the router records a refusal: the case has no message left in hand
                await pipeline.store.decide(outcome.message_id, REFUSED,
                                            reason=outcome.reason.value, decided_at=clock[-1])
            if outcome.reason in (ReasonCode.SCHEMA_VIOLATION, ReasonCode.POLICY_SPECIAL_CATEGORY,
                                  ReasonCode.POLICY_FIELD_NOT_ALLOWED):
                assert outcome.field_paths, f"{path.name}: no field_paths"
                assert all(p.startswith("/") for p in outcome.field_paths)
    finally:
        await db.close()


def _inbound(message: dict[str, Any], registry: Any) -> Inbound:
    sender = registry.get(message.get("sender")) or registry.get("gm0193")
    return Inbound(body=json.dumps(message, ensure_ascii=False).encode(),
                   user_id=sender.broker_user, message_id=message.get("id"))
