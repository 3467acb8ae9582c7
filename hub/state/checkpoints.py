"""Signed checkpoints of the audit chain (table ``audit_checkpoints``).

The chain alone shows that records were edited, removed or reordered, but someone who can write
the database could rebuild the whole chain with fresh hashes. A checkpoint closes that: the
chain's head (``seq`` and ``hash``) at a moment, signed with the hub's Ed25519 key. The hub writes
one every :data:`EVERY_SECONDS` while the chain grows (the watcher), ``maatwerk-hub audit
checkpoint export`` writes one to a file to keep elsewhere, and ``audit verify`` checks every
stored (and every given) checkpoint: its signature with the hub's key in the registry, and that
the chain's record ``seq`` still has the signed hash. A chain rewritten before a checkpoint no
longer has it.

A checkpoint, as stored and exported (RFC 8785 canonical JSON of everything but
``signature.value`` is what is signed)::

    {"type": "audit.checkpoint", "hub": "maatwerk-hub", "seq": 1834, "hash": "5b0e...",
     "time": "2026-12-01T20:00:00.000Z", "signature": {"alg": "Ed25519", "kid": "...",
     "value": "..."}}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.contract.errors import ConfigError, Refusal
from hub.contract.messages import utc_iso
from hub.contract.registry import Registry
from hub.contract.signing import ALG, verify_document
from hub.state.audit import AuditLog
from hub.state.database import Database, from_ms, to_ms

TYPE = "audit.checkpoint"
EVERY_SECONDS = 300.0
"""How often the hub signs the head while the chain grows."""

Signer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Checkpoint:
    """``chain`` is the audit chain whose head it signs (a replica's; ``''`` for the chain from
    before per-replica chains, whose documents carry no ``chain``)."""

    seq: int
    hash: str
    time: datetime
    hub: str
    kid: str
    signature: str
    chain: str = ""

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": TYPE, "hub": self.hub, "seq": self.seq, "hash": self.hash,
            "time": utc_iso(self.time),
            "signature": {"alg": ALG, "kid": self.kid, "value": self.signature}}
        if self.chain:
            document["chain"] = self.chain
        return document

    def to_json(self) -> str:
        return json.dumps(self.document(), sort_keys=True)

    @classmethod
    def from_document(cls, document: Any) -> Checkpoint:
        try:
            if document["type"] != TYPE:
                raise ConfigError(f"not an audit checkpoint: type {document['type']!r}")
            signature = document["signature"]
            return cls(seq=int(document["seq"]), hash=str(document["hash"]),
                       time=datetime.fromisoformat(str(document["time"]).replace("Z", "+00:00")),
                       hub=str(document["hub"]), kid=str(signature["kid"]),
                       signature=str(signature["value"]), chain=str(document.get("chain", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not an audit checkpoint: {exc}") from None


async def latest(db: Database, chain: str | None = None) -> Checkpoint | None:
    """The newest checkpoint (of ``chain``, when given)."""
    rows = await stored(db, newest_first=True, limit=1, chain=chain)
    return rows[0] if rows else None


async def stored(db: Database, *, newest_first: bool = False, limit: int | None = None,
                 chain: str | None = None) -> list[Checkpoint]:
    order = "DESC" if newest_first else "ASC"
    where, args = ("WHERE chain = $1 ", [chain]) if chain is not None else ("", [])
    sql = (f"SELECT * FROM audit_checkpoints {where}"  # noqa: S608 (constant)
           f"ORDER BY time {order}, chain, seq {order}")
    rows = await db.fetch(sql + (f" LIMIT {int(limit)}" if limit else ""), *args)
    return [Checkpoint(seq=int(r["seq"]), hash=r["hash"], time=_moment(int(r["time"])),
                       hub=r["hub"], kid=r["kid"], signature=r["signature"], chain=r["chain"])
            for r in rows]


def _moment(ms: int) -> datetime:
    moment = from_ms(ms)
    assert moment is not None
    return moment


async def write(audit: AuditLog, hub_id: str, sign: Signer, now: datetime) -> Checkpoint | None:
    """Sign the chain's head now and store it; None when the chain is empty."""
    head = await audit.head()
    if head is None:
        return None
    unsigned: dict[str, Any] = {"type": TYPE, "hub": hub_id, "seq": head[0], "hash": head[1],
                                "time": utc_iso(now)}
    if audit.chain:
        unsigned["chain"] = audit.chain
    checkpoint = Checkpoint.from_document(sign(unsigned))
    await audit.db.execute(
        "INSERT INTO audit_checkpoints (chain, seq, hash, time, hub, kid, signature) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (chain, seq) DO NOTHING",
        checkpoint.chain, checkpoint.seq, checkpoint.hash, to_ms(checkpoint.time),
        checkpoint.hub, checkpoint.kid, checkpoint.signature)
    return checkpoint


async def due(audit: AuditLog, hub_id: str, sign: Signer, now: datetime,
              every_seconds: float = EVERY_SECONDS) -> Checkpoint | None:
    """Write a checkpoint when the head moved past the latest one and that one is older than
    ``every_seconds`` (the watcher calls this every tick; replicas may race: same seq, one row)."""
    head = await audit.head()
    last = await latest(audit.db, audit.chain)
    if head is None or (last is not None and (
            last.seq >= head[0] or (now - last.time).total_seconds() < every_seconds)):
        return None
    return await write(audit, hub_id, sign, now)


async def check(checkpoint: Checkpoint, audit: AuditLog, registry: Registry) -> str | None:
    """None when ``checkpoint`` is signed by the hub and the chain still has its hash at its
    seq; otherwise why not, in one line."""
    where = f"checkpoint at record {checkpoint.seq} ({utc_iso(checkpoint.time)})" + (
        f" of chain {checkpoint.chain!r}" if checkpoint.chain else "")
    if checkpoint.hub != registry.hub.id:
        return f"{where}: signed as {checkpoint.hub}, not the hub {registry.hub.id}"
    try:
        public = registry.key_for(registry.hub.id, checkpoint.kid, at=checkpoint.time,
                                  now=checkpoint.time)
        verify_document(checkpoint.document(), public)
    except Refusal as exc:
        return f"{where}: the signature does not verify ({exc})"
    found = await audit.hash_at(checkpoint.seq, checkpoint.chain)
    if found is None:
        return f"{where}: the chain has no record {checkpoint.seq} any more (removed)"
    if found != checkpoint.hash:
        return (f"{where}: record {checkpoint.seq} has hash {found[:16]}..., the hub signed "
                f"{checkpoint.hash[:16]}... (the chain was rewritten before the checkpoint)")
    return None
