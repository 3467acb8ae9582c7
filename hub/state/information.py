"""Information requests (afstemmingsbepaling), per case: asked, answered, partially, refused.

A routed ``info.request`` adds a row with the information rule the hub matched and the fields
asked (codes, never values); the routed ``info.response`` records which fields were answered and
which refused, and why. The hub keeps no answered values. The rule step
(:mod:`hub.core.information_rules`) reads the row to hold the answer to its rule.

This module owns the ``info_requests`` table: no other module reads or writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.contract import instruments as ib
from hub.contract.messages import Envelope
from hub.state.database import Database, Row, to_ms


@dataclass(frozen=True)
class InfoRequestRecord:
    request_id: str
    case_id: str
    asker: str
    holder: str
    purpose_code: str
    rule: str
    fields: list[str]
    state: str
    answered_fields: list[str]
    refused_fields: list[str]
    refusal_reason: str | None

    @classmethod
    def from_row(cls, row: Row) -> InfoRequestRecord:
        lists = {k: json.loads(row[k]) if row[k] else []
                 for k in ("fields", "answered_fields", "refused_fields")}
        plain = {k: row[k] for k in ("request_id", "case_id", "asker", "holder", "purpose_code",
                                     "rule", "state", "refusal_reason")}
        return cls(**plain, **lists)


async def get(db: Database, request_id: str) -> InfoRequestRecord | None:
    row = await db.fetchone("SELECT * FROM info_requests WHERE request_id = $1", request_id)
    return InfoRequestRecord.from_row(row) if row else None


async def of_case(db: Database, case_id: str) -> list[InfoRequestRecord]:
    rows = await db.fetch("SELECT * FROM info_requests WHERE case_id = $1 "
                          "ORDER BY requested_at, request_id", case_id)
    return [InfoRequestRecord.from_row(r) for r in rows]


async def on_routed(db: Database, envelope: Envelope, now: datetime, rule: str | None) -> None:
    """Record a routed request (with the information rule matched) or its answer."""
    body = envelope.body
    if isinstance(body, ib.InfoRequest) and rule is not None:
        await db.execute(
            "INSERT INTO info_requests (request_id, case_id, asker, holder, purpose_code, rule, "
            "fields, state, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8) "
            "ON CONFLICT (request_id) DO NOTHING",
            str(envelope.id), envelope.case_id, envelope.sender, envelope.recipient,
            body.purpose_code.value, rule, json.dumps([f.value for f in body.fields]),
            to_ms(now))
    elif isinstance(body, ib.InfoResponse) and envelope.in_reply_to is not None:
        answered = body.items.present() if body.items else []
        await db.execute(
            "UPDATE info_requests SET state = $2, answered_fields = $3, refused_fields = $4, "
            "refusal_reason = $5, answered_at = $6 WHERE request_id = $1 AND state = 'requested'",
            str(envelope.in_reply_to), body.outcome, json.dumps(answered),
            json.dumps([f.value for f in body.refused_fields]),
            body.refusal_reason.value if body.refusal_reason else None, to_ms(now))


async def refusals_by_rule(db: Database) -> list[dict[str, Any]]:
    """For the knelpunten report: per rule, holder and purpose, requests and refusals (no case)."""
    rows = await db.fetch(
        "SELECT rule, holder, purpose_code, COUNT(*) AS requests, "
        "SUM(CASE WHEN state IN ('refused', 'partially_answered') THEN 1 ELSE 0 END) AS refused "
        "FROM info_requests GROUP BY rule, holder, purpose_code ORDER BY rule, holder")
    return [{"rule": r["rule"], "holder": r["holder"], "purpose_code": r["purpose_code"],
             "requests": int(r["requests"]), "refused": int(r["refused"] or 0)}
            for r in rows if int(r["refused"] or 0)]


async def last_activity_by_case(db: Database) -> dict[str, int]:
    rows = await db.fetch("SELECT case_id, MAX(COALESCE(answered_at, requested_at)) AS last_at "
                          "FROM info_requests GROUP BY case_id")
    return {r["case_id"]: int(r["last_at"]) for r in rows}


async def delete_case(db: Database, case_id: str) -> int:
    """Retention: remove the case's information requests; return how many."""
    return await db.execute("DELETE FROM info_requests WHERE case_id = $1", case_id)
