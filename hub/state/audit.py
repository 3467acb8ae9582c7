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
may quote the offending value), only codes, ids and hashes. So retention
(:mod:`hub.state.retention`) can
delete a case's personal data and leave the chain intact and verifiable.

Appends serialise in one transaction: PostgreSQL takes a transaction-level advisory lock, SQLite is
serialised by ``BEGIN IMMEDIATE``; then the head (``audit_head``: last seq and hash) is read and
the next record and new head are written. Keeping the head beside the chain lets :meth:`verify`
notice a removed *last* record too. A failed write raises :class:`AuditWriteError`,
a
:class:`~hub.state.database.StoreUnavailableError`: the router retries it without acking, so a
message
is never routed without its audit record (fail closed).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import asyncpg

from hub.contract.canonical import JsonError, canonicalize, loads_strict
from hub.contract.identifiers import elfproef
from hub.contract.messages import utc_iso, utc_now
from hub.state.database import (
    Database,
    PostgresDatabase,
    Row,
    SqliteDatabase,
    StoreUnavailableError,
)
from hub.state.seen import from_ms, to_ms
from hub.telemetry.logs import keyed_hash

if TYPE_CHECKING:
    from hub.contract.messages import Envelope

GENESIS = "0" * 64
REGISTER = "https://maatwerkhub.example/register/"
"""Base URI of the processing register; the activity id is this plus the purpose."""
ATTR_ACTIVITY = "dpl.core.processing_activity_id"
ATTR_SUBJECT = "dpl.core.data_subject_id"
ATTR_SUBJECT_TYPE = "dpl.core.data_subject_id_type"

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2

ROUTED = "routed"
REFUSED = "refused"
DUPLICATE = "duplicate"
RECEIPT = "receipt"
RESPONSE = "response"
REMINDER = "reminder"
OVERDUE = "overdue"
TIMEOUT_ENDED = "timeout_ended"
PURGE = "purge"
EVENTS = (ROUTED, REFUSED, DUPLICATE, RECEIPT, RESPONSE, REMINDER, OVERDUE, TIMEOUT_ENDED, PURGE)

HUB_MESSAGE_EVENTS = {
    "notice.reminder": REMINDER,
    "notice.overdue": OVERDUE,
    "timeout.ended": TIMEOUT_ENDED,
}
"""The hub's own outbox messages and the audit event each one is."""

_LOCK_KEY = 726349  # pg_advisory_xact_lock key of the audit chain (migrations use 726348)
_SPAN_NAMESPACE = "maatwerk-audit"


class AuditWriteError(StoreUnavailableError):
    """An audit record could not be written; nothing may be acknowledged until it is."""


def iso(ms: int | None) -> str | None:
    moment = from_ms(ms)
    return utc_iso(moment) if moment else None


def activity_id(purpose: str) -> str:
    """The processing-register URI of a purpose (``pmm.timeout``) or hub activity."""
    return f"{REGISTER}{purpose}"


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def span_id_for(event: str, message_id: UUID | str) -> str:
    """A stable 8-byte span id for ``event`` about ``message_id`` (hex)."""
    seed = f"{_SPAN_NAMESPACE}:{event}:{message_id}".encode()
    return hashlib.sha256(seed).hexdigest()[:16]


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


# -- records -----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """What a caller wants recorded; :meth:`AuditLog.append` adds seq, time and the chain."""

    event: str
    name: str
    status_code: int = STATUS_OK
    message_id: str | None = None
    message_type: str | None = None
    sender: str | None = None
    recipient: str | None = None
    decision: str | None = None
    reason: str | None = None
    rule: str | None = None
    policy_version: str | None = None
    body_hash: str | None = None
    case_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    """One stored link of the chain. Times are epoch milliseconds (UTC)."""

    seq: int
    time: int
    event: str
    message_id: str | None
    message_type: str | None
    sender: str | None
    recipient: str | None
    decision: str | None
    reason: str | None
    rule: str | None
    policy_version: str | None
    body_hash: str | None
    case_id: str | None
    trace_id: str
    span_id: str
    parent_span_id: str | None
    status_code: int
    name: str
    start_time: int
    end_time: int
    attributes: dict[str, str]
    prev_hash: str
    hash: str

    def content(self) -> dict[str, Any]:
        """Everything the hash covers: every field but ``hash``."""
        fields = asdict(self)
        del fields["hash"]
        return fields

    def compute_hash(self) -> str:
        return hashlib.sha256(canonicalize(self.content())).hexdigest()

    @classmethod
    def from_row(cls, row: Row) -> AuditRecord:
        values = {k: row[k] for k in cls.__dataclass_fields__ if k != "attributes"}
        for k in ("seq", "time", "status_code", "start_time", "end_time"):
            values[k] = int(values[k])
        return cls(attributes=json.loads(row["attributes"]), **values)

    def to_json(self) -> dict[str, Any]:
        """A readable form (ISO times) for ``audit show``."""
        shown = asdict(self)
        for k in ("time", "start_time", "end_time"):
            shown[k] = iso(shown[k])
        return shown


