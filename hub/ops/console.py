"""The operators' console: one read-only page served by the hub (``/console``, also ``/``).

It shows, from the hub's state store and the broker's management API:

- the most recent cases with the time-out state per agency (and whether an answer is waiting,
  late, reminded or overdue);
- every answer that is past its deadline: late, reminded, or escalated to the Maatwerkloket;
- messages the hub refused, by reason code, and time-outs the agencies declined, by reason;
- the depth of the ``maatwerk.*`` queues (``GET /api/queues/{vhost}`` of the RabbitMQ management
  API at ``MAATWERK_MANAGEMENT_URL``; "unavailable" when it does not answer).

``/console/cases/{case_id}`` shows one case's timeline (:func:`hub.ops.status.render`) and
``/console/api/summary`` the page's data as JSON. Server-rendered HTML without scripts, from the
Jinja2 templates in ``hub/ops/templates/`` (autoescaped: every value is escaped); the queries are
:mod:`hub.state.views`. No personal data: the state holds ids, types, participants, codes and
times only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from hub.contract.registry import Registry
from hub.ops.case_picture import draw
from hub.ops.status import case_status, render
from hub.state import bridging, escalations, views
from hub.state.database import Database, from_ms, to_ms

DEFAULT_MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"
CASES_SHOWN = 50
REFUSALS_SHOWN = 20


@dataclass(frozen=True)
class Cell:
    """One agency's time-out in one case."""

    state: str
    outcome: str | None = None
    until: str | None = None
    reason: str | None = None
    answer: str | None = None  # waiting | late | reminded | overdue (response still missing)
    ended_on: str | None = None
    ended_by: str | None = None  # end_date | lifted


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    last_at: str
    messages: int
    refused: int
    timeouts: dict[str, Cell]


@dataclass(frozen=True)
class Missed:
    case_id: str
    message_type: str
    awaited: str
    late_participant: str
    sender: str
    deadline: str
    state: str  # late | reminded | overdue


@dataclass(frozen=True)
class Refusal:
    at: str
    case_id: str
    message_type: str
    sender: str
    recipient: str
    reason: str


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int
    ready: int
    unacked: int
    consumers: int


@dataclass(frozen=True)
class EscalationRow:
    case_id: str
    escalated_by: str
    loket_reference: str | None
    state: str
    waiting_for: str | None
    deadline: str
    late: str | None  # reminded | overdue
    responsible_party: str | None


@dataclass
class Snapshot:
    generated_at: str
    agencies: list[str]
    readiness: dict[str, bool]
    cases: list[CaseRow] = field(default_factory=list)
    missed: list[Missed] = field(default_factory=list)
    refusals_by_reason: dict[str, int] = field(default_factory=dict)
    recent_refusals: list[Refusal] = field(default_factory=list)
    declines_by_reason: dict[str, int] = field(default_factory=dict)
    active_timeouts: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    escalations: list[EscalationRow] = field(default_factory=list)
    bridging: list[bridging.PartyTotals] = field(default_factory=list)
    queues: list[QueueDepth] | None = None
    queues_error: str | None = None


def _t(ms: int | None) -> str:
    moment = from_ms(ms)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _answer_state(row: Any, now_ms: int) -> str:
    if row["escalated_at"] is not None:
        return "overdue"
    if row["reminded_at"] is not None:
        return "reminded"
    return "late" if row["deadline"] <= now_ms else "waiting"


async def gather(db: Database, registry: Registry, now: datetime) -> Snapshot:
    """Everything the page shows that comes from the state store."""
    now_ms = to_ms(now)
    agencies = [p.id for p in registry.document.participants if p.kind == "agency"]
    snap = Snapshot(generated_at=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                    agencies=agencies, readiness={})
    case_rows = await views.recent_cases(db, CASES_SHOWN)
    shown = {r["case_id"] for r in case_rows}
    open_rows = await views.open_expectations(db)
    waiting = {r["message_id"]: _answer_state(r, now_ms) for r in open_rows
               if r["awaited"] == "response"}
    cells: dict[str, dict[str, Cell]] = {}
    for t in await views.all_timeouts(db):
        if t["case_id"] in shown:
            cells.setdefault(t["case_id"], {})[t["agency"]] = Cell(
                state=t["state"], outcome=t["outcome"], until=t["effective_until"],
                reason=t["reason_code"], answer=waiting.get(t["request_id"]),
                ended_on=t["ended_on"], ended_by=t["ended_by"])
    snap.cases = [CaseRow(case_id=r["case_id"], last_at=_t(r["last"]), messages=int(r["n"]),
                          refused=int(r["refused"] or 0), timeouts=cells.get(r["case_id"], {}))
                  for r in case_rows]
    snap.missed = [Missed(case_id=r["case_id"], message_type=r["message_type"],
                          awaited=r["awaited"], late_participant=r["recipient"],
                          sender=r["sender"], deadline=_t(r["deadline"]),
                          state=_answer_state(r, now_ms))
                   for r in open_rows if r["deadline"] <= now_ms]
    snap.escalations = [EscalationRow(
        case_id=e.case_id, escalated_by=e.escalated_by, loket_reference=e.loket_reference,
        state=e.state, waiting_for=e.step_party, deadline=_t(
            to_ms(e.step_deadline) if e.step_deadline else None),
        late="overdue" if e.overdue_at else ("reminded" if e.reminded_at else None),
        responsible_party=e.responsible_party)
        for e in await escalations.recent(db, CASES_SHOWN)]
    snap.bridging = bridging.totals(await bridging.all_records(db))
    snap.refusals_by_reason = await views.refusals_by_reason(db)
    snap.recent_refusals = [
        Refusal(at=_t(r["received_at"]), case_id=r["case_id"], message_type=r["type"],
                sender=r["sender"], recipient=r["recipient"], reason=str(r["reason"]))
        for r in await views.recent_refusals(db, REFUSALS_SHOWN)]
    snap.declines_by_reason = {
        f"{r['agency']}: {r['reason_code']} ({r['outcome'].replace('_', ' ')})": int(r["n"])
        for r in await views.declined_timeouts(db)}
    snap.active_timeouts = await views.running_timeouts(db)
    snap.totals = await views.message_totals(db)
    return snap


