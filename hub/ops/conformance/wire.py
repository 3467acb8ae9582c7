"""The kit's side of the broker: it stands where the hub stands.

- It delivers probes to ``maatwerk.deliver`` with the adapter's id as routing key, persistent,
  mandatory and confirmed, with the properties and headers the hub sets.
- It consumes ``maatwerk.hub.inbound``: everything the adapter publishes to ``maatwerk.inbound``
  (receipts and answers), acked as the hub would. So no hub may run on the same vhost: before
  it starts, the kit refuses to run when another consumer reads that queue.
- It sees what the adapter dead-letters through a queue of its own
  (``maatwerk.conformance.<run>``, exclusive, auto-deleted) bound to the fanout
  ``maatwerk.dead-letter`` exchange, so the real dead-letter queue keeps every message.

The topology is declared (idempotently, :mod:`hub.core.topology`) only when part of it is missing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aio_pika.exceptions import ChannelClosed, DeliveryError

from hub.contract import names
from hub.contract.errors import ConfigError
from hub.contract.registry import Registry
from hub.contract.tls import TlsSettings, connect_kwargs
from hub.core import topology
from hub.ops.conformance.plan import Probe


@dataclass(frozen=True)
class Published:
    """A message the adapter published to the inbound exchange."""

    body: bytes
    user_id: str | None
    message_id: str | None
    at: float


@dataclass(frozen=True)
class DeadLetter:
    """A message dead-lettered from the adapter's inbox."""

    body: bytes
    message_id: str | None
    reason: str
    at: float


@dataclass
class Observed:
    published: list[Published] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def _death_of(message: AbstractIncomingMessage, inbox: str) -> str | None:
    """The reason the message was dead-lettered from ``inbox``, or None if it came elsewhere.

    Two ways are recognised: the broker's own dead-lettering of a reject (``x-death`` names the
    inbox), and the SDK's way, which publishes the message to the dead-letter exchange itself as
    the participant (RabbitMQ checked its ``user_id``) with ``x-maatwerk-source: adapter:<id>``,
    ``x-maatwerk-queue`` and ``x-maatwerk-reason``.
    """
    headers = message.headers or {}
    source = str(headers.get(names.HEADER_SOURCE, ""))
    if (message.user_id and source == f"adapter:{inbox.removeprefix(names.INBOX_PREFIX)}"
            and headers.get(names.HEADER_QUEUE) == inbox):
        return str(headers.get(names.HEADER_REASON, "rejected"))
    deaths = headers.get("x-death")
    if not isinstance(deaths, list | tuple):
        return None
    for death in deaths:
        if isinstance(death, dict) and death.get("queue") == inbox:
            return str(death.get("reason", "rejected"))
    return None


