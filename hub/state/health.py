"""The replicas' write probes: each hub replica proves, for readiness, that the store takes a write.

This module owns the ``hub_health`` table (one row per replica, the time of its last probe): no
other module reads or writes it.
"""

from __future__ import annotations

from datetime import datetime

from hub.state.database import Database, to_ms


async def record_probe(db: Database, replica: str, now: datetime) -> None:
    """Write ``replica``'s probe time; raises when the store refuses the write."""
    await db.execute(
        "INSERT INTO hub_health (replica, checked_at) VALUES ($1, $2) "
        "ON CONFLICT (replica) DO UPDATE SET checked_at = excluded.checked_at",
        replica, to_ms(now))