def vhost_of(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


async def queue_depths(management_url: str, vhost: str,
                       seconds: float = 2.0) -> list[QueueDepth]:
    """The ``maatwerk.*`` queues of ``vhost`` (raises httpx.HTTPError when unavailable)."""
    parts = urlsplit(management_url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    async with httpx.AsyncClient(base_url=base, auth=auth, timeout=seconds) as http:
        response = await http.get(f"/api/queues/{quote(vhost, safe='')}",
                                  params={"columns": "name,messages,messages_ready,"
                                          "messages_unacknowledged,consumers"})
        response.raise_for_status()
        data = response.json()
    return [QueueDepth(name=str(q["name"]), messages=int(q.get("messages") or 0),
                       ready=int(q.get("messages_ready") or 0),
                       unacked=int(q.get("messages_unacknowledged") or 0),
                       consumers=int(q.get("consumers") or 0))
            for q in data if str(q.get("name", "")).startswith("maatwerk.")]


# -- HTML -----------------------------------------------------------------------------------------

def _path_segment(value: object) -> str:
    """``value`` as one URL path segment (a ``/`` in a case id is quoted too)."""
    return quote(str(value), safe="")


ENVIRONMENT = Environment(loader=PackageLoader("hub.ops", "templates"), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENVIRONMENT.filters["path_segment"] = _path_segment
TEMPLATES = Jinja2Templates(env=ENVIRONMENT)


def render_console(snap: Snapshot, refresh: int) -> str:
    """The console page (templates/console.html); every value is escaped."""
    return ENVIRONMENT.get_template("console.html").render(
        title="Maatwerk Hub console", snap=snap, refresh=refresh)


class Console:
    """The console's routes; reads the hub's database through ``database()``."""

    def __init__(self, *, database: Callable[[], Database | None], registry: Registry,
                 readiness: Callable[[], dict[str, bool]], clock: Callable[[], datetime],
                 amqp_url: str, management_url: str | None = None) -> None:
        self.database = database
        self.registry = registry
        self.readiness = readiness
        self.clock = clock
        self.vhost = vhost_of(amqp_url)
        self.management_url = management_url or os.environ.get(
            "MAATWERK_MANAGEMENT_URL") or DEFAULT_MANAGEMENT_URL

    async def snapshot(self) -> Snapshot:
        db = self.database()
        if db is None:
            snap = Snapshot(generated_at="-", agencies=[], readiness=self.readiness())
        else:
            snap = await gather(db, self.registry, self.clock())
            snap.readiness = self.readiness()
        try:
            snap.queues = await queue_depths(self.management_url, self.vhost)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            snap.queues, snap.queues_error = None, type(exc).__name__
        return snap

    @staticmethod
    def _refresh(request: Request) -> int:
        try:
            return max(0, min(3600, int(request.query_params.get("refresh", "5"))))
        except ValueError:
            return 5

    async def page(self, request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "console.html", {
            "title": "Maatwerk Hub console", "snap": await self.snapshot(),
            "refresh": self._refresh(request)})

    async def summary(self, request: Request) -> Response:
        return JSONResponse(asdict(await self.snapshot()))

    async def case(self, request: Request) -> Response:
        db = self.database()
        case_id = request.path_params["case_id"]
        if db is None:
            return TEMPLATES.TemplateResponse(request, "unavailable.html", {
                "title": "unavailable", "refresh": 0}, status_code=503)
        status = await case_status(db, case_id, self.clock())
        found = bool(status.messages)
        return TEMPLATES.TemplateResponse(request, "case.html", {
            "title": f"Case {case_id}", "case_id": case_id,
            "timeline": render(status) if found else None,
            "picture": draw(status, self.clock()) if found else None,
            "refresh": self._refresh(request) if found else 0,
        }, status_code=200 if found else 404)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/console", self.page, methods=["GET"]),
            Route("/console/api/summary", self.summary, methods=["GET"]),
            Route("/console/cases/{case_id}", self.case, methods=["GET"]),
        ]
