"""Retention: remove the personal data of closed cases once the retention period has passed.

``maatwerk-hub ledger purge --older-than DAYS`` (see :mod:`hub.cli.audit`).

**When a case is closed** (all must hold):

- every time-out of the case has ended (``ended``) or was declined (``declined``); a case
  without time-outs passes;
- every escalation of the case is declined, waits for information or is closed, and no prefinanced
  overbrugging still waits for repayment;
- no expectation is open: every receipt and response the hub waited for has arrived (an answer
  that never came keeps the case open; the loket resolves it first);
- no message of the case is still being processed (``processing``) and no hub message of the
  case waits in the outbox (unsent).

**Past the retention period**: the case's last activity (message received or decided, answer
fulfilled, time-out updated, hub message created or sent) lies more than ``DAYS`` days before now.

**What is removed** per purged case: its rows in ``expectations``, ``timeouts``, ``escalations``
(with their steps), ``bridging`` and ``outbox``
(sent hub messages; their bodies are signed messages that may carry personal data) and
``info_requests`` are deleted; ``deviations`` stay for the knelpunten register, their case id
blanked.
Rows in ``messages`` are kept as *tombstones* so that duplicate detection keeps working for these
message ids: everything that ties them to the case (case id, conversation, in-reply-to, rule) is
blanked; id, type, sender, recipient, status, reason code and times stay. The audit trail is not
touched: it never holds personal data in clear (see :mod:`hub.state.audit`), so it stays verifiable;
one ``purge`` record per case is appended, in the same transaction as the deletion.

Retention owns no table: it decides and orchestrates, and every read and delete goes through the
owner of the table (:mod:`hub.state.seen`, :mod:`~hub.state.ledger`, :mod:`~hub.state.timeouts`,
:mod:`~hub.state.escalations`, :mod:`~hub.state.bridging`, :mod:`~hub.state.outbox`,
:mod:`~hub.state.audit`, :mod:`~hub.state.deviations`, :mod:`~hub.state.information`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.contract.errors import ConfigError
from hub.state import bridging, deviations, escalations, information, ledger, outbox, timeouts
from hub.state.audit import AuditLog
from hub.state.audit_events import entry_for_purge
from hub.state.database import Database, to_ms
from hub.state.seen import MessageStore

PURGED_CASE = "purged"
MIN_DAYS = 1


@dataclass(frozen=True)
class PurgeResult:
    cases: list[str]
    rows: dict[str, int]
    """Rows removed or blanked per table, over all purged cases."""


async def closed_cases(db: Database, older_than: datetime) -> list[str]:
    """Cases that are closed (see the module rule) with no activity since ``older_than``."""
    last: dict[str, int] = {}
    for activity in (await MessageStore(db).last_activity_by_case(excluding=PURGED_CASE),
                     await ledger.last_activity_by_case(db),
                     await timeouts.last_activity_by_case(db),
                     await outbox.last_activity_by_case(db),
                     await deviations.last_activity_by_case(db),
                     await information.last_activity_by_case(db)):
        for case_id, at in activity.items():
            last[case_id] = max(at, last.get(case_id, at))
    cutoff = to_ms(older_than)
    closed = []
    for case_id in sorted(c for c, at in last.items() if at < cutoff):
        if await _is_closed(db, case_id):
            closed.append(case_id)
    return closed


async def _is_closed(db: Database, case_id: str) -> bool:
    return not (await timeouts.open_in_case(db, case_id)
                or await ledger.open_in_case(db, case_id)
                or await escalations.open_in_case(db, case_id)
                or await bridging.open_in_case(db, case_id)
                or await MessageStore(db).processing_in_case(case_id)
                or await outbox.unsent_in_case(db, case_id))


async def purge_case(db: Database, audit: AuditLog, case_id: str) -> dict[str, int]:
    """Remove one case's personal data and append its ``purge`` record, in one transaction.

    The closed-case rule is checked again inside the transaction: a case that got a new message
    since it was selected is left alone (returns an empty dict).
    """
    async with db.transaction() as tx:
        if not await _is_closed(tx, case_id):
            return {}
        rows = {
            "expectations": await ledger.delete_case(tx, case_id),
            "timeouts": await timeouts.delete_case(tx, case_id),
            "escalations": await escalations.delete_case(tx, case_id),
            "bridging": await bridging.delete_case(tx, case_id),
            "outbox": await outbox.delete_sent_of_case(tx, case_id),
            "messages": await MessageStore(tx).tombstone_case(case_id, blank=PURGED_CASE),
            "info_requests": await information.delete_case(tx, case_id),
            "deviations": await deviations.anonymise_case(tx, case_id, PURGED_CASE),
        }
        await audit.append(entry_for_purge(case_id, rows), tx)
    return rows


async def purge(db: Database, audit: AuditLog, *, older_than_days: int,
                now: datetime) -> PurgeResult:
    """Purge every closed case whose last activity is more than ``older_than_days`` days old."""
    if older_than_days < MIN_DAYS:
        raise ConfigError(f"--older-than {older_than_days}: give at least {MIN_DAYS} day")
    cases, totals = [], dict.fromkeys(("expectations", "timeouts", "escalations", "bridging",
                                       "outbox", "messages", "info_requests", "deviations"), 0)
    for case_id in await closed_cases(db, now - timedelta(days=older_than_days)):
        rows = await purge_case(db, audit, case_id)
        if rows:
            cases.append(case_id)
            for table, n in rows.items():
                totals[table] += n
    return PurgeResult(cases=cases, rows=totals)
