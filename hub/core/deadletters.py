"""Dead letters: what is in ``maatwerk.dead-letter``, and how one is sent back without forging.

Where dead letters come from, and what each one says about who sent it:

- **the hub refused it** (``x-maatwerk-source: hub``): the headers carry the reason code, the
  detail, and the AMQP ``user_id`` the broker had validated for the original publish, in
  ``x-maatwerk-user-id``, *sealed* in ``x-maatwerk-seal`` (HMAC-SHA256 with the hub's
  ``MAATWERK_HASH_KEY`` over that user id and the SHA-256 of the exact bytes);
- **the broker dead-lettered it** (``x-death``: the delivery limit of the hub queue or an inbox,
  or a plain reject by an adapter that does not use the SDK): the message keeps its properties,
  so its ``user_id`` is the one RabbitMQ validated when it was published;
- **an adapter gave up** (``x-maatwerk-source: adapter:<id>``): the SDK publishes the message to
  the dead-letter exchange with its reason, as its own broker user (RabbitMQ validates that
  ``user_id``), and acknowledges it in its inbox.

**Why a replay cannot send as somebody else.** RabbitMQ refuses a publish whose ``user_id`` is
not the connection's own user, so the tool (running as the hub's broker user) cannot put the
original sender's ``user_id`` on a message. It does not try: :func:`plan` derives the identity to
replay with from the dead letter alone, trusting exactly two things: a seal that only a holder of
the hub's key can make, or the ``user_id`` property that RabbitMQ itself validated for whoever
published the dead letter. There is no option to name a user. The replay request goes to
``maatwerk.replay`` (only hub users may write there; participants may write only to the inbound
and dead-letter exchanges) and is itself sealed; the hub (:mod:`hub.core.replay`) acts only on a
valid seal. A participant that puts a copy of someone else's message in the dead-letter exchange
gets it replayed as *itself*: the pipeline's step 3 refuses it (``user_id_mismatch``).

Two kinds of replay, both with the original bytes:

- ``pipeline`` (anything the hub refused, or the broker dead-lettered from the hub queue): the
  bytes go through the whole pipeline again, steps 1-9, with the original ``user_id``; a
  message refused before may now be routed (a fixed policy), a duplicate is still a duplicate;
- ``redeliver`` (dead-lettered from, or given up by, a participant's inbox: the hub had routed
  it already, so the pipeline would only answer "duplicate"): the hub publishes the bytes to
  that participant's inbox again, but only if its audit trail holds a ``routed`` record of this
  message id to that participant with the SHA-256 of exactly these bytes. So only what the hub
  once routed, unchanged, to its recipient: never anything new.

**Retention.** Refused bodies can hold a BSN or health text. ``topology apply --users`` sets a
RabbitMQ policy (``maatwerk-dead-letter-retention``: ``message-ttl`` of
``MAATWERK_DEADLETTER_RETENTION_DAYS``, default 30) so the broker drops older dead letters
itself; ``deadletters purge --older-than DAYS`` does the same by hand on a broker without it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from hub.contract import names
from hub.contract.registry import Registry

Mode = Literal["pipeline", "redeliver"]


def seal(key: bytes, body: bytes, *parts: str) -> str:
    """HMAC-SHA256 (hex) over ``parts`` and the SHA-256 of ``body``."""
    text = "\0".join((*parts, hashlib.sha256(body).hexdigest()))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def sealed(key: bytes, body: bytes, value: object, *parts: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(value, seal(key, body, *parts))


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as an operator may see it: no body, no personal data."""

    key: str
    message_id: str
    age_seconds: float
    reason: str
    detail: str
    source: str
    sender: str
    recipient: str
    type: str
    origin_queue: str
    user_id: str
    size: int

    def summary(self) -> dict[str, Any]:
        return {"key": self.key, "age_seconds": round(self.age_seconds), "reason": self.reason,
                "source": self.source, "sender": self.sender, "recipient": self.recipient,
                "type": self.type, "queue": self.origin_queue, "size": self.size}


def _envelope_fields(body: bytes) -> dict[str, str]:
    """type, sender and recipient (participant ids: not personal data), if the body parses."""
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {k: str(document[k])[:64] for k in ("type", "sender", "recipient", "id")
            if isinstance(document.get(k), str)}


