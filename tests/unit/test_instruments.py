"""The instruments of issue 13 without a broker: the contract's rules, the information rules, the
admission rule, register answers, the deviation register, its report and retention, and the
migration of an existing store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from adapters.information import answer_body
from hub.contract.errors import ConfigError
from hub.contract.information import find_rule
from hub.contract.instruments import DeviationRecord, InfoPurpose, InfoRequest, InfoResponse
from hub.contract.messages import new_document, validate_document
from hub.contract.notary import encode
from hub.contract.policy import load_policy
from hub.contract.registry import load_registry
from hub.contract.signing import sign_document
from hub.core.register_desk import entries
from hub.state import audit, deviations
from hub.state.database import open_database
from hub.state.migrations import MIGRATIONS, migrate
from hub.state.retention import purge
from tests.helpers import BSN

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
REGISTRY = load_registry()
POLICY = load_policy()


def deviation(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rule": {"law": "participatiewet", "article": "art. 58 lid 2"},
        "decision_code": "recovery_deferred", "decision_text": "Uitgesteld.",
        "period_from": "2026-12-01", "period_until": "2027-03-31",
        "decided_by_role": "teamleider", "legal_ground": {"law": "awb", "article": "4:84"},
        "approval": {"reference": "BA-ZWOLLE-2026-01", "approved_on": "2026-01-15"}}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def test_a_deviation_needs_approval_unless_the_board_decided() -> None:
    DeviationRecord.model_validate_json(json.dumps(deviation()))
    DeviationRecord.model_validate_json(json.dumps(deviation(decided_by_role="board",
                                                             approval=None)))
    with pytest.raises(ValidationError, match="bestuurlijke approval"):
        DeviationRecord.model_validate_json(json.dumps(deviation(approval=None)))
    with pytest.raises(ValidationError, match="period_until"):
        DeviationRecord.model_validate_json(json.dumps(deviation(period_until="2026-11-01")))


@pytest.mark.parametrize("article", ["moeder is ziek", "58; zie dossier", "Jan Jansen"])
def test_the_rule_reference_carries_no_free_text(article: str) -> None:
    with pytest.raises(ValidationError, match=r"rule\.article"):
        DeviationRecord.model_validate_json(json.dumps(deviation(
            rule={"law": "participatiewet", "article": article})))


def test_an_info_response_explains_its_refusal() -> None:
    with pytest.raises(ValidationError, match="names the rule"):
        InfoResponse.model_validate_json(json.dumps({
            "outcome": "refused", "refused_fields": ["monthly_income_cents"],
            "refusal_reason": "not_allowed_for_purpose"}))
    with pytest.raises(ValidationError, match="explains itself"):
        InfoResponse.model_validate_json(json.dumps({
            "outcome": "refused", "refused_fields": ["monthly_income_cents"]}))
    with pytest.raises(ValidationError, match="a refusal has none"):
        InfoResponse.model_validate_json(json.dumps({
            "outcome": "refused", "items": {"debt_total_cents": 1}, "rule": "r",
            "refused_fields": ["contact"], "refusal_reason": "not_held"}))


def test_the_most_specific_information_rule_applies() -> None:
    gm, cjib, uwv = (REGISTRY.participants[p] for p in ("gm0193", "cjib", "uwv"))
    purpose = InfoPurpose.TIMEOUT_PREPARATION
    cjib_rule, uwv_rule = (find_rule(POLICY.information, purpose, gm, who) for who in (cjib, uwv))
    assert cjib_rule is not None and uwv_rule is not None
    assert (cjib_rule.id, uwv_rule.id) == ("info-timeout-preparation-cjib",
                                           "info-timeout-preparation-agency")
    assert find_rule(POLICY.information, InfoPurpose.INCOME_CHECK, gm, cjib) is None
    assert find_rule(POLICY.information, purpose, cjib, gm) is None  # not the other way round


def test_the_holder_answers_only_what_the_rule_allows() -> None:
    gm, cjib = REGISTRY.participants["gm0193"], REGISTRY.participants["cjib"]
    request = InfoRequest.model_validate_json(json.dumps({
        "bsn": BSN, "purpose_code": "timeout_preparation", "legal_ground": "pmm-afstemming",
        "fields": ["debt_total_cents", "monthly_income_cents", "arrangement_status"]}))
    values = {"debt_total_cents": 10, "monthly_income_cents": 99}  # systems hold no arrangement
    body = answer_body(POLICY, request, gm, cjib, values)
    assert body == {"outcome": "partially_answered", "rule": "info-timeout-preparation-cjib",
                    "items": {"debt_total_cents": 10},
                    "refused_fields": ["monthly_income_cents", "arrangement_status"],
                    "refusal_reason": "not_allowed_for_purpose"}
    InfoResponse.model_validate_json(json.dumps(body))


def write(tmp_path: Path, information: list[dict[str, Any]]) -> Path:
    raw = yaml.safe_load(Path("hub/contract/defaults/policy.yaml").read_text())
    raw["information"] = information
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_an_information_rule_names_its_parties_and_ground_once(tmp_path: Path) -> None:
    rule = {"id": "info-x", "purpose_code": "debt_overview", "asker_kind": "municipality",
            "holder": "duo", "fields": ["debt_total_cents"], "legal_ground_code": "wgs",
            "legal_ground": "Wgs art. 7", "reason": "Debts for debt assistance."}
    assert load_policy(write(tmp_path, [rule])).information[0].id == "info-x"
    with pytest.raises(ConfigError, match="exactly one of holder and holder_kind"):
        load_policy(write(tmp_path, [{**rule, "holder_kind": "agency"}]))
    with pytest.raises(ConfigError, match="legal_ground"):
        load_policy(write(tmp_path, [{k: v for k, v in rule.items() if k != "legal_ground"}]))
    with pytest.raises(ConfigError, match="already used"):
        load_policy(write(tmp_path, [{**rule, "id": "timeout-request-cjib"}]))


def test_admission_and_register_answers() -> None:
    assert REGISTRY.participants["gm0193"].mandate is not None
    assert all(p.admitted for p in REGISTRY.document.participants)
    gm0363 = REGISTRY.participants["gm0363"].model_copy(update={"mandate": None})
    assert not gm0363.admitted
    assert REGISTRY.participants["cjib"].model_copy(update={"mandate": None}).admitted
    got = entries(REGISTRY, {"gm0193": {"email": "nieuw@zwolle.example"}},
                  ids=set(), kinds={"municipality"})
    assert [(e["id"], e["email"]) for e in got] == [("gm0193", "nieuw@zwolle.example"),
                                                    ("gm0363", "maatwerk@amsterdam.example")]


async def test_the_register_and_its_report_hold_no_personal_data(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        await migrate(db)
        document = sign_document(new_document(
            type="deviation.record", sender="gm0193", recipient="loket", case_id="ZW-2026-0042",
            body=deviation(), created_at=NOW), Ed25519PrivateKey.generate())
        envelope = validate_document(document, encode(document))
        await deviations.on_routed(db, envelope, NOW)
        await deviations.on_routed(db, envelope, NOW)  # a redelivery counts once
        report = await deviations.knelpunten(db, NOW)
        assert report.deviations == 1
        text = report.model_dump_json() + deviations.render(report)
        for personal in ("ZW-2026-0042", "Uitgesteld", BSN, "BA-ZWOLLE"):
            assert personal not in text
        log = audit.AuditLog(db, hash_key=b"k")
        result = await purge(db, log, older_than_days=1, now=datetime(2028, 1, 1, tzinfo=UTC))
        assert result.cases == ["ZW-2026-0042"] and result.rows["deviations"] == 1
        assert (await deviations.of_case(db, "ZW-2026-0042")) == []
        assert (await deviations.knelpunten(db, NOW)).deviations == 1  # still counted
    finally:
        await db.close()


async def test_an_existing_store_migrates_to_the_instruments(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        await db.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, "
                         "description TEXT NOT NULL)")
        for version, description, statements in MIGRATIONS[:4]:
            await db.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version,
                             description)
            for statement in statements:
                await db.execute(statement)
        await db.execute(
            "INSERT INTO timeouts (request_id, case_id, conversation_id, municipality, agency, "
            "state, requested_from, requested_months, updated_at) VALUES "
            "('r1', 'c1', 'v1', 'gm0193', 'cjib', 'active', '2026-12-01', 4, 0)")
        assert await migrate(db) == MIGRATIONS[-1][0]
        row = await db.fetchone("SELECT state, agency_reason FROM timeouts")
        assert row == {"state": "active", "agency_reason": None}
    finally:
        await db.close()


def test_policy_check_finds_an_information_rule_for_an_unknown_participant(
        tmp_path: Path) -> None:
    from hub.contract.policy import check_policy

    rule = {"id": "info-x", "purpose_code": "debt_overview", "asker_kind": "municipality",
            "holder": "nope", "fields": ["debt_total_cents"], "legal_ground_code": "wgs",
            "legal_ground": "Wgs art. 7", "reason": "Debts for debt assistance."}
    findings = check_policy(load_policy(write(tmp_path, [rule])), REGISTRY)
    assert [(f.level, f.rule, f.text) for f in findings if f.rule == "info-x"] == [
        ("error", "info-x", "nope is not in the registry")]
    assert not [f for f in check_policy(POLICY, REGISTRY) if f.level == "error"]
