"""Audit entries for the pipeline's outcomes (routed, refused, duplicate).

They live with the routing core, which knows its outcome types; the audit chain itself
(:mod:`hub.state.audit`) knows only entries (:mod:`hub.state.audit_events`).
"""

from __future__ import annotations

from datetime import datetime

from hub.core.outcomes import Duplicate, Refuse, Route
from hub.state.audit_events import (
    ATTR_ACTIVITY,
    EVENT_DUPLICATE,
    EVENT_REFUSED,
    EVENT_ROUTED,
    STATUS_ERROR,
    AuditEntry,
    activity_id,
    body_hash,
    bsn_of,
    entry_from_envelope,
    span_id_for,
    subject_attributes,
)


def entry_for_route(route: Route, hash_key: bytes, *,
                    start_time: datetime | None = None) -> AuditEntry:
    """``routed``: the message went to the recipient's inbox (or a local handler)."""
    return entry_from_envelope(EVENT_ROUTED, route.envelope, route.body, hash_key,
                               decision=EVENT_ROUTED, rule=route.rule,
                               policy_version=route.policy_version, start_time=start_time)


def entry_for_refusal(refuse: Refuse, raw: bytes, hash_key: bytes, *,
                      start_time: datetime | None = None) -> AuditEntry:
    """``refused``: reason code and rule, never the detail text (it may quote personal data)."""
    if refuse.envelope is not None:
        return entry_from_envelope(
            EVENT_REFUSED, refuse.envelope, raw, hash_key, decision=EVENT_REFUSED,
            status_code=STATUS_ERROR, reason=refuse.reason.value, rule=refuse.rule,
            policy_version=refuse.policy_version, start_time=start_time)
    message_id = str(refuse.message_id) if refuse.message_id else None
    return AuditEntry(
        event=EVENT_REFUSED, name=f"maatwerk.hub.{EVENT_REFUSED}", status_code=STATUS_ERROR,
        message_id=message_id, sender=refuse.notify.id if refuse.notify else None,
        decision=EVENT_REFUSED, reason=refuse.reason.value, rule=refuse.rule,
        policy_version=refuse.policy_version, body_hash=body_hash(raw),
        span_id=span_id_for(EVENT_REFUSED, message_id) if message_id else None,
        start_time=start_time,
        attributes={ATTR_ACTIVITY: activity_id("hub.refusal"),
                    **subject_attributes(bsn_of(raw), hash_key)},
    )


def entry_for_duplicate(duplicate: Duplicate, raw: bytes | None, hash_key: bytes, *,
                        start_time: datetime | None = None) -> AuditEntry:
    """``duplicate``: the id was seen before; the original outcome was repeated."""
    return entry_from_envelope(EVENT_DUPLICATE, duplicate.envelope, raw, hash_key,
                               decision=f"original {duplicate.original.status}",
                               reason=duplicate.original.reason, start_time=start_time)