def _first_death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
        return deaths[-1]  # the oldest: RabbitMQ prepends
    return {}


def describe(message: AbstractIncomingMessage, now: datetime) -> DeadLetter:
    headers = dict(message.headers or {})
    death = _first_death(headers)
    fields = _envelope_fields(message.body)
    message_id = _text(message.message_id) or fields.get("id", "")
    key = message_id or "sha256:" + hashlib.sha256(message.body).hexdigest()[:16]
    stamp = death.get("time") or message.timestamp
    if isinstance(stamp, datetime):
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        age = (now - stamp).total_seconds()
    else:
        age = -1.0
    return DeadLetter(
        key=key, message_id=message_id, age_seconds=age,
        reason=_text(headers.get(names.HEADER_REASON)) or f"broker:{_text(death.get('reason'))}",
        detail=_text(headers.get(names.HEADER_DETAIL)),
        source=_text(headers.get(names.HEADER_SOURCE)) or "broker",
        sender=fields.get("sender", _text(headers.get("x-maatwerk-sender"))),
        recipient=fields.get("recipient", ""), type=fields.get("type", ""),
        origin_queue=_text(headers.get(names.HEADER_QUEUE)) or _text(death.get("queue")),
        user_id=_text(message.user_id), size=len(message.body),
    )


@dataclass(frozen=True)
class ReplayPlan:
    """What the hub will be asked to do with a dead letter's original bytes."""

    mode: Mode
    user_id: str  # pipeline: the identity to run the pipeline with ("" = none: it refuses)
    target: str  # redeliver: the participant whose inbox gets the bytes again


def plan(message: AbstractIncomingMessage, hash_key: bytes, registry: Registry) -> ReplayPlan:
    """Derive the replay from the dead letter alone (see the module docstring)."""
    headers = dict(message.headers or {})
    validated = _text(message.user_id)  # RabbitMQ checked it for whoever published this
    claimed = headers.get(names.HEADER_USER_ID)
    hub_sealed = sealed(hash_key, message.body, headers.get(names.HEADER_SEAL), "dead",
                        _text(claimed))
    queue = _text(headers.get(names.HEADER_QUEUE)) or _text(_first_death(headers).get("queue"))
    if hub_sealed:
        return ReplayPlan("pipeline", _text(claimed), "")
    if queue.startswith(names.INBOX_PREFIX):
        owner = registry.by_broker_user(validated) if validated else None
        target = owner.id if owner is not None else queue.removeprefix(names.INBOX_PREFIX)
        return ReplayPlan("redeliver", "", target)
    return ReplayPlan("pipeline", validated, "")


def replay_message(message: AbstractIncomingMessage, replay: ReplayPlan,
                   hash_key: bytes) -> aio_pika.Message:
    """The sealed request to ``maatwerk.replay``: the original bytes, unchanged."""
    return aio_pika.Message(
        message.body, message_id=_text(message.message_id) or None,
        content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers={names.HEADER_REPLAY: replay.mode, names.HEADER_USER_ID: replay.user_id,
                 names.HEADER_REPLAY_TO: replay.target,
                 names.HEADER_SEAL: seal(hash_key, message.body, "replay", replay.mode,
                                         replay.user_id, replay.target)},
    )


@asynccontextmanager
async def held(channel: AbstractChannel, limit: int,
               wait: float = 0.5) -> AsyncIterator[list[AbstractIncomingMessage]]:
    """Up to ``limit`` dead letters, oldest first, held unacknowledged: what the caller does not
    ack goes back to the queue when the block ends (the channel closes with them unacked)."""
    await channel.set_qos(prefetch_count=limit)
    queue = await channel.get_queue(names.DEAD_LETTER_QUEUE, ensure=False)
    got: list[AbstractIncomingMessage] = []
    arrived = asyncio.Event()

    async def take(message: AbstractIncomingMessage) -> None:
        got.append(message)
        arrived.set()

    tag = await queue.consume(take)
    try:
        while len(got) < limit:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), timeout=wait)
            except TimeoutError:
                break
        yield got
    finally:
        await queue.cancel(tag)
        if not channel.is_closed:
            await channel.close()  # returns every unacked message to the queue
