"""The committed configuration, shared by every replica (registry, keys, policy, agreements).

``config_versions`` holds each validated configuration a replica committed, numbered by
``generation``; the highest generation is the one in force. A replica decides only under that
generation: before each decision it reads the head (one indexed row) and, when it holds an older
one, loads the newer bundle from this table before deciding (:mod:`hub.ops.reload`). So once a
change is committed, no replica starts a decision under an older version.

``config_reload_requests`` is how ``maatwerk-hub reload`` reaches every replica: each one's
reloader sees a request id newer than the last it handled and reloads its files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.contract.config_bundle import ConfigBundle
from hub.state.database import Database, from_ms, to_ms
from hub.state.seen import record_versions


@dataclass(frozen=True)
class Head:
    generation: int
    hash: str


@dataclass(frozen=True)
class Committed:
    generation: int
    hash: str
    registry_version: str
    policy_version: str
    agreements_version: str
    bundle: str
    committed_at: datetime
    committed_by: str


@dataclass(frozen=True)
class Stamp:
    """The versions one decision was made under."""

    generation: int
    registry_version: str
    policy_version: str
    agreements_version: str


@dataclass(frozen=True)
class Active:
    """The configuration in force on a replica and the stamp its decisions record."""

    bundle: ConfigBundle
    stamp: Stamp

    @classmethod
    def of(cls, bundle: ConfigBundle, generation: int) -> Active:
        return cls(bundle=bundle, stamp=Stamp(
            generation=generation, registry_version=bundle.registry.version,
            policy_version=bundle.policy.version, agreements_version=bundle.agreements.version))


async def head(db: Database) -> Head | None:
    row = await db.fetchone(
        "SELECT generation, hash FROM config_versions ORDER BY generation DESC LIMIT 1")
    return Head(int(row["generation"]), row["hash"]) if row else None


async def get(db: Database, generation: int) -> Committed | None:
    row = await db.fetchone("SELECT * FROM config_versions WHERE generation = $1", generation)
    if row is None:
        return None
    return Committed(
        generation=int(row["generation"]), hash=row["hash"],
        registry_version=row["registry_version"], policy_version=row["policy_version"],
        agreements_version=row["agreements_version"], bundle=row["bundle"],
        committed_at=from_ms(row["committed_at"]) or datetime.min,
        committed_by=row["committed_by"])


async def history(db: Database, limit: int = 20) -> list[Committed]:
    rows = await db.fetch(
        "SELECT generation FROM config_versions ORDER BY generation DESC LIMIT $1", limit)
    found = [await get(db, int(r["generation"])) for r in rows]
    return [c for c in found if c is not None]


async def commit(db: Database, *, hash: str, versions: dict[str, str], bundle: str,
                 now: datetime, by: str) -> int:
    """Make ``bundle`` the configuration in force; return its generation.

    When the head already has this hash nothing is written. Two replicas committing at once
    both try the next generation number; the loser sees the conflict and tries again on top.
    """
    while True:
        current = await head(db)
        if current is not None and current.hash == hash:
            return current.generation
        generation = (current.generation if current else 0) + 1
        written = await db.execute(
            "INSERT INTO config_versions (generation, hash, registry_version, policy_version, "
            "agreements_version, bundle, committed_at, committed_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (generation) DO NOTHING",
            generation, hash, versions["registry"], versions["policy"], versions["agreements"],
            bundle, to_ms(now), by)
        if written:
            return generation


async def request_reload(db: Database, *, now: datetime, by: str) -> int:
    """Ask every replica to reload its files; return the request id."""
    while True:
        row = await db.fetchone("SELECT MAX(id) AS id FROM config_reload_requests")
        request = int(row["id"] or 0) + 1 if row else 1
        if await db.execute(
                "INSERT INTO config_reload_requests (id, requested_at, requested_by) "
                "VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", request, to_ms(now), by):
            return request


async def last_request(db: Database) -> int:
    row = await db.fetchone("SELECT MAX(id) AS id FROM config_reload_requests")
    return int(row["id"] or 0) if row else 0


async def record_stamp(db: Database, message_id: str, stamp: Stamp) -> None:
    """Write the versions a decision used on the message's row (beside its policy_version)."""
    await record_versions(db, message_id, generation=stamp.generation,
                          registry_version=stamp.registry_version,
                          agreements_version=stamp.agreements_version)
