"""Acknowledgements and the time-out lifecycle against the real broker, deadlines in seconds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from adapters.sdk import Delivery, HubClient, Reply
from hub.config import Settings
from hub.contract.agreements import Agreements, DeadlineTable, Duration, load_agreements
from hub.contract.registry import Registry
from hub.ops.http import build_app
from hub.ops.status import render
from hub.service import HubService
from hub.state import ledger as ledger_module
from hub.state import outbox as outbox_module
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import case_of, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]

AGENCIES = ("cjib", "belastingdienst", "uwv", "duo", "svb")
CASE = "ZW-2026-0042"


def fast(receipt: float = 1.0, response: float = 1.5) -> Agreements:
    """The default agreements with deadlines in seconds."""
    base = load_agreements()
    return base.model_copy(update={"deadlines": DeadlineTable(
        receipt=Duration(seconds=receipt), response=Duration(seconds=response))})


HubFactory = Callable[..., Any]


@pytest.fixture
async def start_hub(
    hub_settings: Settings, registry: Registry, clock: FakeClock
) -> AsyncIterator[HubFactory]:
    """``await start_hub(agreements=..., state_url=...)``: a running hub, stopped at the end."""
    started: list[HubService] = []

    async def start(agreements: Agreements | None = None, **settings: Any) -> HubService:
        service = HubService(hub_settings.replace(**settings), registry=registry, clock=clock,
                             agreements=agreements or fast())
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


def recorder(got: list[Delivery], answer: Callable[[Delivery], Reply] | None = None
             ) -> Callable[[Delivery], Any]:
    async def handle(delivery: Delivery) -> Reply:
        got.append(delivery)
        return answer(delivery) if answer else None

    return handle


def of_type(got: list[Delivery], type_name: str) -> list[Delivery]:
    return [d for d in got if d.envelope.type == type_name]


def until(start: date, months: int) -> str:
    return (start + timedelta(days=30 * months - 1)).isoformat()


def agency_answer(outcome: str) -> Callable[[Delivery], Reply]:
    """An agency that answers time-out requests and extensions with ``outcome``."""

    def answer(d: Delivery) -> Reply:
        body = d.envelope.body
        if d.envelope.type == "timeout.request":
            start = body.requested_from  # type: ignore[attr-defined]
            months = body.requested_months  # type: ignore[attr-defined]
        elif d.envelope.type == "timeout.extend":
            start, months = date.fromisoformat(d.document["created_at"][:10]), 6
        else:
            return None
        if outcome == "declined":
            return d.reply("timeout.response", {
                "outcome": "declined", "reason_code": "other_route_applies",
                "explanation": "Inkomensafhankelijke aflossing is de route; bel DUO.",
                "contact": {"name": "Maatwerk DUO", "email": "maatwerk@duo.example",
                            "phone": "+31 50 000 0003"}})
        response: dict[str, Any] = {
            "outcome": outcome, "effective_from": start.isoformat(),
            "effective_until": until(start, months), "paused_scope": ["collection"]}
        if outcome == "partially_accepted":
            response |= {"not_paused_scope": ["running_deduction"],
                         "reason_code": "no_legal_room"}
        return d.reply("timeout.response", response)

    return answer


async def request(gm: HubClient, agency: str, clock: FakeClock, **body: Any) -> dict[str, Any]:
    document = gm.message(type="timeout.request", recipient=agency, case_id=CASE,
                          body=timeout_request_body(agency, requested_from=clock().date()
                                                    .isoformat(), **body))
    await gm.send(document)
    return document


async def test_five_agencies_two_accept_one_declines_one_partial_one_silent(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock
) -> None:
    hub = await start_hub()
    gm, loket = await client("gm0193"), await client("loket")
    gm_got: list[Delivery] = []
    loket_got: list[Delivery] = []
    svb_got: list[Delivery] = []
    await gm.consume(recorder(gm_got))
    await loket.consume(recorder(loket_got))
    answers = {"cjib": "accepted", "belastingdienst": "accepted",
               "uwv": "partially_accepted", "duo": "declined"}
    for agency, outcome in answers.items():
        await (await client(agency)).consume(recorder([], agency_answer(outcome)))
    await (await client("svb")).consume(recorder(svb_got))  # a receipt, never an answer

    for agency in AGENCIES:
        await request(gm, agency, clock)
    await wait_for(lambda: len(of_type(loket_got, "notice.overdue")) == 1, timeout=20)

    responses = {d.envelope.sender: d.envelope.body.outcome.value  # type: ignore[attr-defined]
                 for d in of_type(gm_got, "timeout.response")}
    assert responses == answers
    assert len(of_type(gm_got, "receipt")) == 5  # every agency's SDK receipted
    reminder = of_type(svb_got, "notice.reminder")
    assert len(reminder) == 1 and reminder[0].envelope.body.awaited == "response"  # type: ignore[attr-defined]
    copy = of_type(gm_got, "notice.reminder")
    assert len(copy) == 1 and copy[0].envelope.body.late_participant == "svb"  # type: ignore[attr-defined]
    overdue = of_type(loket_got, "notice.overdue")[0]
    assert overdue.envelope.case_id == CASE
    assert overdue.envelope.body.late_participant == "svb"  # type: ignore[attr-defined]
    assert "bsn" not in overdue.raw.decode() and "123456782" not in overdue.raw.decode()

    await asyncio.sleep(0.5)  # one watcher tick: accepted time-outs become active
    status = await case_of(hub, CASE)
    states = {t.agency: (t.state, t.outcome) for t in status.timeouts}
    assert states == {
        "cjib": ("active", "accepted"), "belastingdienst": ("active", "accepted"),
        "uwv": ("active", "partially_accepted"), "duo": ("declined", "declined"),
        "svb": ("requested", None),
    }
    svb_line = next(m for m in status.messages if m.recipient == "svb"
                    and m.type == "timeout.request")
    assert {a.awaited: a.state for a in svb_line.answers} == {"receipt": "answered",
                                                              "response": "overdue"}
    text = render(status)
    assert "svb" in text and "overdue" in text and "partially_accepted" in text
    assert "123456782" not in text

    app = build_app(hub.metrics, hub.readiness, hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub") as http:
        case = (await http.get(f"/cases/{CASE}")).json()
        assert len(case["timeouts"]) == 5
        late = (await http.get("/overdue")).json()["overdue"]
        assert [(o["late_participant"], o["case_id"]) for o in late] == [("svb", CASE)]
        assert (await http.get("/cases/NOPE")).status_code == 404
        metrics = (await http.get("/metrics")).text
    assert 'maatwerk_overdue{participant="svb"} 1.0' in metrics
    assert 'maatwerk_timeouts_active{agency="cjib"} 1.0' in metrics
    assert 'maatwerk_answer_seconds_count{awaited="response",participant="cjib"} 1.0' in metrics


async def test_extend_lift_and_natural_end(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock
) -> None:
    hub = await start_hub(agreements=fast(receipt=60, response=60))
    gm = await client("gm0193")
    got: list[Delivery] = []
    await gm.consume(recorder(got))
    cjib_got: list[Delivery] = []
    uwv_got: list[Delivery] = []
    await (await client("cjib")).consume(recorder(cjib_got, agency_answer("accepted")))
    await (await client("uwv")).consume(recorder(uwv_got, agency_answer("accepted")))

    too_long = await request(gm, "cjib", clock, requested_months=5)
    await wait_for(lambda: len(of_type(got, "notice.refused")) == 1)
    refused = of_type(got, "notice.refused")[0].envelope.body
    assert str(refused.refused_message_id) == too_long["id"]  # type: ignore[attr-defined]
    assert refused.reason_code.value == "timeout_rule"  # type: ignore[attr-defined]
    assert "cjib-noodstop-4-plus-8" in refused.detail  # type: ignore[attr-defined]

    cjib_request = await request(gm, "cjib", clock)
    uwv_request = await request(gm, "uwv", clock, requested_months=3)
    await wait_for(lambda: len(of_type(got, "timeout.response")) == 2)

    def follow_up(type_name: str, to: str, original: dict[str, Any], body: dict[str, Any]
                  ) -> dict[str, Any]:
        return gm.message(type=type_name, recipient=to, case_id=CASE, body=body,
                          conversation_id=uuid.UUID(original["conversation_id"]),
                          in_reply_to=uuid.UUID(original["id"]))

    # 4 + 6 months is over CJIB's 4 without debt help; allowed (<= 4 + 8) once it started.
    await gm.send(follow_up("timeout.extend", "cjib", cjib_request,
                            {"extend_months": 6, "reason_code": "livelihood_threatened"}))
    await wait_for(lambda: len(of_type(got, "notice.refused")) == 2)
    await gm.send(follow_up("timeout.extend", "cjib", cjib_request, {
        "extend_months": 6, "reason_code": "debt_assistance_started",
        "debt_assistance_started": True}))
    await wait_for(lambda: len(of_type(got, "timeout.response")) == 3)

    lift_on = clock().date() + timedelta(days=10)
    await gm.send(follow_up("timeout.lift", "uwv", uwv_request,
                            {"lift_on": lift_on.isoformat(), "reason_code": "household_stable"}))
    await wait_for(lambda: len(of_type(uwv_got, "timeout.lift")) == 1)
    assert await states(hub) == {"cjib": "extended", "uwv": "lifted"}

    clock.advance(days=11)
    await wait_for(lambda: len(of_type(uwv_got, "timeout.ended")) == 1)
    ended = of_type(uwv_got, "timeout.ended")[0].envelope.body
    assert ended.ended_by == "lifted" and ended.ended_on == lift_on  # type: ignore[attr-defined]
    await wait_for(lambda: len(of_type(got, "timeout.ended")) == 1)

    clock.advance(days=200)  # past CJIB's extended end date
    await wait_for(lambda: len(of_type(cjib_got, "timeout.ended")) == 1)
    await wait_for(lambda: len(of_type(got, "timeout.ended")) == 2)
    cjib_end = of_type(cjib_got, "timeout.ended")[0].envelope.body
    assert cjib_end.ended_by == "end_date"  # type: ignore[attr-defined]
    assert await states(hub) == {"cjib": "ended", "uwv": "ended"}
    await asyncio.sleep(0.6)  # more watcher ticks send nothing more
    assert len(of_type(got, "timeout.ended")) == 2


async def states(hub: HubService) -> dict[str, str]:
    return {t.agency: t.state for t in (await case_of(hub, CASE)).timeouts}


async def test_deadlines_survive_a_restart_and_fire_once(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock
) -> None:
    agreements = fast(receipt=30, response=2)
    hub = await start_hub(agreements=agreements)
    gm, svb, loket = await client("gm0193"), await client("svb"), await client("loket")
    svb_got: list[Delivery] = []
    loket_got: list[Delivery] = []
    await svb.consume(recorder(svb_got))
    await loket.consume(recorder(loket_got))
    await request(gm, "svb", clock)
    await wait_for(lambda: len(of_type(svb_got, "timeout.request")) == 1)
    await hub.stop()  # down before the deadline; it passes while no hub runs
    await asyncio.sleep(2.5)
    await start_hub(agreements=agreements)
    await wait_for(lambda: len(of_type(loket_got, "notice.overdue")) == 1, timeout=15)
    await asyncio.sleep(1.0)
    assert len(of_type(svb_got, "notice.reminder")) == 1
    assert len(of_type(loket_got, "notice.overdue")) == 1
    assert svb.dropped_redeliveries == 0 and loket.dropped_redeliveries == 0


async def test_two_replicas_on_postgresql_remind_once(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock, pg_url: str
) -> None:
    first = await start_hub(state_url=pg_url)
    second = await start_hub(state_url=pg_url)
    gm, svb, loket = await client("gm0193"), await client("svb"), await client("loket")
    svb_got: list[Delivery] = []
    loket_got: list[Delivery] = []
    await svb.consume(recorder(svb_got))
    await loket.consume(recorder(loket_got))
    for n in range(5):
        document = gm.message(type="timeout.request", recipient="svb", case_id=f"ZW-R{n}",
                              body=timeout_request_body("svb"))
        await gm.send(document)
    await wait_for(lambda: len(of_type(loket_got, "notice.overdue")) == 5, timeout=20)
    await asyncio.sleep(1.0)  # both replicas keep ticking; nothing more may come
    reminders = of_type(svb_got, "notice.reminder")
    assert len(reminders) == 5 and len({d.envelope.id for d in reminders}) == 5
    assert len(of_type(loket_got, "notice.overdue")) == 5
    # counted at the queue: the SDK dropped no second copy either
    assert svb.dropped_redeliveries == 0 and loket.dropped_redeliveries == 0
    sent_by = first.metrics.hub_messages, second.metrics.hub_messages
    total = sum(m.labels("notice.reminder")._value.get() for m in sent_by)
    assert total == 10  # 5 to svb, 5 copies to the municipality, across both replicas


async def test_answers_to_unknown_or_foreign_conversations_are_refused(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock
) -> None:
    await start_hub(agreements=fast(receipt=60, response=60))
    gm, cjib, duo = await client("gm0193"), await client("cjib"), await client("duo")
    cjib_got: list[Delivery] = []
    duo_got: list[Delivery] = []
    await cjib.consume(recorder(cjib_got))
    await duo.consume(recorder(duo_got))
    original = await request(gm, "cjib", clock)
    await wait_for(lambda: len(of_type(cjib_got, "timeout.request")) == 1)
    declined = {"outcome": "declined", "reason_code": "other"}

    await cjib.send(cjib.message(type="timeout.response", recipient="gm0193", case_id=CASE,
                                 body=declined, in_reply_to=uuid.uuid4()))
    foreign = of_type(cjib_got, "timeout.request")[0].reply("timeout.response", declined)
    foreign["sender"] = "duo"
    foreign["id"] = str(uuid.uuid4())
    await duo.send(foreign)

    await wait_for(lambda: len(of_type(cjib_got, "notice.refused")) == 1)
    await wait_for(lambda: len(of_type(duo_got, "notice.refused")) == 1)
    for notice in (of_type(cjib_got, "notice.refused")[0], of_type(duo_got, "notice.refused")[0]):
        assert notice.envelope.body.reason_code.value == "unknown_conversation"  # type: ignore[attr-defined]
    assert original["id"] in of_type(duo_got, "notice.refused")[0].envelope.body.detail  # type: ignore[attr-defined]


async def test_a_register_query_opens_no_deadline_and_reminders_still_flow(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock
) -> None:
    hub = await start_hub(agreements=fast(receipt=30, response=1))
    gm, svb = await client("gm0193"), await client("svb")
    gm_got: list[Delivery] = []
    svb_got: list[Delivery] = []
    await gm.consume(recorder(gm_got))
    await svb.consume(recorder(svb_got))
    query = gm.message(type="register.query", recipient="hub", case_id=CASE,
                       body={"kinds": ["agency"]})
    await gm.send(query)
    await wait_for(lambda: len(of_type(gm_got, "register.answer")) == 1)
    await request(gm, "svb", clock)
    await wait_for(lambda: len(of_type(svb_got, "notice.reminder")) == 1, timeout=10)
    status = await case_of(hub, CASE)
    line = next(m for m in status.messages if m.type == "register.query")
    assert line.answers == []  # the hub answered at once; nothing to wait for


async def test_a_backlog_of_missed_deadlines_is_read_page_by_page_in_one_sweep(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agency silent for hours leaves a backlog of missed deadlines: the watcher reads it a
    page at a time (never all rows at once: a million-message run grew the hub by 37 MiB doing
    that) and still reminds every one in the same sweep, once; the gauges count in the database;
    one tick sends the whole outbox page after page (one page a tick drained 20 a second)."""
    monkeypatch.setattr(ledger_module, "SWEEP_PAGE", 2)
    monkeypatch.setattr(outbox_module, "PAGE", 3)
    hub = await start_hub(agreements=fast(receipt=3600, response=7200), watch_seconds=3600)
    gm, svb = await client("gm0193"), await client("svb")
    svb_got: list[Delivery] = []
    await svb.consume(recorder(svb_got))  # the SDK's receipts, never an answer
    for n in range(5):
        await gm.send(gm.message(type="timeout.request", recipient="svb", case_id=f"ZW-P{n}",
                                 body=timeout_request_body("svb")))
    await wait_for(lambda: len(svb_got) == 5)
    clock.advance(hours=3)
    for _ in range(100):  # the five receipts recorded: only the answers are late
        if await hub.ledger.late_counts(clock()) == {"svb": 5}:
            break
        await asyncio.sleep(0.1)
    assert await hub.ledger.late_counts(clock()) == {"svb": 5}

    pages: list[int] = []
    fetch = hub.ledger.db.fetch

    async def counted(sql: str, *args: Any) -> list[Any]:
        rows: list[Any] = await fetch(sql, *args)
        if "reminded_at IS NULL" in sql:
            pages.append(len(rows))
        return rows

    monkeypatch.setattr(hub.ledger.db, "fetch", counted)
    assert await hub.ledger.remind_due(clock()) == 5
    assert pages == [2, 2, 1]
    assert await hub.ledger.remind_due(clock()) == 0
    assert hub.watcher is not None
    await hub.watcher.tick()  # the gauges, and the whole outbox in pages of three
    metrics = hub.metrics.exposition().decode()
    assert 'maatwerk_late{participant="svb"} 5.0' in metrics
    assert 'maatwerk_hub_messages_sent_total{type="notice.reminder"} 10.0' in metrics  # + copies
    await wait_for(lambda: len(of_type(svb_got, "notice.reminder")) == 5)


