"""The operator's desk for dead letters: list, show, replay, purge (``maatwerk-hub deadletters``).

What each dead letter is, where it came from and why a replay cannot forge a sender:
:mod:`hub.core.deadletters`. Here, the operations:

- :meth:`DeadLetterDesk.letters`: key (message id), age, reason, source, sender, recipient, type
  and size; never the body, never the refusal detail (a schema error may quote a value);
- :meth:`DeadLetterDesk.show`: the headers and detail; the body only when asked for, and then an
  audit record (``deadletter_viewed``: who, which message, the body's SHA-256) is written
  *before* the body is returned;
- :meth:`DeadLetterDesk.replay`: the original bytes to ``maatwerk.replay`` (sealed, confirmed),
  then the dead letter is acknowledged (removed); audited (``deadletter_replayed``);
- :meth:`DeadLetterDesk.purge`: remove one, all, or those older than N days; audited
  (``deadletter_purged``, one record per message).

Reading the queue holds the messages unacknowledged and lets them go back (the order is kept);
each look counts as a delivery in the quorum queue, which has no delivery limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from hub.contract import names
from hub.contract.errors import HubError
from hub.contract.messages import utc_now
from hub.contract.registry import Registry
from hub.contract.tls import TlsSettings, connect_kwargs
from hub.core import deadletters
from hub.core.deadletters import DeadLetter, ReplayPlan, describe
from hub.state.audit import AuditLog
from hub.state.audit_events import AuditEntry, span_id_for

VIEWED, REPLAYED, PURGED = "deadletter_viewed", "deadletter_replayed", "deadletter_purged"
ATTR_OPERATOR = "maatwerk.operator"


class DeadLetterError(HubError):
    """No such dead letter, or the broker refused the operation."""


@dataclass(frozen=True)
class Shown:
    letter: DeadLetter
    headers: dict[str, str]
    body: bytes | None


class DeadLetterDesk:
    """Dead-letter operations as the hub's broker user; ``audit`` records what an operator did."""

    def __init__(self, *, amqp_url: str, tls: TlsSettings, hash_key: bytes, registry: Registry,
                 audit: AuditLog, operator: str, scan: int = 1000,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.amqp_url = amqp_url
        self.tls = tls
        self.hash_key = hash_key
        self.registry = registry
        self.audit = audit
        self.operator = operator
        self.scan = scan
        self.clock = clock

    async def _connect(self) -> AbstractRobustConnection:
        connection: AbstractRobustConnection = await aio_pika.connect_robust(
            self.amqp_url, **connect_kwargs(self.amqp_url, self.tls))
        return connection

    async def letters(self, limit: int | None = None) -> list[DeadLetter]:
        async with await self._connect() as connection:
            channel = await connection.channel()
            async with deadletters.held(channel, limit or self.scan) as messages:
                now = self.clock()
                return [describe(m, now) for m in messages]

    def _find(self, messages: list[AbstractIncomingMessage], key: str) -> AbstractIncomingMessage:
        now = self.clock()
        for message in messages:
            if describe(message, now).key == key:
                return message
        raise DeadLetterError(f"no dead letter {key} among the first {len(messages)} "
                              f"(deadletters list shows the keys)")

    async def _record(self, event: str, letter: DeadLetter, body: bytes, decision: str,
                      **extra: str) -> None:
        await self.audit.append(AuditEntry(
            event=event, name=f"maatwerk.hub.{event}", message_id=letter.message_id or None,
            message_type=letter.type or None, sender=letter.sender or None,
            recipient=letter.recipient or None, decision=decision, reason=letter.reason[:64],
            body_hash=hashlib.sha256(body).hexdigest(),
            span_id=span_id_for(event, letter.key),
            attributes={ATTR_OPERATOR: self.operator, **extra}))

    async def show(self, key: str, *, body: bool = False) -> Shown:
        """Headers and detail; with ``body`` also the bytes, audited first."""
        async with await self._connect() as connection:
            channel = await connection.channel()
            async with deadletters.held(channel, self.scan) as messages:
                message = self._find(messages, key)
                letter = describe(message, self.clock())
                headers = {k: _text(v) for k, v in (message.headers or {}).items()
                           if k not in (names.HEADER_SEAL, "x-death")}
                if body:
                    await self._record(VIEWED, letter, message.body, "body shown")
                return Shown(letter, headers, message.body if body else None)

    async def replay(self, key: str) -> ReplayPlan:
        """Send the original bytes back (sealed, confirmed); then remove the dead letter."""
        async with await self._connect() as connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(names.REPLAY_EXCHANGE, ensure=False)
            async with deadletters.held(channel, self.scan) as messages:
                message = self._find(messages, key)
                letter = describe(message, self.clock())
                replay = deadletters.plan(message, self.hash_key, self.registry)
                await exchange.publish(
                    deadletters.replay_message(message, replay, self.hash_key),
                    routing_key=names.REPLAY_ROUTING_KEY, mandatory=True)
                await self._record(REPLAYED, letter, message.body, replay.mode,
                                   **{"maatwerk.replay.target": replay.target or "-"})
                await message.ack()
                return replay

    async def purge(self, *, key: str | None = None, older_than_days: float | None = None,
                    everything: bool = False) -> int:
        """Remove dead letters: the one with ``key``, those older than ``older_than_days``, or
        ``everything`` (of the first ``scan``); returns how many."""
        if (key is not None) + (older_than_days is not None) + everything != 1:
            raise DeadLetterError("purge: give exactly one of a key, --older-than or --all")
        removed = 0
        async with await self._connect() as connection:
            channel = await connection.channel()
            async with deadletters.held(channel, self.scan) as messages:
                now = self.clock()
                chosen = [self._find(messages, key)] if key is not None else [
                    m for m in messages if everything or (
                        older_than_days is not None
                        and describe(m, now).age_seconds > older_than_days * 86400)]
                for message in chosen:
                    await self._record(PURGED, describe(message, now), message.body, "purged")
                    await message.ack()
                    removed += 1
        return removed


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)
