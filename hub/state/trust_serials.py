"""Which trust document serials the hub has published (table ``trust_serials``).

Every replica watches ``MAATWERK_TRUST_FILE``; when it holds a newer valid serial, each replica
tries to *claim* that serial here (``INSERT ... ON CONFLICT DO NOTHING`` on the serial). Only
the replica whose insert won broadcasts the ``trust.update`` messages and writes the audit
record, in the same transaction as the claim (:mod:`hub.ops.trust_publisher`), so each serial is
broadcast and audited once however many replicas run, and never after a crash half-way (the
outbox rows and the claim commit together).

This module owns the ``trust_serials`` table: no other module reads or writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.state.database import Database, now_ms


class Claim(StrEnum):
    CLAIMED = "claimed"
    """This replica won the serial: it broadcasts and audits it."""
    KNOWN = "known"
    """Claimed before (by this or another replica), with the same document."""
    CONFLICT = "conflict"
    """The serial was claimed with another document: two documents share one serial."""
    STALE = "stale"
    """A higher serial was claimed already: an older file is not broadcast."""


@dataclass(frozen=True)
class Published:
    serial: int
    sha256: str
    registry_version: str
    policy_version: str
    agreements_version: str
    recipients: int
    claimed_by: str
    claimed_at: int


async def claim(tx: Database, *, serial: int, sha256: str, registry_version: str,
                policy_version: str, agreements_version: str, recipients: int,
                by: str) -> Claim:
    """Claim ``serial`` inside the caller's transaction ``tx``."""
    row = await tx.fetchone("SELECT sha256 FROM trust_serials WHERE serial = $1", serial)
    if row is not None:
        return Claim.KNOWN if row["sha256"] == sha256 else Claim.CONFLICT
    newer = await tx.fetchone("SELECT serial FROM trust_serials WHERE serial > $1 LIMIT 1",
                              serial)
    if newer is not None:
        return Claim.STALE
    inserted = await tx.execute(
        "INSERT INTO trust_serials (serial, sha256, registry_version, policy_version, "
        "agreements_version, recipients, claimed_by, claimed_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (serial) DO NOTHING",
        serial, sha256, registry_version, policy_version, agreements_version, recipients, by,
        now_ms())
    if inserted:
        return Claim.CLAIMED
    row = await tx.fetchone("SELECT sha256 FROM trust_serials WHERE serial = $1", serial)
    return Claim.KNOWN if row is not None and row["sha256"] == sha256 else Claim.CONFLICT


async def published(db: Database) -> list[Published]:
    """Every claimed serial, oldest first."""
    rows = await db.fetch("SELECT * FROM trust_serials ORDER BY serial")
    return [Published(serial=int(r["serial"]), sha256=r["sha256"],
                      registry_version=r["registry_version"],
                      policy_version=r["policy_version"],
                      agreements_version=r["agreements_version"],
                      recipients=int(r["recipients"]), claimed_by=r["claimed_by"],
                      claimed_at=int(r["claimed_at"])) for r in rows]
