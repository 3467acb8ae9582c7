"""The operators' console: one read-only page served by the hub (``/console``, also ``/``).

It shows, from the hub's state store and the broker's management API:

- the most recent cases with the time-out state per agency (and whether an answer is waiting,
  late, reminded or overdue);
- every answer that is past its deadline: late, reminded, or escalated to the Maatwerkloket;
- messages the hub refused, by reason code, and time-outs the agencies declined, by reason;
- the depth of the ``maatwerk.*`` queues (``GET /api/queues/{vhost}`` of the RabbitMQ management
  API at ``MAATWERK_MANAGEMENT_URL``; "unavailable" when it does not answer).

``/console/cases/{case_id}`` shows one case's timeline (:func:`hub.ops.status.render`) and
``/console/api/summary`` the page's data as JSON. Server-rendered HTML without scripts; every value
is escaped. No personal data: the state holds ids, types, participants, codes and times only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hub.contract.registry import Registry
from hub.ops.status import case_status, render
from hub.state.database import Database
from hub.state.seen import REFUSED, from_ms

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
    now_ms = int(now.timestamp() * 1000)
    agencies = [p.id for p in registry.document.participants if p.kind == "agency"]
    snap = Snapshot(generated_at=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                    agencies=agencies, readiness={})
    case_rows = await db.fetch(
        "SELECT case_id, COUNT(*) AS n, MAX(received_at) AS last, "
        "SUM(CASE WHEN status = $1 THEN 1 ELSE 0 END) AS refused "
        "FROM messages WHERE case_id <> '' GROUP BY case_id ORDER BY MAX(received_at) DESC "
        "LIMIT $2", REFUSED, CASES_SHOWN)
    shown = {r["case_id"] for r in case_rows}
    open_rows = await db.fetch("SELECT * FROM expectations WHERE fulfilled_at IS NULL "
                               "ORDER BY deadline")
    waiting = {r["message_id"]: _answer_state(r, now_ms) for r in open_rows
               if r["awaited"] == "response"}
    cells: dict[str, dict[str, Cell]] = {}
    for t in await db.fetch("SELECT * FROM timeouts ORDER BY updated_at"):
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
    snap.refusals_by_reason = {
        str(r["reason"]): int(r["n"]) for r in await db.fetch(
            "SELECT reason, COUNT(*) AS n FROM messages WHERE status = $1 "
            "GROUP BY reason ORDER BY COUNT(*) DESC, reason", REFUSED)}
    snap.recent_refusals = [
        Refusal(at=_t(r["received_at"]), case_id=r["case_id"], message_type=r["type"],
                sender=r["sender"], recipient=r["recipient"], reason=str(r["reason"]))
        for r in await db.fetch(
            "SELECT case_id, type, sender, recipient, reason, received_at FROM messages "
            "WHERE status = $1 ORDER BY received_at DESC LIMIT $2", REFUSED, REFUSALS_SHOWN)]
    snap.declines_by_reason = {
        f"{r['agency']}: {r['reason_code']} ({r['outcome'].replace('_', ' ')})": int(r["n"])
        for r in await db.fetch(
            "SELECT agency, outcome, reason_code, COUNT(*) AS n FROM timeouts "
            "WHERE outcome IN ('declined', 'partially_accepted') AND reason_code IS NOT NULL "
            "GROUP BY agency, outcome, reason_code ORDER BY agency, outcome, reason_code")}
    snap.active_timeouts = {
        r["agency"]: int(r["n"]) for r in await db.fetch(
            "SELECT agency, COUNT(*) AS n FROM timeouts WHERE state IN "
            "('accepted', 'partially_accepted', 'active', 'extended') GROUP BY agency "
            "ORDER BY agency")}
    snap.totals = {
        str(r["status"]): int(r["n"]) for r in await db.fetch(
            "SELECT status, COUNT(*) AS n FROM messages GROUP BY status ORDER BY status")}
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

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; margin-bottom: .5em; }
th, td { border: 1px solid #c8ccd0; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #e8eef5; } .muted { color: #666; } .num { text-align: right; }
.s-accepted, .s-active, .s-extended { background: #dff3e0; }
.s-partially_accepted { background: #fff3c4; } .s-declined { background: #fbdcdc; }
.s-requested { background: #eef1f4; } .s-lifted, .s-ended { background: #f4f4f4; }
.a-overdue { color: #fff; background: #b3261e; padding: 0 .3em; border-radius: 3px; }
.a-reminded, .a-late { color: #000; background: #f2b705; padding: 0 .3em; border-radius: 3px; }
.ok { color: #1e7d32; } .bad { color: #b3261e; font-weight: bold; }
pre { background: #f6f8fa; padding: 1em; border: 1px solid #ddd; overflow-x: auto; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _page(title: str, body: str, refresh: int) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh > 0 else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{meta}'
            f'<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>')


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return '<span class="muted">-</span>'
    text = _e(cell.state.replace("_", " "))
    if cell.outcome and cell.outcome != cell.state:
        text += f' <span class="muted">({_e(cell.outcome.replace("_", " "))})</span>'
    if cell.ended_on and cell.state in ("ended", "lifted"):
        how = f" ({_e(cell.ended_by.replace('_', ' '))})" if cell.ended_by else ""
        text += f'<br><span class="muted">on {_e(cell.ended_on)}{how}</span>'
    elif cell.until and cell.state not in ("declined", "requested"):
        text += f'<br><span class="muted">until {_e(cell.until)}</span>'
    if cell.reason:
        text += f'<br><span class="muted">{_e(cell.reason)}</span>'
    if cell.answer:
        text += f'<br><span class="a-{_e(cell.answer)}">answer {_e(cell.answer)}</span>'
    return f'<div class="s-{_e(cell.state)}">{text}</div>'


def render_console(snap: Snapshot, refresh: int) -> str:
    ready = ", ".join(f'<span class="{"ok" if ok else "bad"}">{_e(name)}: '
                     f'{"ok" if ok else "DOWN"}</span>' for name, ok in snap.readiness.items())
    totals = ", ".join(f"{_e(k)}: {v}" for k, v in snap.totals.items()) or "no messages yet"
    parts = [
        "<h1>Maatwerk Hub &mdash; operator console</h1>",
        f'<p class="muted">{_e(snap.generated_at)} &middot; readiness: {ready} &middot; '
        f"messages {totals} &middot; read-only, no personal data"
        f'{f" &middot; refreshes every {refresh} s" if refresh > 0 else ""}</p>',
        "<h2>Cases and time-outs per agency</h2>",
        _table(["case", "last message", "messages", "refused", *snap.agencies],
               [[f'<a href="/console/cases/{_e(quote(c.case_id, safe=""))}">{_e(c.case_id)}</a>',
                 _e(c.last_at), f'<span class="num">{c.messages}</span>', str(c.refused),
                 *[_cell(c.timeouts.get(a)) for a in snap.agencies]] for c in snap.cases],
               "No cases yet."),
        "<h2>Overdue and late answers</h2>",
        _table(["case", "late party", "awaited", "for", "from", "deadline (UTC)", "state"],
               [[_e(m.case_id), f"<b>{_e(m.late_participant)}</b>", _e(m.awaited),
                 _e(m.message_type), _e(m.sender), _e(m.deadline),
                 f'<span class="a-{_e(m.state)}">{_e(m.state)}</span>'] for m in snap.missed],
               "Nothing is late."),
        "<h2>Refused by the hub, by reason</h2>",
        _table(["reason", "messages"],
               [[f"<code>{_e(k)}</code>", str(v)] for k, v in snap.refusals_by_reason.items()],
               "No refusals."),
        _table(["at (UTC)", "case", "type", "sender", "recipient", "reason"],
               [[_e(r.at), _e(r.case_id), _e(r.message_type), _e(r.sender), _e(r.recipient),
                 f"<code>{_e(r.reason)}</code>"] for r in snap.recent_refusals], ""),
        "<h2>Time-outs declined (in full or in part) by agencies, by reason</h2>",
        _table(["agency: reason (outcome)", "time-outs"],
               [[_e(k), str(v)] for k, v in snap.declines_by_reason.items()],
               "No declined time-outs."),
        "<h2>Running time-outs per agency</h2>",
        _table(["agency", "running"],
               [[_e(k), str(v)] for k, v in snap.active_timeouts.items()],
               "No running time-outs."),
        "<h2>Queues</h2>",
    ]
    if snap.queues is None:
        parts.append(f'<p class="bad">Queue depths unavailable: {_e(snap.queues_error or "")}'
                     "</p>")
    else:
        parts.append(_table(
            ["queue", "messages", "ready", "unacked", "consumers"],
            [[_e(q.name), str(q.messages), str(q.ready), str(q.unacked), str(q.consumers)]
             for q in snap.queues], "No maatwerk queues."))
    parts.append('<p class="muted">Also: <a href="/metrics">/metrics</a> &middot; '
                 '<a href="/overdue">/overdue</a> &middot; <a href="/readyz">/readyz</a> '
                 '&middot; <a href="/console/api/summary">/console/api/summary</a></p>')
    return _page("Maatwerk Hub console", "".join(parts), refresh)


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
        snap = await self.snapshot()
        return HTMLResponse(render_console(snap, self._refresh(request)))

    async def summary(self, request: Request) -> Response:
        return JSONResponse(asdict(await self.snapshot()))

    async def case(self, request: Request) -> Response:
        db = self.database()
        case_id = request.path_params["case_id"]
        if db is None:
            return HTMLResponse(_page("unavailable", "<p>The hub is not running.</p>", 0), 503)
        status = await case_status(db, case_id, self.clock())
        if not status.messages:
            body = f"<h1>Case {_e(case_id)}</h1><p>No messages for this case.</p>"
            return HTMLResponse(_page(f"Case {case_id}", body, 0), status_code=404)
        body = (f'<p><a href="/console">&larr; console</a></p><h1>Case {_e(case_id)}</h1>'
                f"<pre>{_e(render(status))}</pre>"
                f'<p class="muted">JSON: <a href="/cases/{_e(quote(case_id, safe=""))}">'
                f"/cases/{_e(case_id)}</a></p>")
        return HTMLResponse(_page(f"Case {case_id}", body, self._refresh(request)))

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/console", self.page, methods=["GET"]),
            Route("/console/api/summary", self.summary, methods=["GET"]),
            Route("/console/cases/{case_id}", self.case, methods=["GET"]),
        ]
