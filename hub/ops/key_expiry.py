"""Key-expiry warnings, before expiry (as X-Road renews certificates 14 days ahead).

A published, unrevoked key that expires within :data:`WARN_DAYS` and has no successor (another
unrevoked key of the same participant that stays valid longer) is named in ``/readyz`` under
``notes`` and logged once per process as ``key expires soon``; the days left of every key are in
the ``maatwerk_key_expiry_days`` gauge (:mod:`hub.ops.health`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from hub.contract.registry import Registry

WARN_DAYS = 14
log = logging.getLogger("maatwerk.keys")


def expiring_keys(registry: Registry, now: datetime, *, days: int = WARN_DAYS) -> list[str]:
    """One line per key that expires within ``days`` with no successor to take over."""
    notes = []
    horizon = now + timedelta(days=days)
    for participant in registry.document.participants:
        live = [k for k in participant.keys if k.revoked_at is None or k.revoked_at > now]
        for key in live:
            if not now <= key.not_after <= horizon:
                continue
            if any(other.not_after > key.not_after for other in live if other.kid != key.kid):
                continue  # rotated already: the next key takes over
            left = (key.not_after - now).total_seconds() / 86400
            notes.append(f"key {key.kid} of {participant.id} expires in {left:.1f} days "
                         f"({key.not_after.isoformat()}): run 'maatwerk-hub keys rotate "
                         f"{participant.id}'")
    return notes


def warn_expiring_keys(registry: Registry, now: datetime, warned: set[tuple[str, str]]) -> None:
    """Log each expiring key once (``warned`` remembers which were logged)."""
    for note in expiring_keys(registry, now):
        parts = note.split()
        mark = (parts[3], parts[1])  # (participant, kid)
        if mark not in warned:
            warned.add(mark)
            log.warning("key expires soon", extra={"event": "key_expiring", "participant":
                                                    mark[0], "kid": mark[1], "detail": note})
