"""The data-sharing policy: field categories, rule selection, deny by default, loading, checks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml

from hub.contract.bodies import DataCategory, EscalationRequest, RegisterAnswer, TimeoutRequest
from hub.contract.errors import ConfigError, PolicyRefusal, ReasonCode
from hub.contract.messages import Envelope, Purpose, new_document, validate_document
from hub.contract.policy import Policy, check_policy, field_categories, load_policy
from hub.contract.registry import Registry, load_registry
from tests.helpers import BSN, timeout_request_body

DUMMY_SIGNATURE = {"alg": "Ed25519", "kid": "AAAAAAAAAAAAAAAAAAAAAA", "value": "A" * 86}
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_ID = UUID("6f1c2a5e-0000-4000-8000-000000000001")
AGENCY_REFERENCES = {
    "cjib": ["cjib_payment_references"],
    "duo": ["duo_debt_numbers"],
    "uwv": ["uwv_recovery_decisions"],
    "svb": ["svb_benefit_references"],
    "belastingdienst": ["belastingdienst_assessments", "toeslagen_years"],
}
REFERENCE_VALUES: dict[str, list[Any]] = {
    "cjib_payment_references": ["1234567890123456"], "duo_debt_numbers": ["DUO-77341"],
    "uwv_recovery_decisions": ["UWV-TV-2026-0042"], "svb_benefit_references": ["SVB-KB-5521"],
    "belastingdienst_assessments": ["1234.56.789.H.01"], "toeslagen_years": [2024],
}
CONTACT = {"name": "A. de Vries", "email": "a.devries@zwolle.example", "phone": "+31 38 000 0007"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


def message(type: str, recipient: str, body: dict[str, Any], sender: str = "gm0193",
            **kw: Any) -> tuple[Envelope, dict[str, Any]]:
    document = new_document(type=type, sender=sender, recipient=recipient, case_id="ZW-2026-0042",
                            body=body, created_at=NOW, **kw)
    document["signature"] = DUMMY_SIGNATURE
    return validate_document(document), document


def evaluate(policy: Policy, registry: Registry, type: str, recipient: str, body: dict[str, Any],
             at: datetime = NOW, **kw: Any) -> str:
    envelope, document = message(type, recipient, body, **kw)
    participant = registry.get(recipient)
    assert participant is not None
    return policy.evaluate(envelope, document, participant, at).rule


def refusal(policy: Policy, registry: Registry, type: str, recipient: str, body: dict[str, Any],
            at: datetime = NOW, **kw: Any) -> PolicyRefusal:
    with pytest.raises(PolicyRefusal) as caught:
        evaluate(policy, registry, type, recipient, body, at, **kw)
    return caught.value


def escalation_body(**extra: Any) -> dict[str, Any]:
    return {"bsn": BSN, "municipality": "GM0193", "problem_areas": ["debts", "housing"],
            "agencies_involved": ["cjib", "duo"], "urgency": "urgent",
            "situation_summary": "Huurachterstand, drie incassotrajecten tegelijk.",
            "contact": CONTACT, **extra}


# -- field categories --------------------------------------------------------------------------

def test_field_categories_descend_nested_models() -> None:
    categories = field_categories(TimeoutRequest)
    assert categories["bsn"] is DataCategory.IDENTIFYING
    assert categories["references"] is DataCategory.REFERENCE
    assert categories["references.duo_debt_numbers"] is DataCategory.REFERENCE
    assert categories["health_context"] is DataCategory.HEALTH
    contact = field_categories(EscalationRequest)
    assert contact["contact"] is contact["contact.email"] is DataCategory.CONTACT
    assert "entries.id" not in field_categories(RegisterAnswer)  # lists are one path


# -- time-out requests to agencies: own references only ----------------------------------------

def _body_with(refs: list[str], **extra: Any) -> dict[str, Any]:
    return timeout_request_body("cjib", references={r: REFERENCE_VALUES[r] for r in refs}, **extra)


@pytest.mark.parametrize("agency", sorted(AGENCY_REFERENCES))
def test_agency_gets_its_own_references(policy: Policy, registry: Registry, agency: str) -> None:
    body = _body_with(AGENCY_REFERENCES[agency], debt_assistance_started=True)
    rule = evaluate(policy, registry, "timeout.request", agency, body)
    assert rule == f"timeout-request-{agency}"


@pytest.mark.parametrize("agency", sorted(AGENCY_REFERENCES))
def test_agency_is_refused_another_agencys_references(
    policy: Policy, registry: Registry, agency: str
) -> None:
    other = next(a for a in sorted(AGENCY_REFERENCES) if a != agency)
    foreign = AGENCY_REFERENCES[other][0]
    body = _body_with([*AGENCY_REFERENCES[agency], foreign])
    refused = refusal(policy, registry, "timeout.request", agency, body)
    assert refused.reason is ReasonCode.POLICY_FIELD_NOT_ALLOWED
    assert refused.rule == f"timeout-request-{agency}"
    assert refused.field_paths == [f"/body/references/{foreign}"]  # JSON Pointer (RFC 6901)
    assert f"/body/references/{foreign}" in refused.detail


@pytest.mark.parametrize("field", ["situation_summary", "health_context", "addiction_context",
                                   "justice_context"])
def test_sensitive_field_to_agency_is_a_special_category_refusal(
    policy: Policy, registry: Registry, field: str
) -> None:
    body = timeout_request_body("cjib", **{field: "Schuldhulp sinds mei; GGZ-behandeling."})
    refused = refusal(policy, registry, "timeout.request", "cjib", body)
    assert refused.reason is ReasonCode.POLICY_SPECIAL_CATEGORY
    assert refused.rule == "timeout-request-cjib"
    assert refused.field_paths == [f"/body/{field}"]


def test_refusal_lists_every_offending_path_sorted(policy: Policy, registry: Registry) -> None:
    body = _body_with(["cjib_payment_references", "uwv_recovery_decisions", "duo_debt_numbers"],
                      situation_summary="tekst")
    refused = refusal(policy, registry, "timeout.request", "cjib", body)
    assert refused.reason is ReasonCode.POLICY_SPECIAL_CATEGORY
    assert refused.field_paths == ["/body/references/duo_debt_numbers",
                                   "/body/references/uwv_recovery_decisions",
                                   "/body/situation_summary"]


def test_refusal_never_repeats_values(policy: Policy, registry: Registry) -> None:
    secret = "Verslaafd aan gokken, in behandeling bij de GGZ"
    body = _body_with(["cjib_payment_references", "duo_debt_numbers"], health_context=secret)
    refused = refusal(policy, registry, "timeout.request", "cjib", body)
    for value in (BSN, secret, "DUO-77341", "1234567890123456"):
        assert value not in refused.detail
        assert value not in str(refused)
        assert all(value not in p for p in refused.field_paths)


def test_null_counts_as_absent(policy: Policy, registry: Registry) -> None:
    body = timeout_request_body("cjib", situation_summary=None, health_context=None)
    assert evaluate(policy, registry, "timeout.request", "cjib", body) == "timeout-request-cjib"


# -- escalation to the loket -------------------------------------------------------------------

def test_escalation_with_situation_summary_reaches_the_loket(
    policy: Policy, registry: Registry
) -> None:
    body = escalation_body(local_efforts="Budgetbeheer en een betalingsregeling geprobeerd.")
    rule = evaluate(policy, registry, "escalation.request", "loket", body)
    assert rule == "escalation-request-loket"


@pytest.mark.parametrize("field", ["health_context", "addiction_context", "justice_context"])
def test_escalation_special_categories_are_refused(
    policy: Policy, registry: Registry, field: str
) -> None:
    refused = refusal(policy, registry, "escalation.request", "loket",
                      escalation_body(**{field: "Detail dat niet mee mag."}))
    assert refused.reason is ReasonCode.POLICY_SPECIAL_CATEGORY
    assert (refused.rule, refused.field_paths) == ("escalation-request-loket", [f"/body/{field}"])


def test_municipality_receives_the_full_timeout_response(
    policy: Policy, registry: Registry
) -> None:
    body = {"outcome": "partially_accepted", "effective_from": "2026-12-01",
            "effective_until": "2027-03-31", "paused_scope": ["collection"],
            "not_paused_scope": ["set_off"], "reason_code": "no_legal_room",
            "explanation": "Verrekening loopt via een andere regeling.", "contact": CONTACT}
    rule = evaluate(policy, registry, "timeout.response", "gm0193", body, sender="cjib",
                    in_reply_to=NOW_ID)
    assert rule == "timeout-response-municipality"


# -- selection ---------------------------------------------------------------------------------

RULE = {"message_type": "timeout.request", "reason": "test",
        "allow": ["bsn", "references", "requested_from", "requested_months", "reason_code",
                  "scope"]}


def write_policy(tmp_path: Path, rules: list[dict[str, Any]], extra: str = "") -> Path:
    path = tmp_path / "policy.yaml"
    text = yaml.safe_dump({"version": "t-1", "published": date(2026, 11, 1), "rules": rules})
    path.write_text(extra + text)
    return path


def load(tmp_path: Path, rules: list[dict[str, Any]]) -> Policy:
    return load_policy(write_policy(tmp_path, rules))


def test_recipient_rule_beats_kind_rule(tmp_path: Path, registry: Registry) -> None:
    crafted = load(tmp_path, [
        {**RULE, "id": "any-agency", "recipient_kind": "agency"},
        {**RULE, "id": "only-cjib", "recipient": "cjib",
         "allow": ["bsn", "references.cjib_payment_references", "requested_from",
                   "requested_months", "reason_code", "scope"]},
    ])
    body = timeout_request_body("cjib")
    assert evaluate(crafted, registry, "timeout.request", "cjib", body) == "only-cjib"
    assert evaluate(crafted, registry, "timeout.request", "duo",
                    timeout_request_body("duo")) == "any-agency"
    # The more specific rule applies even though the kind rule would allow more.
    body["references"]["duo_debt_numbers"] = ["DUO-1"]
    assert refusal(crafted, registry, "timeout.request", "cjib", body).rule == "only-cjib"


def test_a_rule_outside_its_window_does_not_apply(tmp_path: Path, registry: Registry) -> None:
    crafted = load(tmp_path, [{**RULE, "id": "agreement-2026", "recipient": "cjib",
                               "not_before": date(2026, 1, 1), "not_after": date(2026, 12, 31)}])
    body = timeout_request_body("cjib")
    assert evaluate(crafted, registry, "timeout.request", "cjib", body) == "agreement-2026"
    for at in (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)):
        refused = refusal(crafted, registry, "timeout.request", "cjib", body, at=at)
        assert refused.reason is ReasonCode.POLICY_NO_RULE
        assert (refused.rule, refused.field_paths) == (None, [])


def test_no_rule_for_the_recipient(policy: Policy, registry: Registry) -> None:
    # Without the SVB rule nothing (not even a kind rule) lets a time-out request reach the SVB.
    crafted = Policy(policy.document.model_copy(update={"rules": [
        r for r in policy.rules if r.id != "timeout-request-svb"]}))
    refused = refusal(crafted, registry, "timeout.request", "svb", timeout_request_body("svb"))
    assert refused.reason is ReasonCode.POLICY_NO_RULE


def test_purpose_restricted_rule(tmp_path: Path, registry: Registry) -> None:
    crafted = load(tmp_path, [{"id": "receipts-in-timeouts", "message_type": "receipt",
                               "recipient_kind": "agency", "purpose": "pmm.timeout",
                               "allow": ["received_at"], "reason": "test"}])
    body = {"received_at": "2026-11-23T12:00:00.000Z"}
    ok = evaluate(crafted, registry, "receipt", "cjib", body, purpose=Purpose.TIMEOUT,
                  in_reply_to=NOW_ID)
    assert ok == "receipts-in-timeouts"
    refused = refusal(crafted, registry, "receipt", "cjib", body,
                      purpose=Purpose.BRIDGING, in_reply_to=NOW_ID)
    assert refused.reason is ReasonCode.POLICY_NO_RULE


# -- loading -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("rule", "expected"), [
    ({**RULE, "id": "bad-type", "message_type": "timeout.pause", "recipient": "cjib"},
     "rules[0] (id 'bad-type')"),
    ({**RULE, "id": "bad-path", "recipient": "cjib", "allow": ["references.foo"]},
     "'references.foo' is not a field of timeout.request"),
    ({**RULE, "id": "no-ground", "recipient": "cjib", "allow": ["bsn", "health_context"]},
     "legal_ground: required"),
    ({**RULE, "id": "no-ground-parent", "recipient": "loket", "message_type": "let.decision",
      "allow": ["explanation"]}, "legal_ground: required"),
    ({**RULE, "id": "two-selectors", "recipient": "cjib", "recipient_kind": "agency"},
     "exactly one of recipient and recipient_kind"),
    ({**RULE, "id": "no-selector"}, "exactly one of recipient and recipient_kind"),
    ({**RULE, "id": "extra", "recipient": "cjib", "allow_all": True}, "allow_all"),
    ({**RULE, "id": "Not A Slug", "recipient": "cjib"}, "rules[0] (id 'Not A Slug'): id"),
])
def test_load_errors_name_the_rule(tmp_path: Path, rule: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, [rule])
    assert expected in str(caught.value)
    assert f"(id {rule['id']!r})" in str(caught.value)


def test_duplicate_rule_id_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rules\[1\] \(id 'same'\): id: already used by rules"):
        load(tmp_path, [{**RULE, "id": "same", "recipient": "cjib"},
                        {**RULE, "id": "same", "recipient": "duo"}])


def test_bad_yaml_and_x_keys(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(bad)
    anchored = write_policy(tmp_path, [{**RULE, "id": "ok", "recipient": "cjib"}],
                            extra="x-fields: &f [bsn]\n")
    assert load_policy(anchored).rules[0].id == "ok"


# -- check_policy ------------------------------------------------------------------------------

def test_default_policy_checks_clean(policy: Policy, registry: Registry) -> None:
    assert check_policy(policy, registry) == []
    assert policy.version == "2026.11.1"


def test_check_finds_unreachable_and_contradictory_rules(
    tmp_path: Path, registry: Registry
) -> None:
    crafted = load(tmp_path, [
        {**RULE, "id": "unknown-recipient", "recipient": "ind"},
        {**RULE, "id": "cannot-receive", "recipient": "let"},
        {**RULE, "id": "wrong-purpose", "recipient": "cjib", "purpose": "pmm.bridging"},
        {**RULE, "id": "expired", "recipient": "duo", "not_after": date(2025, 12, 31)},
        {**RULE, "id": "backwards", "recipient": "uwv", "not_before": date(2027, 1, 1),
         "not_after": date(2026, 1, 1)},
        {**RULE, "id": "first", "recipient_kind": "agency", "not_after": date(2027, 6, 30)},
        {**RULE, "id": "second", "recipient_kind": "agency", "purpose": "pmm.timeout",
         "not_before": date(2027, 6, 1), "not_after": date(2027, 6, 30)},
        {**RULE, "id": "after-first", "recipient_kind": "agency", "not_before": date(2027, 7, 1)},
    ])
    findings = check_policy(crafted, registry, today=date(2026, 11, 23))
    errors = {(f.rule, f.text.split(" ")[0]) for f in findings if f.level == "error"}
    assert ("unknown-recipient", "recipient") in errors
    assert ("cannot-receive", "the") in errors
    assert ("wrong-purpose", "purpose") in errors
    assert ("backwards", "not_after") in errors
    contradictions = [f for f in findings if f.text.startswith("contradicts")]
    assert [(f.rule, f.level) for f in contradictions] == [("second", "error")]
    assert "contradicts rule first:" in contradictions[0].text
    assert any(f.level == "warning" and f.rule == "expired" for f in findings)
    # Nothing covers the municipalities' receipts in this crafted policy.
    assert any(f.level == "warning" and f.rule is None and "receipt to gm0193" in f.text
               for f in findings)


def test_explain_names_rule_and_reason(policy: Policy, registry: Registry) -> None:
    _, document = message("timeout.request", "cjib",
                          timeout_request_body("cjib", health_context="GGZ"))
    rows = {x.path: x for x in policy.explain(document, registry, NOW)}
    assert rows["bsn"].allowed and rows["bsn"].rule == "timeout-request-cjib"
    assert not rows["health_context"].allowed
    assert rows["health_context"].category is DataCategory.HEALTH
    assert "GGZ" not in rows["health_context"].why
