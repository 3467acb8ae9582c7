"""Deep readiness: not merely that the process lives, but that it can do its work.

Each probe asks the real thing: the hub's signing key signs, and the registry publishes a valid
key that verifies it (otherwise no participant could verify a notice); the state store accepts a
write; the audit chain's tail verifies; registry and policy are loaded. The days until each
participant key expires go to a gauge, so operators renew keys before messages are refused.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from hub.contract.errors import HubError, Refusal
from hub.contract.messages import Purpose, parse_document
from hub.contract.notary import Notary, Thread
from hub.contract.policy import Policy
from hub.contract.registry import Registry
from hub.contract.signing import verify_document
from hub.state import health
from hub.state.audit import AuditLog
from hub.state.database import Database
from hub.telemetry.metrics import HubMetrics

_PROBE = UUID("00000000-0000-4000-8000-000000000000")


def signing_works(notary: Notary, registry: Registry, now: datetime) -> bool:
    """Sign a probe message and verify it with the hub's key as published in the registry."""
    thread = Thread(case_id="health-probe", conversation_id=_PROBE, purpose=Purpose.COORDINATION,
                    in_reply_to=_PROBE)
    try:
        envelope, raw = notary.sign(type="notice.duplicate", recipient=_any_other(registry),
                                    body={"original_message_id": str(_PROBE),
                                          "original_outcome": "in_progress"},
                                    now=now, thread=thread)
        public = registry.key_for(registry.hub.id, envelope.signature.kid, at=now, now=now)
        verify_document(parse_document(raw), public)  # as a recipient checks the bytes
    except (Refusal, HubError, ValueError):
        return False
    return True


async def state_accepts_writes(db: Database, replica: str, now: datetime) -> bool:
    try:
        await health.record_probe(db, replica, now)
    except Exception:
        return False
    return True


def key_expiry(registry: Registry, metrics: HubMetrics, now: datetime) -> None:
    """``maatwerk_key_expiry_days{participant, kid}`` for every published, unrevoked key."""
    metrics.key_expiry_days.clear()
    for participant in registry.document.participants:
        for key in participant.keys:
            if key.revoked_at is None or key.revoked_at > now:
                days = (key.not_after - now).total_seconds() / 86400
                metrics.key_expiry_days.labels(participant.id, key.kid).set(round(days, 2))


async def probe(*, notary: Notary, registry: Registry, policy: Policy, db: Database,
                audit: AuditLog, metrics: HubMetrics, replica: str,
                now: datetime, writes_ok: bool = True) -> dict[str, bool]:
    """Every deep check, by name. ``db`` and ``audit`` are the probes' own (short timeouts);
    ``writes_ok`` is whether the hub's last audit append succeeded."""
    key_expiry(registry, metrics, now)
    checks = {
        "registry": bool(registry.participants),
        "policy": bool(policy.version),
        "signing": signing_works(notary, registry, now),
        "state": await state_accepts_writes(db, replica, now),
        "audit": writes_ok and await audit.check_tail(),
    }
    for name, ok in checks.items():
        metrics.check.labels(name).set(1 if ok else 0)
    return checks


def _any_other(registry: Registry) -> str:
    return next(p.id for p in registry.document.participants if p.kind != "hub")
