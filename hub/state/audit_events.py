"""What an audit record may say: event names, the Logboek fields, entries and their builders.

An :class:`AuditEntry` is what a caller wants recorded; the chain (:mod:`hub.state.audit`) adds
seq, time and the hashes. The builders here make entries about messages (ids, parties, the body's
hash, trace ids and the data subject's keyed hash) so every caller records the same fields the
same way. :func:`check_entry` refuses an entry that would put personal data in the chain in clear.

The event names (``EVENT_*``) are what the audit trail records; they are not the status of a
message row (:mod:`hub.state.seen`), even where the word is the same (``routed``, ``refused``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from hub.contract.canonical import JsonError, loads_strict
from hub.contract.identifiers import elfproef
from hub.telemetry.logs import keyed_hash

if TYPE_CHECKING:
    from hub.contract.messages import Envelope

REGISTER = "https://maatwerkhub.example/register/"
"""Base URI of the processing register; the activity id is this plus the purpose."""
ATTR_ACTIVITY = "dpl.core.processing_activity_id"
ATTR_SUBJECT = "dpl.core.data_subject_id"
ATTR_SUBJECT_TYPE = "dpl.core.data_subject_id_type"

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2

EVENT_ROUTED = "routed"
EVENT_REFUSED = "refused"
EVENT_DUPLICATE = "duplicate"
EVENT_RECEIPT = "receipt"
EVENT_RESPONSE = "response"
EVENT_REMINDER = "reminder"
EVENT_OVERDUE = "overdue"
EVENT_TIMEOUT_ENDED = "timeout_ended"
EVENT_PURGE = "purge"
EVENT_TRUST = "trust_document"
"""A new trust document serial was published (broadcast as ``trust.update``)."""
EVENTS = (EVENT_ROUTED, EVENT_REFUSED, EVENT_DUPLICATE, EVENT_RECEIPT, EVENT_RESPONSE,
          EVENT_REMINDER, EVENT_OVERDUE, EVENT_TIMEOUT_ENDED, EVENT_PURGE, EVENT_TRUST)

HUB_MESSAGE_EVENTS = {
    "notice.reminder": EVENT_REMINDER,
    "notice.overdue": EVENT_OVERDUE,
    "timeout.ended": EVENT_TIMEOUT_ENDED,
}
"""The hub's own outbox messages and the audit event each one is."""

_SPAN_NAMESPACE = "maatwerk-audit"


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


def check_entry(entry: AuditEntry) -> None:
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
    in_reply_to = envelope.in_reply_to
    return AuditEntry(
        event=event, name=f"maatwerk.hub.{event}", status_code=status_code,
        message_id=str(envelope.id), message_type=envelope.type, sender=envelope.sender,
        recipient=envelope.recipient, decision=decision, reason=reason, rule=rule,
        policy_version=policy_version, body_hash=body_hash(raw) if raw is not None else None,
        case_id=envelope.case_id, trace_id=envelope.conversation_id.hex,
        span_id=span_id_for(event, envelope.id),
        parent_span_id=span_id_for(EVENT_ROUTED, in_reply_to) if in_reply_to else None,
        start_time=start_time,
        attributes={ATTR_ACTIVITY: activity_id(envelope.purpose.value),
                    **subject_attributes(bsn_of(envelope), hash_key)},
    )


def entry_for_answer(awaited: str, envelope: Envelope, raw: bytes | None,
                     hash_key: bytes) -> AuditEntry:
    """``receipt`` or ``response``: a routed answer fulfilled the expectation ``awaited``
    (:data:`hub.state.ledger.RECEIPT` or :data:`~hub.state.ledger.RESPONSE`)."""
    event = EVENT_RECEIPT if awaited == EVENT_RECEIPT else EVENT_RESPONSE  # named alike
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
        event=EVENT_PURGE, name=f"maatwerk.hub.{EVENT_PURGE}", case_id=case_id,
        decision="purged", span_id=span_id_for(EVENT_PURGE, case_id),
        attributes={ATTR_ACTIVITY: activity_id("hub.retention"), **counts},
    )


def entry_for_trust(*, serial: int, sha256: str, versions: Mapping[str, str],
                    recipients: int, replica: str) -> AuditEntry:
    """``trust_document``: serial ``serial`` of the trust document was published. Records the
    serial, the SHA-256 of the signed bytes and the versions (``registry``, ``policy``,
    ``policy_sha256``, ``agreements``, ``agreements_sha256``, ``issued_at``, ``valid_until``);
    no personal data (the document's contact points are professionals', and stay out)."""
    return AuditEntry(
        event=EVENT_TRUST, name=f"maatwerk.hub.{EVENT_TRUST}", decision=f"published serial "
        f"{serial}", body_hash=sha256, span_id=span_id_for(EVENT_TRUST, f"serial-{serial}"),
        attributes={ATTR_ACTIVITY: activity_id("hub.trust"),
                    "maatwerk.trust.serial": str(serial), "maatwerk.trust.sha256": sha256,
                    **{f"maatwerk.trust.{k}": v for k, v in sorted(versions.items())},
                    "maatwerk.trust.recipients": str(recipients),
                    "maatwerk.trust.published_by": replica},
    )
