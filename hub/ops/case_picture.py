"""A case drawn as lanes per organisation: what the case page shows as server-rendered SVG.

One horizontal lane per participant, in the order they appear in the case. Time runs left to
right as the *order* of events (not to scale: a case mixes seconds between a request and its
receipt with months of pause), each column labelled with its time. On it:

- every message as an arrow from the sender's lane to the recipient's (refused: red, dashed, to
  the hub's lane, where it stopped), the hub's own notices as grey arrows from the hub's lane;
- every awaited answer not yet given as a deadline mark on the late party's lane (waiting,
  reminded, overdue), and each open escalation step's deadline the same way;
- each time-out as a bar over its pause on the agency's lane (to the end, or open to the right);
- the escalation's states as a band of segments on the loket's lane;
- each overbrugging as a bar on the responsible party's lane from decision to repayment.

The page only draws what :func:`hub.ops.status.case_status` holds: no personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.ops.status import CaseStatus

LEFT, TOP, LANE, RIGHT_PAD, FIT = 150, 70, 64, 200, 1300
X = Callable[[datetime | None], float]
"""Where a moment is drawn (None: open to the right)."""


@dataclass(frozen=True)
class Arrow:
    x: float
    y1: float
    y2: float
    type: str
    label: str
    style: str  # routed | refused | hub


@dataclass(frozen=True)
class Bar:
    x1: float
    x2: float
    y: float
    label: str
    style: str  # pause | escalation-<state> | bridging-<state>


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    label: str
    style: str  # waiting | late | reminded | overdue


@dataclass
class Picture:
    width: float
    height: float
    lanes: list[tuple[str, float]] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


def _lanes(status: CaseStatus) -> list[str]:
    order: dict[str, None] = {}
    for m in status.messages:
        order.setdefault(m.sender)
        order.setdefault(m.recipient)
    for e in status.escalations:
        order.setdefault(e.escalated_by)
        order.setdefault(e.loket)
        if e.step_party:
            order.setdefault(e.step_party)
    for r in status.bridging:
        order.setdefault(r.responsible_party or r.beneficiary)
    if status.hub_messages or any(m.status == "refused" for m in status.messages):
        order.setdefault("hub")
    for h in status.hub_messages:
        order.setdefault(h.recipient)
    return [lane for lane in order if lane]


def _label(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S")


def draw(status: CaseStatus, now: datetime) -> Picture:
    """Lay the case out: lanes, columns in time order, and everything on them."""
    lanes = _lanes(status)
    y = {name: TOP + LANE * i + LANE / 2 for i, name in enumerate(lanes)}
    moments: list[datetime] = [m.at for m in status.messages] + [h.at for h in
                                                                 status.hub_messages]
    moments += [a.deadline for m in status.messages for a in m.answers if a.answered_at is None]
    moments += [s.at for e in status.escalations for s in e.steps]
    moments += [e.step_deadline for e in status.escalations if e.step_deadline]
    moments += [t for r in status.bridging for t in (r.decided_at, r.repaid_at) if t]
    columns = sorted(set(moments))
    index = {moment: i for i, moment in enumerate(columns)}
    step = max(18.0, min(46.0, (FIT - LEFT - RIGHT_PAD) / (len(columns) + 2)))

    def x(moment: datetime | None) -> float:
        if moment is None:
            return LEFT + step * (len(columns) + 1)
        return LEFT + step * (index[moment] + 1) if moment in index else LEFT + step * (
            sum(1 for c in columns if c <= moment) + 0.5)

    width = LEFT + step * (len(columns) + 2) + RIGHT_PAD
    picture = Picture(width=width, height=TOP + LANE * len(lanes) + 30,
                      lanes=[(name, y[name]) for name in lanes])
    picture.ticks = [(x(c), _label(c)) for c in columns]
    hub_y = y.get("hub", TOP)
    for m in status.messages:
        refused = m.status == "refused"
        target = hub_y if refused else y[m.recipient]
        picture.arrows.append(Arrow(x(m.at), y[m.sender], target, m.type,
                                    f"{m.type} {m.sender} -> {m.recipient}: {m.status}"
                                    + (f" ({m.reason})" if m.reason else ""),
                                    "refused" if refused else "routed"))
        for a in m.answers:
            if a.answered_at is None and m.recipient in y:
                picture.marks.append(Mark(x(a.deadline), y[m.recipient],
                                          f"{a.awaited} from {m.recipient} due "
                                          f"{_label(a.deadline)}: {a.state}", a.state))
    for h in status.hub_messages:
        if h.recipient in y:
            picture.arrows.append(Arrow(x(h.at), hub_y, y[h.recipient], h.type,
                                        f"{h.type} hub -> {h.recipient}", "hub"))
    _pauses(status, picture, y, x)
    _ladder(status, picture, y, x, now, step)
    for r in status.bridging:
        lane = r.responsible_party or r.beneficiary
        late = r.overdue_at is not None and r.state != "repaid"
        if lane in y:
            picture.bars.append(Bar(x(r.decided_at), x(r.repaid_at), y[lane] + 14,
                                    f"{r.kind} EUR {r.amount_cents / 100:,.2f}: {r.state}, "
                                    f"open EUR {r.open_cents / 100:,.2f}"
                                    + (" OVERDUE" if late else ""),
                                    f"bridging-{'overdue' if late else r.state}"))
    return picture


def _pauses(status: CaseStatus, picture: Picture, y: dict[str, float], x: X) -> None:
    for t in status.timeouts:
        if t.effective_from is None or t.agency not in y:
            continue
        start = next((m.at for m in status.messages if m.type == "timeout.response"
                      and m.sender == t.agency), None)
        end = next((h.at for h in status.hub_messages if h.type == "timeout.ended"
                    and h.recipient == t.agency), None) if t.state == "ended" else None
        if start is None:
            continue
        picture.bars.append(Bar(x(start), x(end), y[t.agency] - 16,
                                f"pause {t.effective_from} .. {t.ended_on or t.effective_until}"
                                f" ({t.state})", "pause"))


def _ladder(status: CaseStatus, picture: Picture, y: dict[str, float], x: X,
            now: datetime, step: float) -> None:
    for e in status.escalations:
        states = [s for s in e.steps if ":" not in s.state]
        for here, after in zip(states, [*states[1:], None], strict=True):
            end = after.at if after else None
            if e.loket in y:
                picture.bars.append(Bar(x(here.at), x(end) if end else x(here.at) + step,
                                        y[e.loket] + 14, here.state.replace("_", " "),
                                        f"escalation-{here.state}"))
        if e.step_deadline and e.step_party in y:
            state = "overdue" if e.overdue_at else ("reminded" if e.reminded_at else (
                "late" if e.step_deadline <= now else "waiting"))
            picture.marks.append(Mark(x(e.step_deadline), y[e.step_party or e.loket],
                                      f"{e.state}: {e.step_party} due "
                                      f"{_label(e.step_deadline)}: {state}", state))
