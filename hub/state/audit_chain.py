"""The links of the audit chain and how a chain is judged: hashes, order, the head.

:class:`AuditRecord` is one stored link; its ``hash`` is SHA-256 over the RFC 8785 canonical JSON
of every other field, ``prev_hash`` included. :class:`ChainWalk` judges records fed to it in seq
order (recomputing every hash and link, then comparing with the head) and says which record is
``edited``, ``removed`` or ``reordered``; :func:`tail_intact` is the cheap check of the last few.
Nothing here reads the database: :class:`hub.state.audit.AuditLog` reads the records and feeds
them in.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from hub.contract.canonical import canonicalize
from hub.contract.messages import utc_iso
from hub.state.database import Row, from_ms

GENESIS = "0" * 64
"""The ``prev_hash`` of the first record."""


def iso(ms: int | None) -> str | None:
    moment = from_ms(ms)
    return utc_iso(moment) if moment else None


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    """One stored link of a chain. Times are epoch milliseconds (UTC).

    ``chain`` names the chain (the replica that wrote it, see :mod:`hub.state.audit`); the
    one chain from before migration 7 is ``''``, and a record of that chain does not hash the
    field, so its old hashes still hold."""

    chain: str = ""
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
        """Everything the hash covers: every field but ``hash`` (and an empty ``chain``)."""
        fields = {name: getattr(self, name) for name in _HASHED}
        fields["attributes"] = dict(self.attributes)
        if not fields["chain"]:
            del fields["chain"]
        return fields

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical(self.content())).hexdigest()

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


COLUMNS = tuple(AuditRecord.__dataclass_fields__)
"""The columns of ``audit_log``, in the order of the record's fields."""
_HASHED = tuple(c for c in COLUMNS if c != "hash")
def canonical(fields: dict[str, Any]) -> bytes:
    """RFC 8785 (JCS) bytes of a record's fields (:func:`canonicalize`, whose shortcut for plain
    values is what a record holds: strings, integers, None and one flat dict of strings)."""
    return canonicalize(fields)


@dataclass(frozen=True)
class VerifyResult:
    """``why`` is ``edited``, ``removed`` or ``reordered`` for the first bad record; ``chain``
    names its chain. Of several chains, ``count`` is the records of all, ``chains`` how many."""

    ok: bool
    count: int
    first_bad_seq: int | None = None
    why: Literal["edited", "removed", "reordered"] | None = None
    detail: str = ""
    head_hash: str | None = None
    chain: str = ""
    chains: int = 1

    def describe(self) -> str:
        if self.ok:
            if self.chains == 1:
                return f"audit chain ok: {self.count} records, head {self.head_hash or GENESIS}"
            return f"audit chain ok: {self.count} records in {self.chains} chains"
        where = f" of chain {self.chain!r}" if self.chain else ""
        return (f"audit chain BROKEN at record {self.first_bad_seq} ({self.why}){where}: "
                f"{self.detail}; {self.count} records checked before it")


class ChainWalk:
    """Judges a whole chain, fed in seq order; ``limit`` is the highest seq there should be."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.prev_hash, self.expected, self.count = GENESIS, 1, 0

    def step(self, record: AuditRecord) -> VerifyResult | None:
        """The verdict on the first bad record, or None while the chain holds."""
        bad = self._judge(record)
        if bad is None:
            self.prev_hash, self.expected, self.count = record.hash, record.seq + 1, self.count + 1
        return bad

    def end(self, head: tuple[int, str] | None) -> VerifyResult:
        """Every record was fed: the chain must end where the head (``audit_head``) says."""
        count, prev_hash = self.count, self.prev_hash
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

    def _judge(self, record: AuditRecord) -> VerifyResult | None:
        expected, count = self.expected, self.count
        if record.compute_hash() != record.hash:
            moved_from = self._original_seq(record)
            if moved_from is not None:
                return VerifyResult(False, count, record.seq, "reordered",
                                    f"record {record.seq} was written as record {moved_from}")
            return VerifyResult(False, count, record.seq, "edited",
                                f"record {record.seq} does not match its hash")
        if record.seq != expected:
            return VerifyResult(False, count, expected, "removed",
                                f"record {expected} is missing (next is {record.seq})")
        if record.prev_hash != self.prev_hash:
            # intact itself and in place, but its predecessor is not the one it was chained to
            return VerifyResult(False, count - 1, record.seq - 1, "edited",
                                f"record {record.seq - 1} was replaced (record {record.seq} "
                                f"links to another hash)")
        return None

    def _original_seq(self, record: AuditRecord) -> int | None:
        """The seq this record's hash was computed with, nearest first; None when none fits."""
        limit = self.limit
        for distance in range(1, limit):
            for seq in (record.seq - distance, record.seq + distance):
                if 1 <= seq <= limit and replace(record, seq=seq).compute_hash() == record.hash:
                    return seq
        return None


def tail_intact(chain: list[AuditRecord], head: tuple[int, str]) -> bool:
    """The last records (in seq order) link up, match their hashes and end at the head."""
    if not chain or chain[-1].seq != head[0] or chain[-1].hash != head[1]:
        return False
    for before, after in itertools.pairwise(chain):
        if after.seq != before.seq + 1 or after.prev_hash != before.hash:
            return False
    return all(r.compute_hash() == r.hash for r in chain)