_COLUMNS = tuple(AuditRecord.__dataclass_fields__)


@dataclass(frozen=True)
class VerifyResult:
    """``why`` is ``edited``, ``removed`` or ``reordered`` for the first bad record."""

    ok: bool
    count: int
    first_bad_seq: int | None = None
    why: Literal["edited", "removed", "reordered"] | None = None
    detail: str = ""
    head_hash: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain ok: {self.count} records, head {self.head_hash or GENESIS}"
        return (f"audit chain BROKEN at record {self.first_bad_seq} ({self.why}): {self.detail}; "
                f"{self.count} records checked before it")


def _check_entry(entry: AuditEntry) -> None:
    """Refuse malformed entries and anything that looks like a BSN in clear (a bug)."""
    if entry.status_code not in (STATUS_UNSET, STATUS_OK, STATUS_ERROR):
        raise ValueError(f"status_code {entry.status_code}: use 0, 1 or 2")
    for label, value, size in (("trace_id", entry.trace_id, 32), ("span_id", entry.span_id, 16),
                               ("parent_span_id", entry.parent_span_id, 16)):
        if value is not None and (len(value) != size or not _is_hex(value)):
            raise ValueError(f"{label} {value!r}: expected {size} lowercase hex digits")
    for key, value in entry.attributes.items():
        if not isinstance(value, str):
            raise ValueError(f"attribute {key}: values are strings")
        if elfproef(value):
            raise ValueError(f"attribute {key} holds a BSN in clear: use keyed_hash")
    for label in ("reason", "rule", "decision", "name", "case_id"):
        value = getattr(entry, label)
        if value is not None and any(elfproef(part) for part in _digit_runs(value)):
            raise ValueError(f"{label} holds a BSN in clear")


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)


def _digit_runs(value: str) -> list[str]:
    runs, current = [], ""
    for c in value:
        if c.isdigit():
            current += c
        else:
            runs.append(current)
            current = ""
    runs.append(current)
    return [r for r in runs if len(r) == 9]


