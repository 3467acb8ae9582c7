"""Leases in the shared state: one replica at a time holds a named lease (table ``hub_leases``).

A replica takes a free or expired lease, or renews its own, with one conditional upsert; the
others see another holder and do not act. Times are real epoch milliseconds (never a test's
injected clock: leases are between processes). A replica that dies loses its lease when it
expires, and another one takes it over on its next try.
"""

from __future__ import annotations

import time

from hub.state.database import Database

GAUGES = "gauges"
"""The lease of the replica that exports the database-wide gauges (overdue, late, time-outs)."""


async def hold(db: Database, name: str, holder: str, ttl_seconds: float) -> bool:
    """Take or renew lease ``name`` for ``holder``; True when ``holder`` holds it now."""
    now = int(time.time() * 1000)
    await db.execute(
        "INSERT INTO hub_leases (name, holder, expires_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
        "expires_at = excluded.expires_at "
        "WHERE hub_leases.holder = excluded.holder OR hub_leases.expires_at < $4",
        name, holder, now + int(ttl_seconds * 1000), now)
    row = await db.fetchone("SELECT holder FROM hub_leases WHERE name = $1", name)
    return row is not None and row["holder"] == holder


async def release(db: Database, name: str, holder: str) -> None:
    """Give lease ``name`` up (on a clean stop), so another replica takes it at once."""
    await db.execute("DELETE FROM hub_leases WHERE name = $1 AND holder = $2", name, holder)
