"""The audit trail: an append-only, hash-chained record of every routing decision and ledger event.

One chain per hub installation, in the shared state database (table ``audit_log``, migration 3),
so several hub replicas write one chain. Each record carries:

- what happened: ``seq``, ``time``, ``event`` (``routed``, ``refused``, ``duplicate``,
  ``receipt``, ``response``, ``reminder``, ``overdue``, ``timeout_ended``, ``purge``), message
  id, type, sender, recipient, decision, reason code, rule, policy version, case id and
  ``body_hash`` (SHA-256 of the exact message bytes: proves *which* message without keeping it);
- the fields of the Logboek Dataverwerkingen (Logius): ``trace_id`` (16 bytes hex; the
  conversation id of the message, so a request and its answers share a trace), ``span_id``
  (8 bytes hex, derived from event and message id), optional ``parent_span_id`` (the span of the
  message answered), ``status_code`` (0 unset, 1 ok, 2 error), ``name``, ``start_time``,
  ``end_time`` (epoch milliseconds) and ``attributes``: ``dpl.core.processing_activity_id`` (a URI
  per purpose into the processing register), ``dpl.core.data_subject_id`` (HMAC keyed hash of the
  BSN, never the BSN itself) and ``dpl.core.data_subject_id_type`` (``BSN``);
- the chain: ``prev_hash`` and ``hash`` = SHA-256 over the RFC 8785 canonical JSON of all the
  fields above plus ``prev_hash``.

A record never holds personal data in clear: no message body, no refusal *detail* (a schema error
may quote the offending value), only codes, ids and hashes
(:func:`~hub.state.audit_events.check_entry` refuses a BSN in clear). So retention
(:mod:`hub.state.retention`) can delete a case's personal data and leave the chain intact and
verifiable.

Appends serialise in one transaction: PostgreSQL takes a transaction-level advisory lock, SQLite is
serialised by ``BEGIN IMMEDIATE``; then the head (``audit_head``: last seq and hash) is read and
the next record and new head are written. Keeping the head beside the chain lets :meth:`verify`
notice a removed *last* record too. A failed write raises :class:`AuditWriteError`, a
:class:`~hub.state.database.StoreUnavailableError`: the router retries it without acking, so a
message is never routed without its audit record (fail closed).

This module owns the tables ``audit_log`` and ``audit_head``: no other module reads or writes
them. What an entry may say and how entries are built from messages is in
:mod:`hub.state.audit_events`; the records, their hashes and how a chain is judged are in
:mod:`hub.state.audit_chain`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import asyncpg

from hub.contract.canonical import canonicalize
from hub.contract.messages import utc_now
from hub.state.audit_chain import (
    COLUMNS,
    GENESIS,
    AuditRecord,
    ChainWalk,
    VerifyResult,
    tail_intact,
)
from hub.state.audit_events import (
    EVENT_ROUTED,
    AuditEntry,
    check_entry,
    new_span_id,
    new_trace_id,
)
from hub.state.database import (
    Database,
    PostgresDatabase,
    SqliteDatabase,
    StoreUnavailableError,
    to_ms,
)

_LOCK_KEY = 726349  # pg_advisory_xact_lock key of the audit chain (migrations use 726348)


class AuditWriteError(StoreUnavailableError):
    """An audit record could not be written; nothing may be acknowledged until it is."""


class AuditLog:
    """The chain in the state database. ``hash_key`` keys the data-subject hashes."""

    def __init__(self, db: Database, *, hash_key: bytes,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.db = db
        self.hash_key = hash_key
        self.clock = clock
        self.healthy = True
        """False after a failed append, until the next one succeeds (a readiness check)."""

    async def append(self, entry: AuditEntry, db: Database | None = None) -> AuditRecord:
        """Write ``entry`` as the next record; inside ``db`` when it is an open transaction.

        Raises :class:`AuditWriteError` (a StoreUnavailableError) when the write fails.
        """
        check_entry(entry)
        try:
            if db is None or _outside_transaction(db):
                async with (db or self.db).transaction() as tx:
                    record = await self._append(tx, entry)
            else:
                record = await self._append(db, entry)
        except AuditWriteError:
            self.healthy = False
            raise
        except (StoreUnavailableError, asyncpg.PostgresError, asyncpg.InterfaceError,
                sqlite3.Error, OSError) as exc:
            self.healthy = False
            raise AuditWriteError(f"audit record not written: {exc}") from exc
        self.healthy = True
        return record

    async def _append(self, tx: Database, entry: AuditEntry) -> AuditRecord:
        if not isinstance(tx, SqliteDatabase):  # SQLite: BEGIN IMMEDIATE holds the write lock
            await tx.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        head = await tx.fetchone("SELECT seq, hash FROM audit_head WHERE id = 1")
        if head is None:  # no head yet (a fresh chain); fall back to the last record if any
            head = await tx.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        seq, prev_hash = (int(head["seq"]) + 1, head["hash"]) if head else (1, GENESIS)
        now = self.clock()
        start = entry.start_time or now
        unhashed = AuditRecord(
            seq=seq, time=to_ms(now), event=entry.event, message_id=entry.message_id,
            message_type=entry.message_type, sender=entry.sender, recipient=entry.recipient,
            decision=entry.decision, reason=entry.reason, rule=entry.rule,
            policy_version=entry.policy_version, body_hash=entry.body_hash,
            case_id=entry.case_id, trace_id=entry.trace_id or new_trace_id(),
            span_id=entry.span_id or new_span_id(), parent_span_id=entry.parent_span_id,
            status_code=entry.status_code, name=entry.name, start_time=to_ms(start),
            end_time=to_ms(entry.end_time or now), attributes=dict(entry.attributes),
            prev_hash=prev_hash, hash="",
        )
        record = replace(unhashed, hash=unhashed.compute_hash())
        values = [getattr(record, c) for c in COLUMNS]
        values[COLUMNS.index("attributes")] = canonicalize(record.attributes).decode()
        placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
        await tx.execute(f"INSERT INTO audit_log ({', '.join(COLUMNS)}) "  # noqa: S608
                         f"VALUES ({placeholders})", *values)
        await tx.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) ON CONFLICT (id) "
            "DO UPDATE SET seq = excluded.seq, hash = excluded.hash", record.seq, record.hash)
        return record

    # -- reading -----------------------------------------------------------------------------

    async def for_case(self, case_id: str) -> list[AuditRecord]:
        rows = await self.db.fetch("SELECT * FROM audit_log WHERE case_id = $1 ORDER BY seq",
                                   case_id)
        return [AuditRecord.from_row(r) for r in rows]

    async def routed_exactly(self, message_id: str, recipient: str, digest: str) -> bool:
        """Whether the chain records routing these exact bytes (SHA-256 ``digest``) of
        ``message_id`` to ``recipient`` (a dead letter's redelivery checks this)."""
        rows = await self.db.fetch(
            "SELECT seq FROM audit_log WHERE event = $1 AND message_id = $2 AND recipient = $3 "
            "AND body_hash = $4 LIMIT 1", EVENT_ROUTED, message_id, recipient, digest)
        return bool(rows)

    async def head(self) -> tuple[int, str] | None:
        row = await self.db.fetchone("SELECT seq, hash FROM audit_head WHERE id = 1")
        return (int(row["seq"]), row["hash"]) if row else None

    async def hash_at(self, seq: int) -> str | None:
        """The stored hash of record ``seq`` (for the signed checkpoints), or None."""
        row = await self.db.fetchone("SELECT hash FROM audit_log WHERE seq = $1", seq)
        return str(row["hash"]) if row else None

    async def verify(self, page: int = 1000) -> VerifyResult:
        """Walk the chain in seq order: recompute every hash and every link, then the head."""
        head = await self.head()
        top = await self.db.fetchone("SELECT MAX(seq) AS s FROM audit_log")
        last_row = int(top["s"]) if top and top["s"] is not None else 0
        walk = ChainWalk(limit=max(head[0] if head else 0, last_row))
        after = 0
        while rows := await self.db.fetch(
                "SELECT * FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                after, walk.limit, page):
            for row in rows:
                bad = walk.step(AuditRecord.from_row(row))
                if bad is not None:
                    return bad
            after = int(rows[-1]["seq"])
        return walk.end(head)

    async def check_tail(self, records: int = 100) -> bool:
        """Cheap readiness check: the last ``records`` link up and end at the head."""
        # One statement, so head and tail are one consistent read: an append committed between
        # two separate reads made a healthy chain look broken (readiness flapped under load).
        try:
            rows = await self.db.fetch(
                "SELECT h.seq AS head_seq, h.hash AS head_hash, l.* FROM audit_head h "
                "LEFT JOIN audit_log l ON l.seq > h.seq - $1 AND l.seq <= h.seq "
                "WHERE h.id = 1 ORDER BY l.seq", records)
        except StoreUnavailableError:
            return False
        if not rows:
            return True  # no head yet: an empty chain
        head = (int(rows[0]["head_seq"]), rows[0]["head_hash"])
        if rows[0]["seq"] is None:
            return False  # a head without its records
        return tail_intact([AuditRecord.from_row(r) for r in rows], head)


def _outside_transaction(db: Database) -> bool:
    if isinstance(db, PostgresDatabase):
        return True
    if isinstance(db, SqliteDatabase):
        return not db._in_tx
    return False