# -- the log -----------------------------------------------------------------------------------

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
        _check_entry(entry)
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
        values = [getattr(record, c) for c in _COLUMNS]
        values[_COLUMNS.index("attributes")] = canonicalize(record.attributes).decode()
        placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
        await tx.execute(f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) "  # noqa: S608
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
            "AND body_hash = $4 LIMIT 1", ROUTED, message_id, recipient, digest)
        return bool(rows)

    async def head(self) -> tuple[int, str] | None:
        row = await self.db.fetchone("SELECT seq, hash FROM audit_head WHERE id = 1")
        return (int(row["seq"]), row["hash"]) if row else None

    async def verify(self, page: int = 1000) -> VerifyResult:
        """Walk the chain in seq order: recompute every hash and every link, then the head."""
        head = await self.head()
        top = await self.db.fetchone("SELECT MAX(seq) AS s FROM audit_log")
        last_row = int(top["s"]) if top and top["s"] is not None else 0
        limit = max(head[0] if head else 0, last_row)
        prev_hash, expected, count, after = GENESIS, 1, 0, 0
        while True:
            rows = await self.db.fetch(
                "SELECT * FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                after, limit, page)
            if not rows:
                break
            for row in rows:
                record = AuditRecord.from_row(row)
                bad = await self._judge(record, expected, prev_hash, count, limit)
                if bad is not None:
                    return bad
                prev_hash, expected, count = record.hash, record.seq + 1, count + 1
            after = int(rows[-1]["seq"])
        if head is None:
            if count:
                return VerifyResult(False, count, count, "removed",
                                    "the head (audit_head) is missing")
            return VerifyResult(True, 0, head_hash=None)
        if head[0] > count:
            return VerifyResult(False, count, count + 1, "removed",
                                f"the chain ends at {count} but the head says {head[0]}")
        if head[1] != prev_hash:
            return VerifyResult(False, count - 1, count, "edited",
                                "the last record's hash differs from the head")
        return VerifyResult(True, count, head_hash=prev_hash)

    async def _judge(self, record: AuditRecord, expected: int, prev_hash: str, count: int,
                     limit: int) -> VerifyResult | None:
        if record.compute_hash() != record.hash:
            moved_from = self._original_seq(record, limit)
            if moved_from is not None:
                return VerifyResult(False, count, record.seq, "reordered",
                                    f"record {record.seq} was written as record {moved_from}")
            return VerifyResult(False, count, record.seq, "edited",
                                f"record {record.seq} does not match its hash")
        if record.seq != expected:
            return VerifyResult(False, count, expected, "removed",
                                f"record {expected} is missing (next is {record.seq})")
        if record.prev_hash != prev_hash:
            # intact itself and in place, but its predecessor is not the one it was chained to
            return VerifyResult(False, count - 1, record.seq - 1, "edited",
                                f"record {record.seq - 1} was replaced (record {record.seq} "
                                f"links to another hash)")
        return None

    @staticmethod
    def _original_seq(record: AuditRecord, limit: int) -> int | None:
        """The seq this record's hash was computed with, nearest first; None when none fits."""
        for distance in range(1, limit):
            for seq in (record.seq - distance, record.seq + distance):
                if 1 <= seq <= limit and replace(record, seq=seq).compute_hash() == record.hash:
                    return seq
        return None

    async def check_tail(self, records: int = 100) -> bool:
        """Cheap readiness check: the last ``records`` link up and end at the head."""
        try:
            head = await self.head()
            if head is None:
                return True
            rows = await self.db.fetch(
                "SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq", head[0] - records)
        except StoreUnavailableError:
            return False
        chain = [AuditRecord.from_row(r) for r in rows]
        if not chain or chain[-1].seq != head[0] or chain[-1].hash != head[1]:
            return False
        for before, after in itertools.pairwise(chain):
            if after.seq != before.seq + 1 or after.prev_hash != before.hash:
                return False
        return all(r.compute_hash() == r.hash for r in chain)


def _outside_transaction(db: Database) -> bool:
    if isinstance(db, PostgresDatabase):
        return True
    if isinstance(db, SqliteDatabase):
        return not db._in_tx
    return False


# -- entries from messages -----------------------------------------------------------------------

def subject_attributes(bsn: str | None, hash_key: bytes) -> dict[str, str]:
    """``dpl.core.data_subject_id`` (keyed hash) and its type, when there is a BSN."""
    if not bsn:
        return {}
    return {ATTR_SUBJECT: keyed_hash(hash_key, bsn), ATTR_SUBJECT_TYPE: "BSN"}


def bsn_of(source: Envelope | bytes | None) -> str | None:
    """The BSN in a message body (field ``bsn``), from a parsed envelope or raw bytes."""
    if source is None:
        return None
    if isinstance(source, bytes):
        try:
            document = loads_strict(source)
        except JsonError:
            return None
        body = document.get("body") if isinstance(document, dict) else None
        value = body.get("bsn") if isinstance(body, dict) else None
    else:
        value = getattr(source.body, "bsn", None)
    return value if isinstance(value, str) and value else None


def entry_from_envelope(
    event: str, envelope: Envelope, raw: bytes | None, hash_key: bytes, *,
    decision: str, status_code: int = STATUS_OK, reason: str | None = None,
    rule: str | None = None, policy_version: str | None = None,
    start_time: datetime | None = None,
) -> AuditEntry:
    """An entry about one message: ids, parties, body hash, trace and data-subject fields."""
    return AuditEntry(
        event=event, name=f"maatwerk.hub.{event}", status_code=status_code,
        message_id=str(envelope.id), message_type=envelope.type, sender=envelope.sender,
        recipient=envelope.recipient, decision=decision, reason=reason, rule=rule,
        policy_version=policy_version, body_hash=body_hash(raw) if raw is not None else None,
        case_id=envelope.case_id, trace_id=envelope.conversation_id.hex,
        span_id=span_id_for(event, envelope.id),
        parent_span_id=span_id_for(ROUTED, envelope.in_reply_to) if envelope.in_reply_to else None,
        start_time=start_time,
        attributes={ATTR_ACTIVITY: activity_id(envelope.purpose.value),
                    **subject_attributes(bsn_of(envelope), hash_key)},
    )


def entry_for_answer(awaited: str, envelope: Envelope, raw: bytes | None,
                     hash_key: bytes) -> AuditEntry:
    """``receipt`` or ``response``: a routed answer fulfilled an expectation."""
    event = RECEIPT if awaited == RECEIPT else RESPONSE
    return entry_from_envelope(event, envelope, raw, hash_key,
                               decision=f"{awaited} fulfilled")


def entry_for_hub_message(envelope: Envelope, raw: bytes, hash_key: bytes) -> AuditEntry:
    """``reminder``, ``overdue`` or ``timeout_ended``: a message the hub queued in its outbox."""
    event = HUB_MESSAGE_EVENTS.get(envelope.type, envelope.type)
    return entry_from_envelope(event, envelope, raw, hash_key, decision="queued")


def entry_for_purge(case_id: str, rows: Mapping[str, int]) -> AuditEntry:
    """``purge``: retention removed the case's personal data; ``rows`` per table."""
    counts = {f"maatwerk.purged.{table}": str(n) for table, n in sorted(rows.items())}
    return AuditEntry(
        event=PURGE, name=f"maatwerk.hub.{PURGE}", case_id=case_id, decision="purged",
        span_id=span_id_for(PURGE, case_id),
        attributes={ATTR_ACTIVITY: activity_id("hub.retention"), **counts},
    )