class KitWire:
    """Connection, topology check, delivery and observation for one run."""

    def __init__(self, amqp_url: str, tls: TlsSettings, subject: str) -> None:
        self.amqp_url = amqp_url
        self.tls = tls
        self.subject = subject
        self.inbox = names.inbox(subject)
        self.observed = Observed()
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._deliver: AbstractExchange | None = None
        self._queues: list[tuple[AbstractQueue, str]] = []

    async def connect(self) -> None:
        try:
            self._connection = await aio_pika.connect(
                self.amqp_url, **connect_kwargs(self.amqp_url, self.tls))
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            raise ConfigError(f"cannot connect to the broker at AMQP_URL: {exc}") from exc
        self._channel = await self._connection.channel(publisher_confirms=True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    def _chan(self) -> AbstractChannel:
        assert self._channel is not None, "connect() first"
        return self._channel

    async def _passive(self, queue: str) -> AbstractQueue | None:
        try:
            return await self._chan().declare_queue(queue, passive=True)
        except ChannelClosed:
            assert self._connection is not None
            self._channel = await self._connection.channel(publisher_confirms=True)
            return None

    async def ensure_topology(self, registry: Registry, delivery_limit: int) -> bool:
        """Declare the topology if part of it is missing; True when the kit declared it."""
        wanted = (names.HUB_QUEUE, names.DEAD_LETTER_QUEUE, self.inbox)
        if all([await self._passive(q) is not None for q in wanted]):
            return False
        try:
            await topology.declare(self._chan(), registry, delivery_limit)
        except ChannelClosed as exc:
            raise ConfigError(f"cannot declare the topology (the kit's broker user needs the "
                              f"hub's permissions on maatwerk.*): {exc}") from exc
        return True

    async def preflight(self, wait_seconds: float) -> None:
        """Refuse to run beside a hub; wait for the adapter to consume its inbox."""
        hub_queue = await self._passive(names.HUB_QUEUE)
        if hub_queue is None:
            raise ConfigError(f"{names.HUB_QUEUE} does not exist")
        consumers = hub_queue.declaration_result.consumer_count
        if consumers:
            raise ConfigError(f"{consumers} consumer(s) read {names.HUB_QUEUE} on this vhost: "
                              "a hub is running. Run the kit on a vhost without a hub.")
        deadline = time.monotonic() + wait_seconds
        while True:
            inbox = await self._passive(self.inbox)
            if inbox is None:
                raise ConfigError(f"{self.inbox} does not exist")
            if inbox.declaration_result.consumer_count:
                return
            if time.monotonic() >= deadline:
                raise ConfigError(f"no consumer reads {self.inbox} after {wait_seconds:g} s: "
                                  "start the adapter first (or raise --wait)")
            await asyncio.sleep(0.2)

    async def observe(self) -> None:
        """Start consuming the hub queue and a private copy of the dead letters."""
        channel = self._chan()
        hub_queue = await channel.declare_queue(names.HUB_QUEUE, passive=True)
        dead_exchange = await channel.get_exchange(names.DEAD_LETTER_EXCHANGE)
        own = await channel.declare_queue(f"maatwerk.conformance.{uuid4().hex[:12]}",
                                          exclusive=True, auto_delete=True)
        await own.bind(dead_exchange)
        self._deliver = await channel.get_exchange(names.DELIVER_EXCHANGE)

        async def on_published(message: AbstractIncomingMessage) -> None:
            self.observed.published.append(Published(
                body=message.body, user_id=message.user_id, message_id=message.message_id,
                at=time.monotonic()))
            await message.ack()
            self.observed.changed.set()

        async def on_dead(message: AbstractIncomingMessage) -> None:
            reason = _death_of(message, self.inbox)
            if reason is not None:
                self.observed.dead.append(DeadLetter(
                    body=message.body, message_id=message.message_id, reason=reason,
                    at=time.monotonic()))
                self.observed.changed.set()
            await message.ack()

        self._queues = [(hub_queue, await hub_queue.consume(on_published)),
                        (own, await own.consume(on_dead))]

    async def deliver(self, probe: Probe) -> None:
        """Publish each copy of ``probe`` as the hub would; confirmed."""
        assert self._deliver is not None, "observe() first"
        headers: dict[str, Any] = dict(probe.headers)
        for _ in range(probe.copies):
            try:
                await self._deliver.publish(
                    aio_pika.Message(
                        probe.raw, message_id=str(probe.document.get("id")), type=probe.type,
                        content_type="application/json", headers=headers,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=self.subject, mandatory=True)
            except DeliveryError as exc:
                raise ConfigError(f"the broker could not deliver to {self.inbox} (is it bound "
                                  f"to {names.DELIVER_EXCHANGE}?): {exc}") from exc
            if probe.sent_at is None:
                probe.sent_at = time.monotonic()

    async def inbox_ready(self) -> int:
        """Messages still waiting in the adapter's inbox (not yet taken)."""
        inbox = await self._passive(self.inbox)
        return inbox.declaration_result.message_count or 0 if inbox is not None else 0

    async def stop(self) -> None:
        for queue, tag in self._queues:
            await queue.cancel(tag)
        self._queues = []
