"""The conformance kit against live adapters on the real broker, with no hub running: it passes
the five reference agency adapters, the municipality and the loket, and catches each defect of
tests/support/broken_adapter.py, reporting exactly the check that covers it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aio_pika
import pytest

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.cases import CaseStore
from adapters.loket import LoketAdapter
from adapters.municipality import MunicipalityAdapter
from adapters.sdk import BackOffice, HubClient
from hub.contract.errors import ConfigError
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.registry import Registry
from hub.core import topology
from hub.ops.conformance import KitSettings, Report, render, run_conformance
from hub.ops.conformance.checks import FAIL, PASS
from hub.service import HubService
from sandbox.processes import adapter_command, child_env, spawn
from tests.conftest import amqp_url
from tests.support.broken_adapter import DEFECTS, BrokenClient, broken_agency
from tests.support.fake_backoffice import FakeBackOffice

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

TOKEN = "kit-token"


@pytest.fixture
async def broker(vhost: str, registry: Registry) -> str:
    """The vhost with the topology declared, as `maatwerk-hub topology apply` leaves it."""
    url = amqp_url("guest", "guest", vhost)
    connection = await aio_pika.connect(url)
    async with connection:
        await topology.declare(await connection.channel(), registry, 5)
    return url


Start = Callable[..., Awaitable[HubClient]]


@pytest.fixture
async def start(broker: str, vhost: str, registry: Registry, passwords: dict[str, str],
                keys_dir: Path, tmp_path: Path) -> AsyncIterator[Start]:
    """``await start("cjib", cls=HubClient)``: a connected client, not yet consuming."""
    made: list[HubClient] = []

    async def make(participant_id: str, cls: type[HubClient] = HubClient) -> HubClient:
        participant = registry.get(participant_id)
        assert participant is not None
        client = cls(
            participant_id,
            amqp_url=amqp_url(participant.broker_user, passwords[participant.broker_user], vhost),
            key=load_private_key(private_key_path(keys_dir, participant_id)), registry=registry,
            state_url=f"sqlite:///{tmp_path / f'{participant_id}-{len(made)}.sqlite3'}",
            retries=1, backoff=0.01)
        await client.connect()
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def fake() -> AsyncIterator[Callable[[str], Awaitable[FakeBackOffice]]]:
    made: list[FakeBackOffice] = []

    async def make(name: str) -> FakeBackOffice:
        office = await FakeBackOffice(name, token=TOKEN, delay=0).start()
        made.append(office)
        return office

    yield make
    for office in made:
        await office.stop()


def kit(broker: str, keys_dir: Path, participant: str, **timing: float) -> KitSettings:
    values = {"receipt_seconds": 5.0, "answer_seconds": 8.0, "settle_seconds": 0.5,
              "wait_seconds": 10.0, **timing}
    return KitSettings(participant=participant, amqp_url=broker, keys_dir=keys_dir, **values)


def statuses(report: Report) -> dict[str, str]:
    return {r.name: r.status for r in report.results}


def assert_conforms(report: Report) -> None:
    print(render(report))
    assert report.ok, render(report)
    passed = {name for name, status in statuses(report).items() if status == PASS}
    # Everything the kit can judge for an adapter that receives requests and notices is judged.
    assert {"inbox.accepted", "receipt.sent", "refuses.tampered", "refuses.forged",
            "refuses.expired", "duplicate.once"} <= passed, render(report)


@pytest.mark.parametrize("agency", sorted(PROFILES))
async def test_the_kit_passes_each_reference_agency_adapter(
    agency: str, start: Start, fake: Callable[[str], Awaitable[FakeBackOffice]], broker: str,
    keys_dir: Path, registry: Registry,
) -> None:
    office = await fake(agency)
    client = await start(agency)
    AgencyAdapter(client, BackOffice(office.url, token=TOKEN, timeout=2.0), PROFILES[agency])
    await client.consume()

    report = await run_conformance(kit(broker, keys_dir, agency), registry=registry)

    assert_conforms(report)
    for name in ("receipt.id", "receipt.signed", "answer.sent", "answer.allowed", "answer.id",
                 "answer.signed"):
        assert statuses(report)[name] == PASS, render(report)
    # Every type the registry says the agency receives was delivered, genuine, at least once.
    delivered = {p.type for p in report.probes if p.kind == "genuine"}
    assert delivered == set(registry.participants[agency].receives), render(report)
    # The back office acted on genuine messages only: once for the duplicate, never for a
    # tampered, forged or expired one.
    acted = {p.id for p in report.probes if p.kind in ("genuine", "duplicate")}
    refused = {p.id for p in report.probes if p.kind in ("tampered", "forged", "expired")}
    assert set(office.calls) & {str(i) for i in refused} == set()
    assert all(office.effects[str(i)] <= 1 for i in acted)


async def test_the_kit_passes_the_municipality_adapter(
    start: Start, broker: str, keys_dir: Path, registry: Registry, tmp_path: Path,
) -> None:
    client = await start("gm0193")
    MunicipalityAdapter(client, CaseStore(tmp_path / "cases"))
    await client.consume()

    # a maatwerkfunctionaris answers an info.request (answer_information): written by people
    settings = dataclasses.replace(kit(broker, keys_dir, "gm0193"),
                                   manual_answers=frozenset({"info.request"}))
    report = await run_conformance(settings, registry=registry)

    assert_conforms(report)
    assert statuses(report)["answer.sent"] == "skip"  # a municipality answers nothing itself


async def test_the_kit_passes_the_loket_adapter(
    start: Start, fake: Callable[[str], Awaitable[FakeBackOffice]], broker: str,
    keys_dir: Path, registry: Registry, tmp_path: Path,
) -> None:
    office = await fake("loket")
    client = await start("loket")
    LoketAdapter(client, CaseStore(tmp_path / "cases"),
                 backoffice=BackOffice(office.url, token=TOKEN, timeout=2.0))
    await client.consume()

    report = await run_conformance(kit(broker, keys_dir, "loket"), registry=registry)

    assert_conforms(report)
    assert statuses(report)["answer.sent"] == PASS, render(report)  # escalation.response
    assert statuses(report)["answer.allowed"] == PASS, render(report)


async def test_answers_written_by_people_are_not_waited_for(
    start: Start, broker: str, keys_dir: Path, registry: Registry, tmp_path: Path,
) -> None:
    """A loket without a case system: a person answers escalations, so --manual-answer."""
    client = await start("loket")
    LoketAdapter(client, CaseStore(tmp_path / "cases"))
    await client.consume()
    settings = replace(kit(broker, keys_dir, "loket"),
                       manual_answers=frozenset({"escalation.request"}))

    report = await run_conformance(settings, registry=registry)

    assert_conforms(report)
    assert statuses(report)["answer.sent"] == "skip"
    assert report.seconds < settings.answer_seconds  # it did not wait for the person


@pytest.mark.parametrize("defect", sorted(DEFECTS))
async def test_the_kit_catches_each_defect_of_the_broken_adapter(
    defect: str, start: Start, fake: Callable[[str], Awaitable[FakeBackOffice]], broker: str,
    keys_dir: Path, registry: Registry,
) -> None:
    office = await fake("cjib")
    client = await start("cjib", cls=BrokenClient)
    assert isinstance(client, BrokenClient)
    broken_agency(client, BackOffice(office.url, token=TOKEN, timeout=2.0), defect)
    await client.consume()

    report = await run_conformance(
        kit(broker, keys_dir, "cjib", receipt_seconds=3.0, answer_seconds=5.0),
        registry=registry)

    failed = {name for name, status in statuses(report).items() if status == FAIL}
    assert failed == {DEFECTS[defect]}, render(report)
    assert not report.ok


async def test_the_command_passes_a_live_adapter_process_and_writes_junit(
    fake: Callable[[str], Awaitable[FakeBackOffice]], broker: str, vhost: str, keys_dir: Path,
    registry: Registry, registry_file: Path, passwords: dict[str, str], tmp_path: Path,
) -> None:
    """The CI path end to end: `maatwerk-adapter run cjib` in its own process, then
    `maatwerk-hub conformance cjib --junit FILE`: exit code 0 and a JUnit file of passes."""
    office = await fake("cjib")
    user = registry.participants["cjib"].broker_user
    base = {**os.environ, "MAATWERK_REGISTRY": str(registry_file),
            "MAATWERK_KEYS_DIR": str(keys_dir), "MAATWERK_LOG_LEVEL": "WARNING"}
    adapter = spawn("adapter-cjib", adapter_command("run", "cjib"), child_env(
        base, AMQP_URL=amqp_url(user, passwords[user], vhost), BACKOFFICE_URL=office.url,
        BACKOFFICE_TOKEN=TOKEN, MAATWERK_ADAPTER_STATE=str(tmp_path / "cjib")),
        tmp_path / "adapter-cjib.log")
    junit = tmp_path / "reports" / "conformance.xml"
    try:
        kit_process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub", "conformance", "cjib", "--junit", str(junit),
            "--receipt-seconds", "5", "--answer-seconds", "8", "--settle-seconds", "0.5",
            "--wait", "30", env={**base, "AMQP_URL": broker},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await asyncio.wait_for(kit_process.communicate(), timeout=90)
    finally:
        await adapter.stop(grace=15)
    text = output.decode()
    assert kit_process.returncode == 0, text
    assert "CONFORMS" in text and "FAIL " not in text
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    names = {case.get("name") for case in suite.iter("testcase")}
    assert {"receipt.sent", "refuses.forged", "duplicate.once"} <= names


async def test_the_command_fails_a_broken_adapter_and_refuses_to_run_without_one(
    start: Start, fake: Callable[[str], Awaitable[FakeBackOffice]], broker: str,
    keys_dir: Path, registry_file: Path, tmp_path: Path,
) -> None:
    env = {**os.environ, "MAATWERK_REGISTRY": str(registry_file),
           "MAATWERK_KEYS_DIR": str(keys_dir), "AMQP_URL": broker}
    command = (sys.executable, "-m", "hub", "conformance", "cjib", "--receipt-seconds", "2",
               "--answer-seconds", "3", "--settle-seconds", "0.3")

    nobody = await asyncio.create_subprocess_exec(
        *command, "--wait", "0.5", env=env, stderr=asyncio.subprocess.PIPE)
    _, error = await nobody.communicate()
    assert nobody.returncode == 2
    assert b"no consumer reads maatwerk.inbox.cjib" in error

    office = await fake("cjib")
    client = await start("cjib", cls=BrokenClient)
    assert isinstance(client, BrokenClient)
    broken_agency(client, BackOffice(office.url, token=TOKEN, timeout=2.0), "no_receipt")
    await client.consume()
    junit = tmp_path / "broken.xml"
    failing = await asyncio.create_subprocess_exec(
        *command, "--junit", str(junit), env=env, stdout=asyncio.subprocess.PIPE)
    output, _ = await failing.communicate()
    assert failing.returncode == 1, output.decode()
    assert b"FAIL  receipt.sent" in output
    failures = [case.get("name") for case in ET.parse(junit).getroot().iter("testcase")
                if case.find("failure") is not None]
    assert failures == ["receipt.sent"]


async def test_the_kit_refuses_to_run_beside_a_hub(
    hub: HubService, start: Start, broker: str, keys_dir: Path, registry: Registry,
    tmp_path: Path,
) -> None:
    """The kit stands where the hub stands: with a hub consuming the same vhost it would steal
    the hub's messages (and the hub the kit's), so it stops before sending anything."""
    client = await start("gm0193")
    MunicipalityAdapter(client, CaseStore(tmp_path / "cases"))
    await client.consume()
    with pytest.raises(ConfigError, match="a hub is running"):
        await run_conformance(kit(broker, keys_dir, "gm0193"), registry=registry)
