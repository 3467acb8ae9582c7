"""The hub's side of a replay: consume ``maatwerk.hub.replay`` and act only on sealed requests.

``maatwerk-hub deadletters replay`` (:mod:`hub.ops.deadletters`) puts a dead letter's original
bytes here with a plan derived from the dead letter alone (:func:`hub.core.deadletters.plan`) and
seals it with the hub's key. This consumer checks the seal, then:

- ``pipeline``: runs the whole pipeline (steps 1-9) with the sealed original ``user_id``, as
  :class:`~hub.core.outcomes.Inbound` marked ``replay`` (a refused message is decided again);
- ``redeliver``: publishes the bytes to the named participant's inbox again, only when the audit
  trail records routing exactly these bytes of this message id to that participant.

Anything else (no or a wrong seal, nothing routed to redeliver) is dead-lettered again with
``x-maatwerk-reason: replay_refused`` and acknowledged: never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import logging

from aio_pika.abc import AbstractIncomingMessage

from hub.contract import names
from hub.core import deadletters
from hub.core.outcomes import Inbound
from hub.core.router import Router
from hub.state.audit_events import AuditEntry, span_id_for

log = logging.getLogger("maatwerk.replay")

REPLAY_REFUSED = "replay_refused"
REDELIVERED = "redelivered"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else ("" if value is None else str(value))


class ReplayConsumer:
    def __init__(self, router: Router, hash_key: bytes) -> None:
        self.router = router
        self.hash_key = hash_key

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            await self._act(message)
        except Exception:
            log.exception("replay failed; returned to the replay queue (its delivery limit "
                          "dead-letters it)")
            await message.nack(requeue=True)
            return
        await message.ack()

    async def _act(self, message: AbstractIncomingMessage) -> None:
        headers = dict(message.headers or {})
        mode = _text(headers.get(names.HEADER_REPLAY))
        user = _text(headers.get(names.HEADER_USER_ID))
        target = _text(headers.get(names.HEADER_REPLAY_TO))
        if not deadletters.sealed(self.hash_key, message.body, headers.get(names.HEADER_SEAL),
                                  "replay", mode, user, target):
            await self._refuse(message, "the replay request is not sealed by this hub's key")
            return
        if mode == "pipeline":
            log.info("replaying a dead letter through the pipeline",
                     extra={"event": "replay", "message_id": _text(message.message_id)})
            await self.router.handle(Inbound(body=message.body, user_id=user or None,
                                             message_id=_text(message.message_id) or None,
                                             replay=True))
        elif mode == "redeliver":
            await self._redeliver(message, target)
        else:
            await self._refuse(message, f"unknown replay mode {mode!r}")

    async def _redeliver(self, message: AbstractIncomingMessage, target: str) -> None:
        try:
            document = json.loads(message.body)
            message_id, type_name = str(document["id"]), str(document["type"])
        except (ValueError, KeyError, TypeError):
            await self._refuse(message, "not a message the hub routed (unreadable)")
            return
        digest = hashlib.sha256(message.body).hexdigest()
        audit = self.router.ledger.audit
        if not await audit.routed_exactly(message_id, target, digest):
            await self._refuse(message, f"the audit trail has no routing of exactly these bytes "
                                        f"of {message_id} to {target}")
            return
        await self.router.redeliver(target, message.body, message_id, type_name)
        await audit.append(AuditEntry(
            event=REDELIVERED, name=f"maatwerk.hub.{REDELIVERED}", message_id=message_id,
            message_type=type_name, recipient=target, decision=REDELIVERED, body_hash=digest,
            span_id=span_id_for(REDELIVERED, message_id)))
        log.info("dead letter redelivered", extra={"event": REDELIVERED,
                                                   "message_id": message_id, "to": target})

    async def _refuse(self, message: AbstractIncomingMessage, detail: str) -> None:
        log.warning("replay refused: %s", detail, extra={"event": REPLAY_REFUSED})
        await self.router.dead_letter(message.body, _text(message.message_id) or None, {
            names.HEADER_REASON: REPLAY_REFUSED, names.HEADER_DETAIL: detail[:1000],
            names.HEADER_SOURCE: "hub"})
