"""Step 9 and the broker side: consume the hub queue, act on the pipeline's outcome, then ack.

Why *publish with confirm, then record, then ack* is the safe order:

- The inbound message is acknowledged last. Until then the broker keeps it; if this process dies
  at any point, the broker redelivers it (``redelivered`` set) to this or another replica.
- We publish to the recipient's inbox and wait for the broker's confirm before anything else: after
  the confirm the message is safely in a quorum queue. Recording "routed" before the confirm could
  mark as routed a message that never arrived, and the redelivery would then be swallowed as a
  duplicate: a silent loss.
- We record the outcome before the ack, so a redelivery after the ack-less crash finds "routed" and
  is answered as a duplicate instead of being routed again.
- The one window left, a crash between confirm and record, delivers the message twice with the
  same ``message_id``; the adapter SDK drops the second copy. Duplicates are recoverable, losses
  are not: that is the trade.

On a cluster (several broker nodes, :mod:`hub.core.failover`):

- A publish whose confirm does not come (the node went: at once when its channel closes, at most
  ``PUBLISH_TIMEOUT`` s when the connection hangs) fails; the message is handled again after
  the reconnect and the same bytes with the same id are published to the recipient's inbox (the
  SDK drops a copy that did arrive).
- A delivery whose channel died with the node cannot be acked any more: the broker gives it to a
  consumer again, so this replica stops working on it (no retry, no ack).
- A redelivery the hub caused itself (recorded, then the ack was lost with a replica or a node)
  finds the record decided: it is acked quietly, the recipient already has it and the sender is
  told nothing (a ``notice.duplicate`` is for a sender that published an id twice, which arrives
  as a new delivery, not a redelivered one).

Under load the record steps of the messages in flight are committed together (group commit,
:mod:`hub.state.batch`: up to ``MAATWERK_BATCH_MAX`` steps or ``MAATWERK_BATCH_MS`` after the
first), and so are the pipeline's claims (:class:`hub.state.seen.MessageStore` with ``claims``:
a claim returns only after its batch committed, as it did alone). The order *per message* is
unchanged, so the argument holds for each member of a batch:

- a message's record step is queued only after its own publish was confirmed;
- its caller gets back from the batch only after the batch's transaction **committed**, and only
  then acks; when the batch fails, every member gets the failure, nothing of it was written, and
  each retries (or is redelivered) exactly as a message alone would;
- a crash with a batch in flight leaves its members unacked: redelivered, and (their records not
  committed) routed again with the same ``message_id`` and dropped as copies by the SDK. So a
  crash may now re-deliver up to a batch more copies than before, never lose one.

The acks stay one per message, not ``multiple=True``: deliveries complete out of order (a
refusal, a retry, a slow publish confirm, two batches in flight), and ``basic.ack`` with
``multiple`` acknowledges *every* earlier delivery tag on the channel, including a message still
being published or whose record has not committed, which a crash would then lose. A multiple ack
would be safe only up to the lowest tag still in hand; with prefetch 64 the saving is a few small
frames per batch, which the profile does not show as a cost worth that bookkeeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from uuid import uuid4

import aio_pika
import stamina
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from aiormq.exceptions import AMQPError, ChannelInvalidStateError

from hub.contract import names
from hub.contract.errors import HubError, ReasonCode
from hub.contract.messages import Envelope, Purpose, utc_iso
from hub.contract.notary import UNKNOWN_CASE, Notary, Thread, notice_id
from hub.contract.registry import Participant
from hub.core import audit_entries, deadletters, register_desk
from hub.core.outcomes import (
    Duplicate,
    Inbound,
    OriginalInProgressError,
    Outcome,
    Refuse,
    Route,
)
from hub.core.pipeline import Clock, Pipeline
from hub.state import outbox, register_contacts
from hub.state.batch import GroupCommit
from hub.state.config_versions import record_stamp
from hub.state.database import Database, StoreUnavailableError
from hub.state.ledger import Ledger
from hub.state.seen import PROCESSING, REFUSED, MessageStore
from hub.telemetry.metrics import HubMetrics

log = logging.getLogger("maatwerk.router")

TRANSIENT = (StoreUnavailableError, AMQPError, ConnectionError, asyncio.TimeoutError,
             ChannelInvalidStateError)
# At most 2 s between attempts: a broker node fails over in seconds, and a longer wait would only
# add to the time to recover.
RETRY_FIRST_WAIT, RETRY_MAX_WAIT = 0.02, 2.0  # seconds
LocalHandler = Callable[[Route], Awaitable[None]]
# Seconds to wait for a broker confirm before publishing again. A node that goes closes the
# channel and fails pending confirms at once; this is for a connection that hangs (the AMQP
# heartbeat notices it in 60 s). 10 s was too short on a starved machine: confirms that came late
# were published again, adding load.
PUBLISH_TIMEOUT = 60.0
OUTBOX_PAGES = 50
"""Outbox pages sent per watcher tick at most (5,000 messages), so a tick always ends."""


class DeliveryLostError(HubError):
    """The channel this delivery came on is gone: it can no longer be acked; the broker
    redelivers it."""


class Router:
    """Turns pipeline outcomes into confirmed publishes, records and acks."""

    def __init__(
        self, *, pipeline: Pipeline, ledger: Ledger, notary: Notary, metrics: HubMetrics,
        clock: Clock, replica: str, on_health: Callable[[bool], None] = lambda ok: None,
        recorder: GroupCommit | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.recorder = recorder or GroupCommit(ledger.db, max_items=1)
        self.store = MessageStore(ledger.db)
        self.replica = replica
        self.notary = notary
        self.metrics = metrics
        self.clock = clock
        self.on_health = on_health
        self.local_handlers: dict[str, LocalHandler] = {"register.query": self._answer_register,
                                                        "register.update": self._answer_update}
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._deliver: AbstractExchange | None = None
        self._dead: AbstractExchange | None = None

    def in_hand(self) -> int:
        """Deliveries being handled now (received, not yet acked or returned)."""
        return self._active

    async def bind(self, channel: AbstractChannel) -> None:
        """Use ``channel`` (publisher confirms on, returns raise) for every publish."""
        self._deliver = await channel.get_exchange(names.DELIVER_EXCHANGE)
        self._dead = await channel.get_exchange(names.DEAD_LETTER_EXCHANGE)

    # -- consuming -----------------------------------------------------------------------------

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Consumer callback: process, act, ack; transient failures are retried, never acked."""
        start = time.perf_counter()
        self.metrics.received.inc()
        self.metrics.in_flight.inc()
        self._active += 1
        self._idle.clear()
        try:
            inbound = Inbound(body=message.body, user_id=message.user_id,
                              redelivered=bool(message.redelivered),
                              message_id=message.message_id)
            await self._with_retry(inbound, lambda: _channel_open(message))
            await message.ack()
        except (DeliveryLostError, ChannelInvalidStateError):
            log.info("delivery lost with its channel; the broker redelivers it")
        except Exception:
            log.exception("unexpected failure; message returned to the queue (delivery limit "
                          "dead-letters a poison message)")
            await message.nack(requeue=True)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.latency.observe(time.perf_counter() - start)
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def drain(self, seconds: float) -> bool:
        """Wait until no message is in hand (graceful shutdown); False when time ran out."""
        try:
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def _with_retry(self, inbound: Inbound,
                          deliverable: Callable[[], bool] = lambda: True) -> None:
        """Handle ``inbound``; on a transient failure try again, for as long as it takes, after
        0.02 s, doubling to at most 2 s (stamina; no jitter, no limit of attempts or time), or
        until the delivery's channel is gone: then the broker redelivers it
        (:class:`DeliveryLostError`). An :class:`OriginalInProgressError` (a
        StoreUnavailableError) is retried the same way but is no failure: it is neither counted
        in ``retries`` nor reported to health.

        A retry may find this very message's claim from the failed attempt: it takes it over
        exactly as it would after a redelivery.
        """
        started = time.monotonic()
        async for attempt in stamina.retry_context(
                on=TRANSIENT, attempts=None, timeout=None, wait_initial=RETRY_FIRST_WAIT,
                wait_max=RETRY_MAX_WAIT, wait_jitter=0.0):
            with attempt:
                if not deliverable():
                    raise DeliveryLostError(inbound.user_id or "")
                if attempt.num > 1:
                    inbound = replace(inbound, redelivered=True,
                                      waited=time.monotonic() - started)
                try:
                    await self._handle(inbound)
                except OriginalInProgressError as exc:
                    log.debug("answer before its original was recorded, retrying: %s", exc)
                    raise
                except TRANSIENT as exc:
                    self.metrics.retries.inc()
                    self.on_health(False)
                    log.warning("transient failure, retrying in %.2fs: %s", attempt.next_wait,
                                exc)
                    raise
        self.on_health(True)

    async def _handle(self, inbound: Inbound) -> None:
        outcome: Outcome = await self.pipeline.process(inbound)
        if isinstance(outcome, Route):
            await self._route(outcome)
        elif isinstance(outcome, Duplicate):
            if inbound.redelivered and outcome.original.status != PROCESSING:
                self._finish_redelivery(outcome)
            else:
                await self._duplicate(outcome, inbound)
        else:
            await self._refuse(outcome, inbound)

    # -- the three outcomes ---------------------------------------------------------------------

    async def _route(self, route: Route) -> None:
        envelope = route.envelope
        local = self.local_handlers.get(envelope.type) if route.recipient.kind == "hub" else None
        if local is not None:
            await local(route)
        else:
            await self._publish(route.recipient.id, route.body, envelope, {
                names.HEADER_POLICY_VERSION: route.policy_version,
                names.HEADER_RULE: route.rule,
            })
        entry = audit_entries.entry_for_route(route, self.ledger.audit.hash_key)
        now = self.clock()
        fulfilled = await self.recorder.run(lambda tx: self.ledger.record_routed_in(
            tx, envelope, policy_version=route.policy_version, rule=route.rule, now=now,
            raw=route.body, entry=entry, stamp=route.stamp, info_rule=route.info_rule))
        self.metrics.routed.labels(envelope.type, route.recipient.id).inc()
        for answer in fulfilled:
            self.metrics.answer_latency.labels(answer.awaited, answer.party).observe(
                answer.seconds)
        log.debug("routed", extra={"event": "routed", "trace_id": envelope.conversation_id.hex,
                                   "message_id": str(envelope.id),
                                  "type": envelope.type, "sender": envelope.sender,
                                  "recipient": envelope.recipient, "rule": route.rule})

    async def _refuse(self, refuse: Refuse, inbound: Inbound) -> None:
        headers = {
            names.HEADER_REASON: refuse.reason.value,
            names.HEADER_DETAIL: refuse.detail[:1000],
            names.HEADER_SOURCE: names.HUB_SOURCE,
            names.HEADER_USER_ID: inbound.user_id or "",
            # Only the hub can make this seal: a replay trusts the user id under it.
            names.HEADER_SEAL: deadletters.seal(self.ledger.audit.hash_key, inbound.body,
                                                "dead", inbound.user_id or ""),
        }
        await self._publish_dead(inbound.body, refuse, headers)
        if refuse.notify is not None:
            await self._notify_refused(refuse, refuse.notify)
        entry = audit_entries.entry_for_refusal(refuse, inbound.body, self.ledger.audit.hash_key)
        now = self.clock()

        async def record(tx: Database) -> None:
            if refuse.claimed and refuse.message_id is not None:
                await MessageStore(tx).decide(
                    refuse.message_id, REFUSED, reason=refuse.reason.value,
                    policy_version=refuse.policy_version, rule=refuse.rule, decided_at=now)
                if refuse.stamp is not None:
                    await record_stamp(tx, str(refuse.message_id), refuse.stamp)
            await self.ledger.audit.append(entry, tx)

        await self.recorder.run(record)
        self.metrics.refused.labels(refuse.reason.value).inc()
        trace = refuse.envelope.conversation_id.hex if refuse.envelope else ""
        log.info("refused", extra={"event": "refused", "trace_id": trace,
                                   "reason": refuse.reason.value,
                                   "message_id": str(refuse.message_id or ""),
                                   "notified": refuse.notify.id if refuse.notify else ""})

    def _finish_redelivery(self, duplicate: Duplicate) -> None:
        """A redelivery of a message already decided here (its ack was lost): nothing to send."""
        self.metrics.redeliveries_finished.inc()
        log.info("redelivery of a decided message acknowledged quietly", extra={
            "event": "redelivery_finished", "message_id": str(duplicate.original.id),
            "outcome": duplicate.original.status})

    async def _duplicate(self, duplicate: Duplicate, inbound: Inbound) -> None:
        original = duplicate.original
        body: dict[str, Any] = {
            "original_message_id": str(original.id),
            "original_outcome": "in_progress" if original.status == PROCESSING else (
                "refused" if original.status == REFUSED else "routed"),
        }
        if original.reason:
            body["reason_code"] = original.reason
        if original.decided_at:
            body["decided_at"] = utc_iso(original.decided_at)
        envelope, raw = self.notary.sign(
            type="notice.duplicate", recipient=duplicate.sender.id, body=body, now=self.clock(),
            about=duplicate.envelope, message_id=notice_id("duplicate", original.id),
        )
        await self._publish(duplicate.sender.id, raw, envelope, {})
        entry = audit_entries.entry_for_duplicate(duplicate, inbound.body,
                                                  self.ledger.audit.hash_key)
        await self.recorder.run(lambda tx: self.ledger.audit.append(entry, tx))
        self.metrics.duplicates.inc()

    # -- hub's own answers ----------------------------------------------------------------------

    async def _notify_refused(self, refuse: Refuse, to: Participant) -> None:
        body: dict[str, Any] = {
            "refused_message_id": str(refuse.message_id) if refuse.message_id else None,
            "reason_code": refuse.reason.value,
            "detail": refuse.detail[:2000],
            "field_paths": list(refuse.field_paths),
        }
        if refuse.rule:
            body["rule"] = refuse.rule
        if refuse.policy_version:
            body["policy_version"] = refuse.policy_version
        about = refuse.envelope if refuse.envelope and refuse.envelope.sender == to.id else None
        thread = None if about else Thread(
            case_id=refuse.case_id or UNKNOWN_CASE,
            conversation_id=refuse.conversation_id or uuid4(), purpose=Purpose.COORDINATION)
        # A reused id gets a notice of its own: the original's notice (if any) has the plain id.
        reused = refuse.reason in (ReasonCode.ID_CONFLICT, ReasonCode.ID_REUSED)
        envelope, raw = self.notary.sign(
            type="notice.refused", recipient=to.id, body=body, now=self.clock(), about=about,
            thread=thread, message_id=notice_id(
                "refused", refuse.message_id, refuse.content_sha256 if reused else None,
            ) if refuse.message_id else None,
        )
        await self._publish(to.id, raw, envelope, {})

    async def _answer_register(self, route: Route) -> None:
        query = route.envelope.body
        overrides = await register_contacts.overrides(self.ledger.db)
        entries = register_desk.entries(
            self.notary.registry, overrides, ids=set(getattr(query, "participant_ids", None) or []),
            kinds=set(getattr(query, "kinds", None) or []))
        await self._register_answer(route, entries)

    async def _answer_update(self, route: Route) -> None:
        """``register.update``: the answer is the sender's entry with the update applied (the
        override itself is stored with the routing record, :mod:`hub.state.register_contacts`)."""
        overrides = await register_contacts.overrides(self.ledger.db)
        mine = register_desk.apply_update(overrides.get(route.sender.id, {}),
                                          route.envelope.body)
        entries = register_desk.entries(self.notary.registry, {route.sender.id: mine},
                                        ids={route.sender.id}, kinds=set())
        await self._register_answer(route, entries)

    async def _register_answer(self, route: Route, entries: list[dict[str, Any]]) -> None:
        envelope, raw = self.notary.sign(
            type="register.answer", recipient=route.sender.id, body={"entries": entries},
            now=self.clock(), about=route.envelope,
            message_id=notice_id("register.answer", route.envelope.id),
        )
        await self._publish(route.sender.id, raw, envelope, {})

    # -- publishing -----------------------------------------------------------------------------

    async def flush_outbox(self, max_pages: int = OUTBOX_PAGES) -> int:
        """Publish the hub's queued messages (reminders, overdue notices, time-out ends): page
        after page of ``outbox.PAGE`` while pages come full, at most ``max_pages`` a call (one
        page a tick drained a backlog of missed deadlines at 20 messages a second)."""
        sent = 0
        for _ in range(max_pages):
            items = await outbox.claim_pending(self.ledger.db, self.replica)
            for item in items:
                await self._publish_raw(item.recipient, item.body, item.id, item.type,
                                        {names.HEADER_SENDER: self.notary.hub_id})
                await outbox.mark_sent(self.ledger.db, item.id)
                self.metrics.hub_messages.labels(item.type).inc()
                sent += 1
            if len(items) < outbox.PAGE:
                break
        return sent

    async def publish_signed(self, envelope: Envelope, raw: bytes) -> None:
        """Confirmed publish of a message the hub signed to its recipient's inbox."""
        await self._publish(envelope.recipient, raw, envelope, {})

    async def _publish(
        self, recipient: str, body: bytes, envelope: Envelope, headers: dict[str, Any]
    ) -> None:
        await self._publish_raw(recipient, body, str(envelope.id), envelope.type,
                                {names.HEADER_SENDER: envelope.sender, **headers})

    async def _publish_raw(self, recipient: str, body: bytes, message_id: str, type_name: str,
                           headers: dict[str, Any]) -> None:
        """Persistent, mandatory, confirmed publish to ``recipient``'s inbox."""
        assert self._deliver is not None, "bind() first"
        message = aio_pika.Message(
            body, message_id=message_id, type=type_name, content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, headers=headers,
        )
        await asyncio.wait_for(
            self._deliver.publish(message, routing_key=recipient, mandatory=True),
            PUBLISH_TIMEOUT)

    async def _publish_dead(self, body: bytes, refuse: Refuse, headers: dict[str, Any]) -> None:
        assert self._dead is not None, "bind() first"
        await self.dead_letter(body, str(refuse.message_id) if refuse.message_id else None,
                               headers)

    async def dead_letter(self, body: bytes, message_id: str | None,
                          headers: dict[str, Any]) -> None:
        """Confirmed publish of ``body`` to the dead-letter queue with ``headers``."""
        assert self._dead is not None, "bind() first"
        message = aio_pika.Message(
            body, message_id=message_id, timestamp=self.clock(),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, headers=headers,
        )
        await asyncio.wait_for(self._dead.publish(message, routing_key="refused"),
                               PUBLISH_TIMEOUT)

    # -- replay (hub.core.replay) -----------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> None:
        """The whole pipeline for one message that did not come from the inbound queue."""
        await self._with_retry(inbound)

    async def redeliver(self, recipient: str, body: bytes, message_id: str,
                        type_name: str) -> None:
        """Publish bytes the hub routed before to ``recipient``'s inbox again."""
        await self._publish_raw(recipient, body, message_id, type_name,
                                {"x-maatwerk-redelivered": "true"})


def _channel_open(message: AbstractIncomingMessage) -> bool:
    try:
        return not message.channel.is_closed
    except ChannelInvalidStateError:
        return False
