"""The register of deviations (afwijkingsbevoegdheid) at the loket, and the knelpunten report.

A routed ``deviation.record`` to the loket adds one row: which rule of which law, what was
decided instead (the code; never the bounded text, which reaches only the loket), the period, the
deciding *role*, the legal ground and the approval reference. The knelpunten report for the LET
counts these per rule and per organisation with their outcomes. It holds no BSN (the hub never
stores one), no case id and no names: only law codes, article numbers, participant ids of
organisations, decision codes and counts.

This module owns the ``deviations`` table: no other module reads or writes it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hub.contract import instruments as ib
from hub.contract.messages import Envelope
from hub.state import information
from hub.state.database import Database, Row, to_ms


async def on_routed(db: Database, envelope: Envelope, now: datetime) -> None:
    """Register a routed deviation (idempotent: one row per message id)."""
    body = envelope.body
    if not isinstance(body, ib.DeviationRecord):
        return
    approval = body.approval
    await db.execute(
        "INSERT INTO deviations (message_id, case_id, organisation, law, article, "
        "decision_code, decided_by_role, ground_law, ground_article, approval_reference, "
        "approved_on, period_from, period_until, amount_cents, recorded_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
        "ON CONFLICT (message_id) DO NOTHING",
        str(envelope.id), envelope.case_id, envelope.sender, body.rule.law, body.rule.article,
        body.decision_code.value, body.decided_by_role.value, body.legal_ground.law,
        body.legal_ground.article, approval.reference if approval else None,
        approval.approved_on.isoformat() if approval else None, body.period_from.isoformat(),
        body.period_until.isoformat(), body.amount_cents, to_ms(now))


async def of_case(db: Database, case_id: str) -> list[Row]:
    """The case's deviations, oldest first (for the case timeline)."""
    return await db.fetch("SELECT * FROM deviations WHERE case_id = $1 "
                          "ORDER BY recorded_at, message_id", case_id)


# -- the knelpunten report ---------------------------------------------------------------------

class RuleBottleneck(BaseModel):
    law: str
    article: str
    deviations: int
    organisations: dict[str, int]
    outcomes: dict[str, int]
    legal_grounds: dict[str, int]


class OrganisationBottleneck(BaseModel):
    organisation: str
    deviations: int
    rules: dict[str, int]
    outcomes: dict[str, int]


class KnelpuntenReport(BaseModel):
    """Per rule or law and per organisation: how often, with what outcome. No personal data."""

    generated_at: datetime
    deviations: int
    per_law: dict[str, int]
    per_rule: list[RuleBottleneck]
    per_organisation: list[OrganisationBottleneck]
    information_refusals: list[dict[str, Any]]


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


async def knelpunten(db: Database, now: datetime) -> KnelpuntenReport:
    """Aggregate the register, and the information refused per rule
    (:func:`hub.state.information.refusals_by_rule`). Reads only columns that are no personal
    data."""
    information_refusals = await information.refusals_by_rule(db)
    rows = await db.fetch(
        "SELECT law, article, organisation, decision_code, ground_law, ground_article, "
        "COUNT(*) AS n FROM deviations GROUP BY law, article, organisation, decision_code, "
        "ground_law, ground_article")
    per_law: Counter[str] = Counter()
    rules: dict[tuple[str, str], dict[str, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter))
    orgs: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for r in rows:
        n, rule = int(r["n"]), f"{r['law']} {r['article']}"
        per_law[r["law"]] += n
        entry = rules[(r["law"], r["article"])]
        entry["organisations"][r["organisation"]] += n
        entry["outcomes"][r["decision_code"]] += n
        entry["legal_grounds"][f"{r['ground_law']} {r['ground_article']}"] += n
        org = orgs[r["organisation"]]
        org["rules"][rule] += n
        org["outcomes"][r["decision_code"]] += n
    per_rule = [RuleBottleneck(
        law=law, article=article, deviations=sum(c["organisations"].values()),
        organisations=_sorted(c["organisations"]), outcomes=_sorted(c["outcomes"]),
        legal_grounds=_sorted(c["legal_grounds"])) for (law, article), c in rules.items()]
    per_org = [OrganisationBottleneck(
        organisation=name, deviations=sum(c["outcomes"].values()), rules=_sorted(c["rules"]),
        outcomes=_sorted(c["outcomes"])) for name, c in orgs.items()]
    return KnelpuntenReport(
        generated_at=now, deviations=sum(per_law.values()), per_law=_sorted(per_law),
        per_rule=sorted(per_rule, key=lambda r: (-r.deviations, r.law, r.article)),
        per_organisation=sorted(per_org, key=lambda o: (-o.deviations, o.organisation)),
        information_refusals=information_refusals)


def render(report: KnelpuntenReport) -> str:
    """The report as text for the LET."""
    out = [f"Knelpunten report ({report.generated_at:%Y-%m-%d %H:%M} UTC): "
           f"{report.deviations} deviations", "", "Per rule:"]
    for r in report.per_rule:
        outcomes = ", ".join(f"{k} {v}" for k, v in r.outcomes.items())
        orgs = ", ".join(f"{k} {v}" for k, v in r.organisations.items())
        out.append(f"  {r.law} {r.article}: {r.deviations} ({outcomes}; by {orgs})")
    out += ["", "Per organisation:"]
    for o in report.per_organisation:
        rules = ", ".join(f"{k} {v}" for k, v in o.rules.items())
        out.append(f"  {o.organisation}: {o.deviations} ({rules})")
    if report.information_refusals:
        out += ["", "Information refused, per rule:"]
        for item in report.information_refusals:
            out.append(f"  {item['rule']} ({item['holder']}, {item['purpose_code']}): "
                       f"{item['refused']} refused of {item['requests']} requests")
    if not report.deviations and not report.information_refusals:
        out.append("  (none)")
    return "\n".join(out)


async def last_activity_by_case(db: Database) -> dict[str, int]:
    rows = await db.fetch("SELECT case_id, MAX(recorded_at) AS last_at FROM deviations "
                          "GROUP BY case_id")
    return {r["case_id"]: int(r["last_at"]) for r in rows}


async def anonymise_case(db: Database, case_id: str, blank: str) -> int:
    """Retention: keep the case's deviations for the register (they are counts material), but
    no longer tied to the case: the case id becomes ``blank``."""
    return await db.execute("UPDATE deviations SET case_id = $2 WHERE case_id = $1",
                            case_id, blank)
