"""The operators' console (hub.ops.console) served by a running hub: cases with the time-out state
per
agency, late and overdue answers, refusals by reason, queue depths; read-only and escaped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from adapters.sdk import Delivery, Reply
from hub.config import Settings
from hub.contract.agreements import Agreements, DeadlineTable, Duration, load_agreements
from hub.contract.registry import Registry
from hub.ops.console import CaseRow, Cell, Snapshot, render_console
from hub.service import HubService
from sandbox import free_port
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import timeout_request_body

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]

CASE = "ZW-2026-0042"
DUO_EXPLANATION = "Inkomensafhankelijke aflossing is de route."


def fast() -> Agreements:
    base = load_agreements()
    return base.model_copy(update={"deadlines": DeadlineTable(
        receipt=Duration(seconds=1.0), response=Duration(seconds=1.0))})


async def until_serving(base: str) -> None:
    """The hub starts its HTTP server in the background: wait until it answers."""
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(200):
            try:
                await http.get(f"{base}/healthz")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
    raise AssertionError(f"{base} does not answer")


@dataclass
class ConsoleHub:
    service: HubService
    base: str


@pytest.fixture
async def console_hub(hub_settings: Settings, registry: Registry,
                      clock: FakeClock) -> AsyncIterator[ConsoleHub]:
    """A hub with its HTTP endpoints on a free port and deadlines of one second."""
    port = free_port()
    service = HubService(hub_settings.replace(http_port=port), registry=registry, clock=clock,
                         agreements=fast())
    await service.start()
    await until_serving(f"http://127.0.0.1:{port}")
    yield ConsoleHub(service, f"http://127.0.0.1:{port}")
    await service.stop()


def answer(outcome: str) -> Any:
    async def handle(d: Delivery) -> Reply:
        if d.envelope.type != "timeout.request" or outcome == "none":
            return None
        start = d.envelope.body.requested_from  # type: ignore[attr-defined]
        if outcome == "declined":
            return d.reply("timeout.response", {
                "outcome": "declined", "reason_code": "other_route_applies",
                "explanation": DUO_EXPLANATION,
                "contact": {"name": "Maatwerk DUO", "email": "maatwerk@duo.example",
                            "phone": "+31 50 000 0003"}})
        return d.reply("timeout.response", {
            "outcome": "accepted", "effective_from": start.isoformat(),
            "effective_until": (start + timedelta(days=119)).isoformat(),
            "paused_scope": ["collection"]})

    return handle


async def play_case(service: HubService, client: ClientFactory) -> None:
    """CJIB accepts, DUO declines, SVB receipts and stays silent (overdue), and a request to UWV
    that carries the situation summary is refused by the policy."""
    gm = await client("gm0193")
    await gm.consume(answer("none"))
    await (await client("cjib")).consume(answer("accepted"))
    await (await client("duo")).consume(answer("declined"))
    await (await client("svb")).consume(answer("none"))  # the SDK receipts; no answer
    today = date.today().isoformat()
    for agency in ("cjib", "duo", "svb"):
        await gm.send(gm.message(type="timeout.request", recipient=agency, case_id=CASE,
                                 body=timeout_request_body(agency, requested_from=today)))
    await gm.send(gm.message(type="timeout.request", recipient="uwv", case_id=CASE,
                             body=timeout_request_body("uwv", requested_from=today,
                                                       situation_summary="Rent arrears.")))
    await wait_for_overdue(service, "svb")


async def wait_for_overdue(service: HubService, party: str) -> None:
    for _ in range(300):
        if any(i.recipient == party for i in await service.overdue()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{party} never became overdue")


async def test_console_shows_cases_timeouts_overdue_refusals_and_queues(
    console_hub: ConsoleHub, client: ClientFactory, vhost: str
) -> None:
    await play_case(console_hub.service, client)
    async with httpx.AsyncClient(base_url=console_hub.base, timeout=10) as http:
        page = await http.get("/console", params={"refresh": "0"})
        root = await http.get("/")
        summary = (await http.get("/console/api/summary")).json()
        case_page = await http.get(f"/console/cases/{CASE}")
        missing = await http.get("/console/cases/ZW-nothing")
        metrics = await http.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert root.status_code == 200 and "operator console" in root.text
    html = page.text
    assert "<script" not in html and 'http-equiv="refresh"' not in html
    assert 'http-equiv="refresh" content="5"' in root.text  # refreshes by default
    assert CASE in html
    assert "policy_special_category" in html
    assert "other_route_applies" in html
    assert "a-overdue" in html and "answer overdue" in html

    (row,) = [c for c in summary["cases"] if c["case_id"] == CASE]
    cells = row["timeouts"]
    assert cells["cjib"]["state"] in ("accepted", "active")
    assert cells["duo"] == {"state": "declined", "outcome": "declined", "until": None,
                            "reason": "other_route_applies", "answer": None,
                            "ended_on": None, "ended_by": None}
    assert cells["svb"]["state"] == "requested" and cells["svb"]["answer"] == "overdue"
    assert "uwv" not in cells  # refused: never became a time-out
    assert row["refused"] == 1
    assert summary["refusals_by_reason"] == {"policy_special_category": 1}
    assert summary["recent_refusals"][0]["recipient"] == "uwv"
    assert summary["declines_by_reason"] == {"duo: other_route_applies (declined)": 1}
    overdue = [m for m in summary["missed"] if m["state"] == "overdue"]
    assert [(m["late_participant"], m["awaited"]) for m in overdue] == [("svb", "response")]
    assert set(summary["readiness"]) >= {"broker", "topology", "state", "audit", "signing"}
    assert all(summary["readiness"].values())
    queues = {q["name"]: q for q in summary["queues"]}
    assert summary["queues_error"] is None
    assert "maatwerk.hub.inbound" in queues and "maatwerk.inbox.cjib" in queues
    # (the management API samples its figures every few seconds: only their presence is sure)
    assert {"messages", "ready", "unacked", "consumers"} <= set(queues["maatwerk.inbox.cjib"])
    assert "maatwerk.inbox.cjib" in html
    # no personal data: the BSN and the free text are nowhere on the page
    for text in (html, case_page.text, str(summary)):
        assert "123456782" not in text and "Rent arrears." not in text
        assert DUO_EXPLANATION not in text  # explanations stay with the municipality
    assert case_page.status_code == 200 and "Time-outs:" in case_page.text
    assert "overdue, reminded" in case_page.text
    assert missing.status_code == 404
    assert metrics.status_code == 200


async def test_queue_depths_unavailable(
    hub_settings: Settings, registry: Registry, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = free_port()  # nothing listens there
    monkeypatch.setenv("MAATWERK_MANAGEMENT_URL", f"http://guest:guest@127.0.0.1:{closed}")
    port = free_port()
    service = HubService(hub_settings.replace(http_port=port), registry=registry, clock=clock)
    await service.start()
    try:
        await until_serving(f"http://127.0.0.1:{port}")
        async with httpx.AsyncClient(timeout=10) as http:
            page = await http.get(f"http://127.0.0.1:{port}/console")
    finally:
        await service.stop()
    assert page.status_code == 200
    assert "Queue depths unavailable" in page.text
    assert "No cases yet." in page.text


def test_everything_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    snap = Snapshot(generated_at=evil, agencies=["cjib", evil], readiness={evil: True},
                    cases=[CaseRow(case_id=evil, last_at=evil, messages=1, refused=0,
                                   timeouts={"cjib": Cell(state=evil, reason=evil,
                                                          answer=evil),
                                             evil: Cell(state="ended", ended_on=evil,
                                                        ended_by=evil)})],
                    refusals_by_reason={evil: 1}, queues_error=evil)
    html = render_console(snap, refresh=0)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
