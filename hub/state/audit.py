"""The audit trail: an append-only, hash-chained record of every routing decision and ledger event.

One chain per hub replica, in the shared state database (table ``audit_log``, migrations 3 and
6): the records of a chain are numbered ``seq`` 1, 2, ... and linked by hash; ``chain`` is the
name of the replica that wrote them (the chain from before migration 7 is ``''``). Each record
carries:

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

Appends to one chain serialise on that chain's row of ``audit_head`` (its last seq and hash),
locked by the upsert that reads it (PostgreSQL row lock; SQLite's ``BEGIN IMMEDIATE`` serialises
everything anyway) until the transaction ends; then the next record and the new head are written.
Replicas write different chains, so they never wait for each other's appends: there is no global
lock on the decision path. :meth:`AuditLog.verify` walks every chain. Keeping the head beside the
chain lets it notice a removed *last* record too. (Removing a whole chain *with* its head, like
removing every table before, is not visible from inside the database: compare the heads printed
by ``audit verify`` with a copy kept elsewhere.)
A failed write raises :class:`AuditWriteError`, a
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
    Row,
    SqliteDatabase,
    StoreUnavailableError,
    to_ms,
)


class AuditWriteError(StoreUnavailableError):
    """An audit record could not be written; nothing may be acknowledged until it is."""


class AuditLog:
    """The chains in the state database; this one appends to ``chain`` (a replica's name).
    ``hash_key`` keys the data-subject hashes."""

    def __init__(self, db: Database, *, hash_key: bytes,
                 clock: Callable[[], datetime] = utc_now, chain: str = "") -> None:
        self.db = db
        self.chain = chain
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
        # Reads this chain's head and locks its row until the transaction ends.
        head = await tx.fetchone(
            "INSERT INTO audit_head (chain, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain) "
            "DO UPDATE SET seq = audit_head.seq RETURNING seq, hash", self.chain, GENESIS)
        if head is None or int(head["seq"]) == 0:  # a new head: the chain may have records
            head = await tx.fetchone(
                "SELECT seq, hash FROM audit_log WHERE chain = $1 ORDER BY seq DESC LIMIT 1",
                self.chain) or head
        seq, prev_hash = (int(head["seq"]) + 1, head["hash"]) if head else (1, GENESIS)
        now = self.clock()
        start = entry.start_time or now
        unhashed = AuditRecord(
            chain=self.chain, seq=seq, time=to_ms(now), event=entry.event,
            message_id=entry.message_id,
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
        await tx.execute("UPDATE audit_head SET seq = $2, hash = $3 WHERE chain = $1",
                         self.chain, record.seq, record.hash)
        return record

    # -- reading -----------------------------------------------------------------------------

    async def for_case(self, case_id: str) -> list[AuditRecord]:
        rows = await self.db.fetch(
            "SELECT * FROM audit_log WHERE case_id = $1 ORDER BY time, chain, seq", case_id)
        return [AuditRecord.from_row(r) for r in rows]

    async def of_event(self, event: str) -> list[AuditRecord]:
        """Every record of ``event`` (e.g. ``trust_document``), in time order."""
        rows = await self.db.fetch(
            "SELECT * FROM audit_log WHERE event = $1 ORDER BY time, chain, seq", event)
        return [AuditRecord.from_row(r) for r in rows]

    async def routed_exactly(self, message_id: str, recipient: str, digest: str) -> bool:
        """Whether the chain records routing these exact bytes (SHA-256 ``digest``) of
        ``message_id`` to ``recipient`` (a dead letter's redelivery checks this)."""
        rows = await self.db.fetch(
            "SELECT seq FROM audit_log WHERE event = $1 AND message_id = $2 AND recipient = $3 "
            "AND body_hash = $4 LIMIT 1", EVENT_ROUTED, message_id, recipient, digest)
        return bool(rows)

    async def head(self, chain: str | None = None) -> tuple[int, str] | None:
        """The head of ``chain`` (default: this log's own)."""
        row = await self.db.fetchone("SELECT seq, hash FROM audit_head WHERE chain = $1",
                                     self.chain if chain is None else chain)
        return (int(row["seq"]), row["hash"]) if row else None

    async def chains(self) -> list[str]:
        """Every chain that has a head or a record."""
        rows = await self.db.fetch("SELECT chain FROM audit_head UNION "
                                   "SELECT DISTINCT chain FROM audit_log ORDER BY chain")
        return [str(r["chain"]) for r in rows]

    async def hash_at(self, seq: int, chain: str | None = None) -> str | None:
        """The stored hash of record ``seq`` of ``chain`` (default: this log's own; for the
        signed checkpoints), or None."""
        row = await self.db.fetchone("SELECT hash FROM audit_log WHERE chain = $1 AND seq = $2",
                                     self.chain if chain is None else chain, seq)
        return str(row["hash"]) if row else None

    async def verify(self, page: int = 1000) -> VerifyResult:
        """Walk every chain in seq order: recompute every hash and link, then its head."""
        chains = await self.chains()
        results, count = [], 0
        for chain in chains:
            result = await self._verify_chain(chain, page)
            if not result.ok:
                return replace(result, count=count + result.count, chain=chain,
                               chains=len(chains))
            count += result.count
            results.append(replace(result, chain=chain))
        if len(results) == 1:
            return results[0]
        return VerifyResult(True, count, chains=len(chains))

    async def _verify_chain(self, chain: str, page: int) -> VerifyResult:
        head = await self.head(chain)
        top = await self.db.fetchone("SELECT MAX(seq) AS s FROM audit_log WHERE chain = $1",
                                     chain)
        last_row = int(top["s"]) if top and top["s"] is not None else 0
        walk = ChainWalk(limit=max(head[0] if head else 0, last_row))
        after = 0
        while rows := await self.db.fetch(
                "SELECT * FROM audit_log WHERE chain = $1 AND seq > $2 AND seq <= $3 "
                "ORDER BY seq LIMIT $4", chain, after, walk.limit, page):
            for row in rows:
                bad = walk.step(AuditRecord.from_row(row))
                if bad is not None:
                    return bad
            after = int(rows[-1]["seq"])
        return walk.end(head)

    async def check_tail(self, records: int = 16, others: int = 2) -> bool:
        """Cheap readiness check: the last ``records`` of this log's chain, and the last
        ``others`` of every other chain, link up and end at their heads. Sixteen, not more: the
        probe runs every second on the event loop and each record is rehashed (about 60 us);
        100 records paused routing for 6 ms a second, the hub's tail latency. Verifying the
        whole chain is ``audit verify``'s work."""
        # One statement, so heads and tails are one consistent read: an append committed between
        # two separate reads made a healthy chain look broken (readiness flapped under load).
        try:
            rows = await self.db.fetch(
                "SELECT h.chain AS head_chain, h.seq AS head_seq, h.hash AS head_hash, l.* "
                "FROM audit_head h LEFT JOIN audit_log l ON l.chain = h.chain AND l.seq <= h.seq "
                "AND l.seq > h.seq - (CASE WHEN h.chain = $1 THEN CAST($2 AS BIGINT) "
                "ELSE CAST($3 AS BIGINT) END) "
                "ORDER BY h.chain, l.seq", self.chain, records, others)
        except StoreUnavailableError:
            return False
        tails: dict[str, list[Row]] = {}
        for row in rows:
            tails.setdefault(row["head_chain"], []).append(row)
        for tail in tails.values():
            head = (int(tail[0]["head_seq"]), tail[0]["head_hash"])
            if tail[0]["seq"] is None:
                return False  # a head without its records
            if not tail_intact([AuditRecord.from_row(r) for r in tail], head):
                return False
        return True


def _outside_transaction(db: Database) -> bool:
    if isinstance(db, PostgresDatabase):
        return True
    if isinstance(db, SqliteDatabase):
        return not db.in_transaction
    return False
