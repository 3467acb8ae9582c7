"""The conformance kit without a broker: every probe it can build is a message the hub would
deliver (schema, signature, policy), the refusal probes are refused by the SDK's own checks for
the reason they claim, the report and JUnit XML say what failed, the settings come from the
environment and --help lists them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from hub.cli import build_parser
from hub.contract.authenticate import check_freshness, check_signature
from hub.contract.errors import ConfigError, ReasonCode, Refusal
from hub.contract.keys import ensure_dev_keys
from hub.contract.messages import MESSAGE_SPECS, parse_message
from hub.contract.policy import load_policy
from hub.contract.registry import Registry, load_registry
from hub.ops.conformance import CHECKS, KitSettings, Report, junit_xml, render
from hub.ops.conformance.checks import FAIL, PASS, SKIP, CheckResult
from hub.ops.conformance.plan import FORGED, TAMPERED, Planner
from hub.ops.conformance.settings import VARIABLES


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kit-keys")
    ensure_dev_keys(path, [p.id for p in load_registry().document.participants],
                    )
    return path


@pytest.fixture(scope="module")
def registry(keys: Path) -> Registry:
    return load_registry(None, keys)


def planner(registry: Registry, keys: Path, subject: str) -> Planner:
    # A clock well after the keys were made, so the expired probe can start after the key.
    return Planner(registry=registry, policy=load_policy(), keys_dir=keys, subject=subject,
                   clock=lambda: datetime.now(UTC) + timedelta(minutes=20))


ADAPTERS = ["belastingdienst", "duo", "uwv", "svb", "cjib", "gm0193", "loket", "let"]


@pytest.mark.parametrize("subject", ADAPTERS)
def test_every_received_type_gets_a_probe_the_hub_would_deliver(
    subject: str, registry: Registry, keys: Path
) -> None:
    plan = planner(registry, keys, subject)
    first = plan.first_wave()
    second = plan.second_wave(first, {})
    genuine = first + second
    assert plan.skipped == {}
    assert {p.type for p in genuine} == set(registry.participants[subject].receives)
    now = plan.clock()
    for probe in genuine:
        document, envelope = parse_message(probe.raw)
        check_signature(document, envelope, registry, now)
        check_freshness(envelope, now, 300)
        assert envelope.recipient == subject and envelope.case_id == plan.case_id
        if envelope.sender != registry.hub.id:  # participants' messages carry the policy rule
            assert probe.headers["x-maatwerk-rule"]
        assert envelope.type in registry.participants[envelope.sender].sends
    follow_ups = [p for p in second if MESSAGE_SPECS[p.type].follows_up]
    request = next((p for p in first if p.type == "timeout.request"), None)
    for probe in follow_ups:  # in the thread of the request, from its sender
        assert request is not None
        assert probe.document["in_reply_to"] == str(request.id)
        assert probe.document["conversation_id"] == request.document["conversation_id"]
        assert probe.sender == request.sender


def _refused(raw: bytes, registry: Registry, now: datetime) -> ReasonCode:
    with pytest.raises(Refusal) as caught:
        document, envelope = parse_message(raw)
        check_signature(document, envelope, registry, now)
        check_freshness(envelope, now, 300)
    return caught.value.reason


def test_refusal_probes_are_refused_for_the_reason_they_claim(
    registry: Registry, keys: Path
) -> None:
    plan = planner(registry, keys, "cjib")
    now = plan.clock()
    assert plan.main_type() == "timeout.request"
    tampered = plan.tampered("timeout.request")
    assert [p.kind for p in tampered] == [TAMPERED] * 3
    assert [_refused(p.raw, registry, now) for p in tampered] == [
        ReasonCode.BAD_SIGNATURE, ReasonCode.BAD_SIGNATURE, ReasonCode.SCHEMA_VIOLATION]
    forged = plan.forged()
    assert forged is not None and forged.kind == FORGED
    assert forged.type == "timeout.ended" and forged.sender == "hub"
    assert _refused(forged.raw, registry, now) is ReasonCode.UNKNOWN_KEY
    assert _refused(plan.expired("timeout.request").raw, registry, now) is ReasonCode.EXPIRED
    duplicate = plan.duplicate("timeout.request")
    assert duplicate.copies == 2


def test_a_missing_sender_key_is_a_clear_error(registry: Registry, tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path, ["hub"])  # the hub's key only: no municipality to play
    plan = Planner(registry=registry, policy=load_policy(), keys_dir=tmp_path, subject="cjib",
                   clock=lambda: datetime.now(UTC))
    with pytest.raises(ConfigError, match=r"private key of one of gm0193, gm0363.*keys generate"):
        plan.first_wave()
    with pytest.raises(ConfigError, match="is the hub"):
        Planner(registry=registry, policy=load_policy(), keys_dir=tmp_path, subject="hub",
                clock=lambda: datetime.now(UTC))


def _report() -> Report:
    return Report(participant="cjib", probes=(), seconds=1.5, notes=("a note",), results=(
        CheckResult("receipt.sent", PASS, "4 judged"),
        CheckResult("receipt.id", FAIL, "1 problem(s) in 4 judged",
                    (f"receipt {uuid4()} answering timeout.request: id wrong",)),
        CheckResult("refuses.forged", SKIP, "nothing to judge: no hub notice"),
    ))


def test_the_table_and_junit_say_what_failed() -> None:
    report = _report()
    assert not report.ok
    text = render(report)
    assert "FAIL  receipt.id" in text and "PASS  receipt.sent" in text
    assert "id wrong" in text and "DOES NOT CONFORM" in text and "a note" in text
    suite = ET.fromstring(junit_xml(report)).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["receipt.id"].find("failure")
    assert failure is not None and "id wrong" in (failure.text or "")
    assert cases["refuses.forged"].find("skipped") is not None
    assert cases["receipt.sent"].find("failure") is None


def test_settings_come_from_the_environment_and_flags_win() -> None:
    env = {"AMQP_URL": "amqp://kit:pw@broker:5672/conformance", "MAATWERK_KEYS_DIR": "/k",
           "MAATWERK_REGISTRY": "/r.yaml", "MAATWERK_CONFORMANCE_RECEIPT_SECONDS": "7",
           "MAATWERK_CONFORMANCE_ANSWER_SECONDS": "9"}
    settings = KitSettings.from_env("duo", env, answer_seconds=3, manual_answers=["x"])
    assert settings.amqp_url.endswith("/conformance") and settings.keys_dir == Path("/k")
    assert settings.registry_path == Path("/r.yaml")
    assert (settings.receipt_seconds, settings.answer_seconds, settings.settle_seconds) == (
        7, 3, 2)
    assert settings.manual_answers == frozenset({"x"})
    with pytest.raises(ConfigError, match="MAATWERK_CONFORMANCE_SETTLE_SECONDS"):
        KitSettings.from_env("duo", {"MAATWERK_CONFORMANCE_SETTLE_SECONDS": "soon"})


def test_help_names_the_vhost_rule_every_check_and_every_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["conformance", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "VHOST WHERE NO HUB RUNS" in text and "--junit" in text
    for name in [*CHECKS, *VARIABLES]:
        assert name in text


def test_docs_list_every_check_and_variable() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text()
    for name in [*CHECKS, *VARIABLES]:
        assert f"`{name}`" in docs, name