async def test_overdue_answers_are_served_a_page_at_a_time(
    start_hub: HubFactory, client: ClientFactory, clock: FakeClock
) -> None:
    """``/overdue`` pages (``limit``, ``after`` = the page's ``next``) through every overdue
    answer once, earliest deadline first, and refuses a bad limit or cursor with a reason."""
    hub = await start_hub(agreements=fast(receipt=3600, response=7200), watch_seconds=3600)
    gm, uwv = await client("gm0193"), await client("uwv")
    got: list[Delivery] = []
    await uwv.consume(recorder(got))  # receipts only, never an answer
    for n in range(5):
        await gm.send(gm.message(type="timeout.request", recipient="uwv", case_id=f"ZW-O{n}",
                                 body=timeout_request_body("uwv")))
        await wait_for(lambda sent=n + 1: len(got) == sent)
        clock.advance(seconds=1)  # five different deadlines, in case order
    clock.advance(hours=3)
    for _ in range(100):  # the five receipts recorded: only the answers are late
        if await hub.ledger.late_counts(clock()) == {"uwv": 5}:
            break
        await asyncio.sleep(0.1)
    assert await hub.ledger.remind_due(clock()) == 5
    clock.advance(hours=30)
    assert await hub.ledger.escalate_due(clock()) == 5
    assert await hub.ledger.overdue_counts() == {"uwv": 5}

    app = build_app(hub.metrics, hub.readiness, hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub") as http:
        pages: list[list[str]] = []
        params: dict[str, str] = {"limit": "2"}
        while True:
            page = (await http.get("/overdue", params=params)).json()
            pages.append([o["case_id"] for o in page["overdue"]])
            if page["next"] is None:
                break
            params["after"] = page["next"]
        whole = (await http.get("/overdue")).json()
        bad_limit = await http.get("/overdue", params={"limit": "0"})
        bad_after = await http.get("/overdue", params={"after": "yesterday"})
    assert pages == [["ZW-O0", "ZW-O1"], ["ZW-O2", "ZW-O3"], ["ZW-O4"]]
    assert [o["case_id"] for o in whole["overdue"]] == [f"ZW-O{n}" for n in range(5)]
    assert whole["next"] is None
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["error"]
    assert bad_after.status_code == 400 and "next" in bad_after.json()["error"]
