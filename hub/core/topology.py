"""Declare the broker topology, idempotently (names and meaning in :mod:`hub.contract.names`).

Quorum queues everywhere: replicated on a cluster, durable, with a delivery limit so that a message
that keeps failing is dead-lettered (to ``maatwerk.dead-letter``) instead of looping.
"""

from __future__ import annotations

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange
from pamqp.common import FieldTable

from hub.contract import names
from hub.contract.registry import Registry


def quorum_arguments(delivery_limit: int) -> FieldTable:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": names.DEAD_LETTER_EXCHANGE,
        "x-delivery-limit": delivery_limit,
    }


async def declare(channel: AbstractChannel, registry: Registry, delivery_limit: int) -> None:
    """Declare exchanges, the hub's inbound and replay queues, every participant's inbox and
    the DLQ."""
    dead = await channel.declare_exchange(
        names.DEAD_LETTER_EXCHANGE, ExchangeType.FANOUT, durable=True
    )
    dlq = await channel.declare_queue(
        names.DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dead)

    inbound = await channel.declare_exchange(names.INBOUND_EXCHANGE, ExchangeType.DIRECT,
                                             durable=True)
    hub_queue = await channel.declare_queue(
        names.HUB_QUEUE, durable=True, arguments=quorum_arguments(delivery_limit)
    )
    await hub_queue.bind(inbound, routing_key=names.INBOUND_ROUTING_KEY)

    replay = await channel.declare_exchange(names.REPLAY_EXCHANGE, ExchangeType.DIRECT,
                                            durable=True)
    replay_queue = await channel.declare_queue(
        names.REPLAY_QUEUE, durable=True, arguments=quorum_arguments(delivery_limit)
    )
    await replay_queue.bind(replay, routing_key=names.REPLAY_ROUTING_KEY)

    deliver = await channel.declare_exchange(names.DELIVER_EXCHANGE, ExchangeType.DIRECT,
                                             durable=True)
    for participant in registry.document.participants:
        if participant.kind != "hub":
            await declare_inbox(channel, deliver, participant.id, delivery_limit)


async def declare_inbox(
    channel: AbstractChannel, deliver: AbstractExchange, participant_id: str, delivery_limit: int
) -> None:
    queue = await channel.declare_queue(
        names.inbox(participant_id), durable=True, arguments=quorum_arguments(delivery_limit)
    )
    await queue.bind(deliver, routing_key=participant_id)
