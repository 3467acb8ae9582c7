"""Time-out messages an agency starts, through the real broker: CJIB ends a noodstop because the
agreements were broken and the municipality is told; UWV suspends a pause from the command line;
the hub's time-out state and the case timeline follow."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.cases import CaseStore
from adapters.municipality import MunicipalityAdapter
from adapters.sdk import BackOffice, HubClient
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.registry import Registry
from hub.ops.status import render
from hub.service import HubService
from tests.conftest import ClientFactory, FakeClock, amqp_url
from tests.helpers import case_of, collect, timeout_request_body, wait_for
from tests.support.fake_backoffice import FakeBackOffice

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]
CASE = "ZW-2026-0042"


@pytest.fixture
async def offices() -> AsyncIterator[dict[str, FakeBackOffice]]:
    made = {name: await FakeBackOffice(name).start() for name in ("cjib", "uwv")}
    yield made
    for fake in made.values():
        await fake.stop()


def received(gm: MunicipalityAdapter, type_name: str) -> list[dict[str, Any]]:
    return [e["message"] for e in gm.store.case(CASE)
            if e["direction"] == "received" and e["message"]["type"] == type_name]


async def test_cjib_ends_its_pause_for_broken_agreements_and_the_municipality_is_told(
    hub: HubService, client: ClientFactory, offices: dict[str, FakeBackOffice], tmp_path: Path
) -> None:
    cjib = await client("cjib")
    adapter = AgencyAdapter(cjib, BackOffice(offices["cjib"].url, timeout=2.0), PROFILES["cjib"])
    await cjib.consume()
    gm = MunicipalityAdapter(await client("gm0193"), CaseStore(tmp_path / "gm"))
    await gm.client.consume()
    request = await gm.request_timeout("cjib", CASE, timeout_request_body("cjib"))
    await wait_for(lambda: bool(received(gm, "timeout.response")), timeout=20)
    assert received(gm, "timeout.response")[0]["body"]["outcome"] == "accepted"

    ended = await adapter.instruments.end_pause(request, reason_code="agreements_broken",
                                                ended_on=date(2027, 1, 15))
    await wait_for(lambda: bool(received(gm, "timeout.end_by_agency")), timeout=20)
    (told,) = received(gm, "timeout.end_by_agency")
    assert told["id"] == str(ended) and told["in_reply_to"] == str(request)
    assert told["body"] == {"ended_on": "2027-01-15", "reason_code": "agreements_broken"}
    assert told["sender"] == "cjib"

    status = await case_of(hub, CASE)
    (pause,) = status.timeouts
    assert (pause.state, pause.ended_by, pause.ended_on, pause.agency_reason) == (
        "ended", "agency", "2027-01-15", "agreements_broken")
    line = next(m for m in status.messages if m.type == "timeout.end_by_agency")
    assert (line.sender, line.recipient) == ("cjib", "gm0193")
    assert line.answers[0].awaited == "receipt"  # the municipality confirms it was told
    text = render(status)
    assert "timeout.end_by_agency" in text and "by the agency: agreements_broken" in text

    # once ended, neither CJIB nor the municipality can change it again
    again = cjib.message(type="timeout.suspend", recipient="gm0193", case_id=CASE,
                         body={"suspended_from": "2027-01-20", "reason_code": "new_debts"},
                         conversation_id=_conversation(gm),
                         in_reply_to=request)
    await cjib.stop_consuming()
    cjib_inbox = await collect(cjib, "notice.refused")
    await cjib.send(again)
    await wait_for(lambda: bool(cjib_inbox), timeout=20)
    assert cjib_inbox[0].envelope.body.reason_code == "timeout_rule"


def _conversation(gm: MunicipalityAdapter) -> Any:
    from uuid import UUID

    sent = next(e["message"] for e in gm.store.case(CASE) if e["direction"] == "sent")
    return UUID(sent["conversation_id"])


async def test_uwv_suspends_its_pause_from_the_command_line(
    hub: HubService, client: ClientFactory, offices: dict[str, FakeBackOffice], tmp_path: Path,
    registry: Registry, registry_file: Path, passwords: dict[str, str], vhost: str,
    keys_dir: Path, clock: FakeClock,
) -> None:
    state_dir = tmp_path / "uwv-adapter"
    state_dir.mkdir()
    user = registry.get("uwv")
    assert user is not None
    url = amqp_url(user.broker_user, passwords[user.broker_user], vhost)
    uwv = HubClient("uwv", amqp_url=url, key=load_private_key(private_key_path(keys_dir, "uwv")),
                    registry=registry, state_url=f"sqlite:///{state_dir / 'handled.sqlite3'}",
                    clock=clock)
    await uwv.connect()
    try:
        AgencyAdapter(uwv, BackOffice(offices["uwv"].url, timeout=2.0), PROFILES["uwv"])
        await uwv.consume()
        gm = MunicipalityAdapter(await client("gm0193"), CaseStore(tmp_path / "gm"))
        await gm.client.consume()
        request = await gm.request_timeout("uwv", CASE, timeout_request_body("uwv"))
        await wait_for(lambda: bool(received(gm, "timeout.response")), timeout=20)

        env = {**os.environ, "MAATWERK_PARTICIPANT": "uwv", "AMQP_URL": url,
               "MAATWERK_KEYS_DIR": str(keys_dir), "MAATWERK_REGISTRY": str(registry_file),
               "MAATWERK_ADAPTER_STATE": str(state_dir)}
        cli = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "adapters.cli", "end-pause", str(request), "--suspend",
            "--reason", "household_unreachable", "--on", "2027-01-10",
            "--resume-on", "2027-02-01"], env=env, capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        await wait_for(lambda: bool(received(gm, "timeout.suspend")), timeout=20)
        (told,) = received(gm, "timeout.suspend")
        assert told["id"] == cli.stdout.strip()
        assert told["body"] == {"suspended_from": "2027-01-10",
                                "reason_code": "household_unreachable",
                                "resume_on": "2027-02-01"}
        (pause,) = (await case_of(hub, CASE)).timeouts
        assert (pause.state, pause.suspended_from, pause.agency_reason) == (
            "suspended", "2027-01-10", "household_unreachable")

        unknown = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "adapters.cli", "end-pause",
            "00000000-0000-4000-8000-000000000000", "--reason", "agreements_broken"],
            env=env, capture_output=True, text=True, timeout=60)
        assert unknown.returncode == 2 and "no pause request" in unknown.stderr

        # the municipality may still lift a suspended pause
        await gm.lift(CASE, request, {"lift_on": "2027-01-31", "reason_code": "solution_found"})
        await wait_for(lambda: any(c.path.endswith("/lift") for c in offices["uwv"].log),
                       timeout=20)
        (pause,) = (await case_of(hub, CASE)).timeouts
        assert pause.state == "lifted"
    finally:
        await uwv.close()
