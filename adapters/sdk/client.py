"""The participant's side of Maatwerk Hub: sign and publish, consume and verify the own inbox.

- ``send`` signs a message with the participant's key and publishes it to the inbound exchange
  with the ``user_id`` property (the broker checks it against the connection) and waits for the
  broker's confirm.
- ``consume`` reads the participant's own inbox, verifies each message's signature against the
  registry and its freshness (an expired message is never acted on), drops an id it has
  already handled (a durable record), sends a signed receipt, calls the handler, publishes the
  handler's reply, records the id as handled and only then acks.

Failures (see docs/adapters/README.md, "Failures"):

- A handler raising :class:`TransientError` is run again in-process, ``retries`` times, after
  ``backoff``, ``2 * backoff``, ``4 * backoff``... seconds (at most ``max_backoff``). When the
  retries are exhausted, the *give-up handler* registered for the type with
  :meth:`HubClient.on_exhausted` answers (agency adapters: a declined ``timeout.response`` with
  ``back_office_unavailable`` for ``timeout.request`` and ``timeout.extend``); a type without one
  -- every type without a business response -- is dead-lettered (``reject(requeue=False)``), so an
  operator finds it in ``maatwerk.dead-letter``.
- Any other exception from a handler dead-letters the message. (Agency adapters turn a back
  office's 4xx into a declined response themselves; they do not raise.)
- A lost broker connection while a message is in hand leaves the message unacked: the broker
  returns it to the inbox and the robust connection resubscribes; the redelivered copy does not
  repeat a side effect recorded with :meth:`Delivery.once`, and its receipt and reply carry the
  same derived ids, which the hub recognises as duplicates. Nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import aio_pika
import stamina
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.sdk.config import AdapterSettings
from adapters.sdk.delivery import (
    Delivery,
    GiveUp,
    Handler,
    Reply,
    _envelope_id,
    _register,
)
from adapters.sdk.errors import TransientError
from adapters.sdk.failover import FailoverConnection, connect_failover
from adapters.sdk.handled import HandledIds
from adapters.sdk.publishing import publish_until_confirmed
from hub.contract import names
from hub.contract.authenticate import DEFAULT_SKEW_SECONDS, check_freshness, check_signature
from hub.contract.brokers import split_urls
from hub.contract.errors import Refusal
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.messages import (
    MESSAGE_SPECS,
    Envelope,
    new_document,
    parse_message,
    utc_iso,
    utc_now,
)
from hub.contract.notary import encode
from hub.contract.registry import Participant, Registry, load_registry
from hub.contract.signing import sign_document
from hub.contract.tls import TlsSettings, connect_kwargs

log = logging.getLogger("maatwerk.sdk")

BROKER_ERRORS = (AMQPError, ConnectionError, ChannelInvalidStateError, asyncio.TimeoutError)


class HubClient:
    """One participant's connection to the hub."""

    def __init__(
        self, participant_id: str, *, amqp_url: str, key: Ed25519PrivateKey, registry: Registry,
        state_url: str, prefetch: int = 16, clock: Callable[[], datetime] = utc_now,
        retries: int = 3, backoff: float = 0.5, max_backoff: float = 30.0,
        tls: TlsSettings | None = None, publish_patience: float = 60.0,
    ) -> None:
        self.tls = tls or TlsSettings()
        participant = registry.get(participant_id)
        if participant is None:
            raise ValueError(f"{participant_id} is not in the registry")
        self.participant: Participant = participant
        self.registry = registry
        self.amqp_url = amqp_url
        self.prefetch = prefetch
        self.clock = clock
        self._key = key
        self._state_url = state_url
        self.dropped_redeliveries = 0
        self.handled_count = 0
        self._connection: FailoverConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._inbound: AbstractExchange | None = None
        self._dead: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._handled: HandledIds | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.handlers: dict[str, Handler] = {}
        self._active: dict[UUID, asyncio.Event] = {}
        self.give_ups: dict[str, GiveUp] = {}
        self.auto_receipts = True
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.publish_patience = publish_patience
        self.publish_retries = 0  # publishes sent again because no confirm came
        self.retried = 0
        self.gave_up = 0
        self.dead_lettered = 0
        self.refused_inbox = 0  # inbox messages whose signature did not verify: dead-lettered

    @classmethod
    def from_settings(cls, settings: AdapterSettings, *,
                      registry: Registry | None = None) -> HubClient:
        """A client configured from :class:`AdapterSettings` (the environment variables)."""
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings.participant, amqp_url=settings.amqp_url,
            key=load_private_key(private_key_path(settings.keys_dir, settings.participant)),
            registry=registry or load_registry(settings.registry_path, settings.keys_dir),
            state_url=settings.state_url, prefetch=settings.prefetch,
            retries=settings.retries, backoff=settings.backoff, tls=TlsSettings.from_env(),
            publish_patience=settings.publish_patience,
        )

    @property
    def id(self) -> str:
        return self.participant.id

    @property
    def journal(self) -> HandledIds:
        """The durable record of handled ids and recorded steps (:meth:`Delivery.once`)."""
        assert self._handled is not None, "connect() first"
        return self._handled

    @property
    def broker_node(self) -> str | None:
        """``host:port`` of the broker node this client is connected to (None: none now)."""
        connection = self._connection
        if connection is None or connection.is_closed or not connection.connected.is_set():
            return None
        return connection.node

    def use_registry(self, registry: Registry) -> None:
        """Verify from now on against ``registry`` (a reload: rotated or revoked keys)."""
        participant = registry.get(self.id)
        if participant is None:
            raise ValueError(f"{self.id} is not in the new registry")
        self.registry, self.participant = registry, participant

    def use_key(self, key: Ed25519PrivateKey) -> None:
        """Sign from now on with ``key`` (after a rotation, once the new key is published)."""
        self._key = key

    async def connect(self) -> None:
        self._handled = await HandledIds.open(self._state_url)
        # AMQP_URL may list several nodes: tried in turn on connect and on every reconnect.
        urls = split_urls(self.amqp_url)
        self._connection = await connect_failover(urls, **connect_kwargs(urls[0], self.tls))
        # Keep references: a robust connection restores only channels/queues still referenced.
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self.prefetch)
        self._inbound = await self._channel.get_exchange(names.INBOUND_EXCHANGE, ensure=False)
        self._dead = await self._channel.get_exchange(names.DEAD_LETTER_EXCHANGE, ensure=False)

    async def close(self) -> None:
        await self.stop_consuming()
        if self._connection is not None:
            await self._connection.close()
        if self._handled is not None:
            await self._handled.close()

    async def __aenter__(self) -> HubClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sending --------------------------------------------------------------------------------

    def message(self, *, type: str, recipient: str, case_id: str, body: dict[str, Any],
                **envelope: Any) -> dict[str, Any]:
        """An unsigned message from this participant (see
        :func:`hub.contract.messages.new_document`)."""
        return new_document(type=type, sender=self.id, recipient=recipient, case_id=case_id,
                            body=body, created_at=self.clock(), **envelope)

    def sign(self, document: dict[str, Any]) -> bytes:
        return encode(sign_document(document, self._key))

    async def send(self, document: dict[str, Any]) -> UUID:
        """Sign once and publish until the broker confirms (the same bytes and id each time, for
        at most ``publish_patience`` s: :mod:`adapters.sdk.publishing`); return the id."""
        await self.send_signed(self.sign(document), document["id"])
        return UUID(document["id"])

    async def send_signed(self, raw: bytes, message_id: str) -> None:
        """Publish signed bytes until the broker confirms them (see :meth:`send`)."""
        self.publish_retries += await publish_until_confirmed(
            lambda: self.publish_raw(raw, message_id=message_id), message_id=message_id,
            within=self.publish_patience)

    async def publish_raw(self, body: bytes, *, message_id: str | None = None,
                          user_id: str | None = "") -> None:
        """Publish bytes as they are (tests use it for malformed input); confirm awaited.

        ``user_id`` defaults to this participant's broker user; pass None to leave it out.
        ``message_id`` defaults to the envelope id the bytes carry (the hub refuses any other).
        """
        assert self._inbound is not None, "connect() first"
        if message_id is None:
            message_id = _envelope_id(body)
        await self._inbound.publish(
            aio_pika.Message(
                body, message_id=message_id, content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=self.participant.broker_user if user_id == "" else user_id,
            ),
            routing_key=names.INBOUND_ROUTING_KEY,
        )

    # -- receiving ------------------------------------------------------------------------------

    def on(self, *types: str) -> Callable[[Handler], Handler]:
        """Decorator: handle these message types (``@client.on("timeout.request")``)."""

        def register(handler: Handler) -> Handler:
            _register(self.handlers, types, handler)
            return handler

        return register

    def on_exhausted(self, *types: str) -> Callable[[GiveUp], GiveUp]:
        """Decorator: answer for these types when a handler's retries are exhausted.

        Without one, a message whose handler keeps failing transiently is dead-lettered.
        """

        def register(give_up: GiveUp) -> GiveUp:
            _register(self.give_ups, types, give_up)
            return give_up

        return register

    async def _dispatch(self, delivery: Delivery) -> Reply:
        handler = self.handlers.get(delivery.envelope.type)
        if handler is None:
            log.info("no handler for %s %s; acknowledged", delivery.envelope.type,
                     delivery.envelope.id)
            return None
        return await handler(delivery)

    async def consume(self, handler: Handler | None = None) -> None:
        """Start consuming the own inbox with ``handler``, or with the handlers given to ``on``."""
        assert self._channel is not None, "connect() first"
        handler = handler or self._dispatch
        # declare_queue(passive=True) registers the queue with the robust channel, which then
        # re-declares it (passively: no configure permission needed) and resubscribes after a
        # reconnect; get_queue(ensure=False) would not be restored.
        self._queue = await self._channel.declare_queue(names.inbox(self.id), passive=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._track(self._on_message(message, handler))

        self._consumer_tag = await self._queue.consume(on_message)

    async def _track(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._in_flight.add(task)
        try:
            await task
        finally:
            self._in_flight.discard(task)

    async def stop_consuming(self) -> None:
        """Stop taking new messages and let the ones in hand finish (graceful shutdown)."""
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
            self._consumer_tag = None
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _send_receipt(self, delivery: Delivery) -> None:
        """The signed delivery receipt: sent once the message is verified and in our hands.

        Not to the hub: it awaits no receipt for its own messages (such as its copy of the LET's
        decision) and does not receive one."""
        if (self.auto_receipts and MESSAGE_SPECS[delivery.envelope.type].needs_receipt
                and delivery.envelope.sender != self.registry.hub.id):
            await self.send(delivery.reply("receipt", {
                "received_at": utc_iso(delivery.created_at)}))

    async def _handle(self, delivery: Delivery, handler: Handler) -> tuple[bool, Reply]:
        """Run the handler with in-process retries (stamina: ``retries`` more attempts after
        ``backoff``, doubling to at most ``max_backoff``, no jitter); (handled, reply), or
        (False, None) to dead-letter."""
        envelope = delivery.envelope
        try:
            async for attempt in stamina.retry_context(
                    on=TransientError, attempts=self.retries + 1, timeout=None,
                    wait_initial=self.backoff, wait_max=self.max_backoff, wait_jitter=0.0):
                with attempt:
                    try:
                        return True, await handler(delivery)
                    except TransientError as exc:
                        if attempt.num <= self.retries:
                            self.retried += 1
                            log.warning("%s %s failed transiently (%s); retry %d/%d in %.2fs",
                                        envelope.type, envelope.id, exc, attempt.num,
                                        self.retries, attempt.next_wait)
                        raise
        except TransientError as exc:
            give_up = self.give_ups.get(envelope.type)
            if give_up is None:
                log.error("%s %s: retries exhausted (%s); dead-lettered", envelope.type,
                          envelope.id, exc)
                return False, None
            log.warning("%s %s: retries exhausted (%s); answering with the give-up reply",
                        envelope.type, envelope.id, exc)
            self.gave_up += 1
            return True, await give_up(delivery, exc)
        raise AssertionError("stamina ended the attempts without a result or an error")

    async def _reject(self, message: AbstractIncomingMessage, reason: str, detail: str) -> None:
        """Dead-letter ``message`` with its reason: publish it to the dead-letter exchange as
        this participant (``x-maatwerk-reason``, ``-detail``, ``-source: adapter:<id>``,
        ``-queue``; confirmed), then ack. Should that publish fail, a plain reject: the broker
        dead-letters it all the same, without the reason."""
        assert self._dead is not None, "connect() first"
        headers = {**(message.headers or {}), names.HEADER_REASON: reason,
                   names.HEADER_DETAIL: detail[:1000], names.HEADER_SOURCE: f"adapter:{self.id}",
                   names.HEADER_QUEUE: names.inbox(self.id)}
        try:
            await self._dead.publish(aio_pika.Message(
                message.body, message_id=message.message_id, type=message.type,
                content_type=message.content_type, timestamp=self.clock(), headers=headers,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=self.participant.broker_user), routing_key="rejected")
        except BROKER_ERRORS as exc:
            log.warning("dead letter with reason not published (%r); rejecting plainly", exc)
            await message.reject(requeue=False)
            return
        await message.ack()

    async def _on_message(self, message: AbstractIncomingMessage, handler: Handler) -> None:
        assert self._handled is not None
        try:
            document, envelope = parse_message(message.body)
            now = self.clock()
            check_signature(document, envelope, self.registry, now)
            check_freshness(envelope, now, DEFAULT_SKEW_SECONDS)
        except Refusal as refusal:
            log.error("inbox message refused, dead-lettered: %s", refusal)
            self.refused_inbox += 1
            await self._reject(message, refusal.reason.value, refusal.detail)
            return
        try:
            await self._process(message, document, envelope, handler)
        except BROKER_ERRORS as exc:
            log.warning("broker connection lost while handling %s %s (%r); it stays in the "
                        "inbox and is redelivered", envelope.type, envelope.id, exc)

    async def _process(self, message: AbstractIncomingMessage, document: dict[str, Any],
                       envelope: Envelope, handler: Handler) -> None:
        # Two copies of one id can be in hand at once (prefetch > 1: the original and a copy the
        # hub sent again after a crash). The second waits for the first, then finds it handled.
        while (busy := self._active.get(envelope.id)) is not None:
            await busy.wait()
        done = self._active[envelope.id] = asyncio.Event()
        try:
            await self._process_once(message, document, envelope, handler)
        finally:
            del self._active[envelope.id]
            done.set()

    async def _answer_time(self, message_id: UUID) -> datetime:
        """When this message's receipt and answer are made: recorded on first handling, so that
        a receipt or answer sent again after a crash is byte for byte the same message (the hub
        refuses the same id with other content as ``id_conflict``)."""
        assert self._handled is not None
        recorded = await self._handled.recall(message_id, "answer-time")
        if recorded is not None:
            return datetime.fromisoformat(json.loads(recorded))
        moment = utc_iso(self.clock())
        await self._handled.remember(message_id, "answer-time", json.dumps(moment))
        return datetime.fromisoformat(moment)

    async def _process_once(self, message: AbstractIncomingMessage, document: dict[str, Any],
                            envelope: Envelope, handler: Handler) -> None:
        assert self._handled is not None
        if await self._handled.seen(envelope.id):
            self.dropped_redeliveries += 1
            await message.ack()
            return
        delivery = Delivery(envelope=envelope, document=document, raw=message.body,
                            redelivered=bool(message.redelivered), me=self.id,
                            created_at=await self._answer_time(envelope.id),
                            journal=self._handled)
        await self._send_receipt(delivery)
        try:
            handled, reply = await self._handle(delivery, handler)
        except BROKER_ERRORS:
            raise
        except Exception as exc:
            log.exception("handler failed permanently, message dead-lettered")
            handled, reply = False, None
            why = ("handler_failed", f"{type(exc).__name__}: {exc}")
        else:
            why = ("retries_exhausted", f"the handler of {envelope.type} kept failing")
        if not handled:
            self.dead_lettered += 1
            await self._reject(message, *why)
            return
        if reply is not None:
            await self.send(reply)
        await self._handled.mark(envelope.id, envelope.type)
        self.handled_count += 1
        await message.ack()
