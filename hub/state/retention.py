"""Retention: remove the personal data of closed cases once the retention period has passed.

``maatwerk-hub ledger purge --older-than DAYS`` (see :mod:`hub.cli.audit`).

**When a case is closed** (all must hold):

- every time-out of the case has ended (``ended``) or was declined (``declined``); a case
  without time-outs passes;
- no expectation is open: every receipt and response the hub waited for has arrived (an answer
  that never came keeps the case open; the loket resolves it first);
- no message of the case is still being processed (``processing``) and no hub message of the
  case waits in the outbox (unsent).

**Past the retention period**: the case's last activity (message received or decided, answer
fulfilled, time-out updated, hub message created or sent) lies more than ``DAYS`` days before now.

**What is removed** per purged case: its rows in ``expectations``, ``timeouts`` and ``outbox``
(sent hub messages; their bodies are signed messages that may carry personal data) are deleted.
Rows in ``messages`` are kept as *tombstones* so that duplicate detection keeps working for these
message ids: everything that ties them to the case (case id, conversation, in-reply-to, rule) is
blanked; id, type, sender, recipient, status, reason code and times stay. The audit trail is not
touched: it never holds personal data in clear (see :mod:`hub.state.audit`), so it stays verifiable;
one ``purge`` record per case is appended, in the same transaction as the deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.contract.errors import ConfigError
from hub.state.audit import AuditLog, entry_for_purge
from hub.state.database import Database

PURGED_CASE = "purged"
CLOSED_TIMEOUT_STATES = ("ended", "declined")
MIN_DAYS = 1


@dataclass(frozen=True)
class PurgeResult:
    cases: list[str]
    rows: dict[str, int]
    """Rows removed or blanked per table, over all purged cases."""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def closed_cases(db: Database, older_than: datetime) -> list[str]:
    """Cases that are closed (see the module rule) with no activity since ``older_than``."""
    cutoff = _ms(older_than)
    rows = await db.fetch(
        """
        WITH activity AS (
            SELECT case_id, MAX(COALESCE(decided_at, received_at)) AS last_at FROM messages
              WHERE case_id <> $2 GROUP BY case_id
            UNION ALL
            SELECT case_id, MAX(COALESCE(fulfilled_at, routed_at)) FROM expectations
              GROUP BY case_id
            UNION ALL
            SELECT case_id, MAX(updated_at) FROM timeouts GROUP BY case_id
            UNION ALL
            SELECT case_id, MAX(COALESCE(sent_at, created_at)) FROM outbox GROUP BY case_id
        )
        SELECT case_id FROM activity GROUP BY case_id HAVING MAX(last_at) < $1
        """,
        cutoff, PURGED_CASE,
    )
    candidates = sorted(r["case_id"] for r in rows)
    closed = []
    for case_id in candidates:
        if await _is_closed(db, case_id):
            closed.append(case_id)
    return closed


async def _is_closed(db: Database, case_id: str) -> bool:
    open_timeout = await db.fetchone(
        "SELECT 1 AS x FROM timeouts WHERE case_id = $1 AND state NOT IN ($2, $3) LIMIT 1",
        case_id, *CLOSED_TIMEOUT_STATES)
    open_expectation = await db.fetchone(
        "SELECT 1 AS x FROM expectations WHERE case_id = $1 AND fulfilled_at IS NULL LIMIT 1",
        case_id)
    processing = await db.fetchone(
        "SELECT 1 AS x FROM messages WHERE case_id = $1 AND status = 'processing' LIMIT 1",
        case_id)
    unsent = await db.fetchone(
        "SELECT 1 AS x FROM outbox WHERE case_id = $1 AND sent_at IS NULL LIMIT 1", case_id)
    return not (open_timeout or open_expectation or processing or unsent)


async def purge_case(db: Database, audit: AuditLog, case_id: str) -> dict[str, int]:
    """Remove one case's personal data and append its ``purge`` record, in one transaction.

    The closed-case rule is checked again inside the transaction: a case that got a new message
    since it was selected is left alone (returns an empty dict).
    """
    async with db.transaction() as tx:
        if not await _is_closed(tx, case_id):
            return {}
        rows = {
            "expectations": await tx.execute(
                "DELETE FROM expectations WHERE case_id = $1", case_id),
            "timeouts": await tx.execute("DELETE FROM timeouts WHERE case_id = $1", case_id),
            "outbox": await tx.execute(
                "DELETE FROM outbox WHERE case_id = $1 AND sent_at IS NOT NULL", case_id),
            "messages": await tx.execute(
                "UPDATE messages SET case_id = $2, conversation_id = id, in_reply_to = NULL, "
                "rule = NULL WHERE case_id = $1", case_id, PURGED_CASE),
        }
        await audit.append(entry_for_purge(case_id, rows), tx)
    return rows


async def purge(db: Database, audit: AuditLog, *, older_than_days: int,
                now: datetime) -> PurgeResult:
    """Purge every closed case whose last activity is more than ``older_than_days`` days old."""
    if older_than_days < MIN_DAYS:
        raise ConfigError(f"--older-than {older_than_days}: give at least {MIN_DAYS} day")
    cases, totals = [], dict.fromkeys(("expectations", "timeouts", "outbox", "messages"), 0)
    for case_id in await closed_cases(db, now - timedelta(days=older_than_days)):
        rows = await purge_case(db, audit, case_id)
        if rows:
            cases.append(case_id)
            for table, n in rows.items():
                totals[table] += n
    return PurgeResult(cases=cases, rows=totals)
