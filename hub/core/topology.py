"""Declare the broker topology, idempotently (names and meaning in :mod:`hub.contract.names`).

Quorum queues everywhere: replicated on a cluster, durable, with a delivery limit so that a message
that keeps failing is dead-lettered (to ``maatwerk.dead-letter``) instead of looping.
"""

from __future__ import annotations

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue
from aio_pika.exceptions import ChannelClosed
from pamqp.common import FieldTable

from hub.contract import names
from hub.contract.registry import Registry


def quorum_arguments(delivery_limit: int, group_size: int = 3) -> FieldTable:
    """``x-quorum-initial-group-size``: members of a new queue (RabbitMQ caps it at the number of
    cluster nodes, so 3 is fine on one node; an existing queue keeps its members)."""
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": names.DEAD_LETTER_EXCHANGE,
        "x-delivery-limit": delivery_limit,
        "x-quorum-initial-group-size": group_size,
    }


async def declare(channel: AbstractChannel, registry: Registry, delivery_limit: int,
                  group_size: int = 3) -> None:
    """Declare exchanges, the hub's inbound and replay queues, every participant's inbox and
    the DLQ."""
    dead = await channel.declare_exchange(
        names.DEAD_LETTER_EXCHANGE, ExchangeType.FANOUT, durable=True
    )
    dlq = await quorum_queue(
        channel, names.DEAD_LETTER_QUEUE,
        {"x-queue-type": "quorum", "x-quorum-initial-group-size": group_size})
    await dlq.bind(dead)

    inbound = await channel.declare_exchange(names.INBOUND_EXCHANGE, ExchangeType.DIRECT,
                                             durable=True)
    hub_queue = await quorum_queue(channel, names.HUB_QUEUE,
                                   quorum_arguments(delivery_limit, group_size))
    await hub_queue.bind(inbound, routing_key=names.INBOUND_ROUTING_KEY)

    replay = await channel.declare_exchange(names.REPLAY_EXCHANGE, ExchangeType.DIRECT,
                                            durable=True)
    replay_queue = await quorum_queue(channel, names.REPLAY_QUEUE,
                                      quorum_arguments(delivery_limit, group_size))
    await replay_queue.bind(replay, routing_key=names.REPLAY_ROUTING_KEY)

    deliver = await channel.declare_exchange(names.DELIVER_EXCHANGE, ExchangeType.DIRECT,
                                             durable=True)
    for participant in registry.document.participants:
        if participant.kind != "hub":
            await declare_inbox(channel, deliver, participant.id, delivery_limit, group_size)


async def declare_inbox(
    channel: AbstractChannel, deliver: AbstractExchange, participant_id: str, delivery_limit: int,
    group_size: int = 3,
) -> None:
    queue = await quorum_queue(channel, names.inbox(participant_id),
                               quorum_arguments(delivery_limit, group_size))
    await queue.bind(deliver, routing_key=participant_id)


async def quorum_queue(channel: AbstractChannel, name: str,
                       arguments: FieldTable) -> AbstractQueue:
    """Declare ``name`` with ``arguments``, or take it as it is when it exists already.

    RabbitMQ refuses a re-declaration whose arguments differ (``inequivalent arg``), and
    ``x-quorum-initial-group-size`` only means something at creation: a queue made before the
    setting existed keeps its members (grow it with ``rabbitmq-queues grow``).
    """
    if await _exists(channel, name):
        return await channel.declare_queue(name, passive=True)
    return await channel.declare_queue(name, durable=True, arguments=arguments)


async def _exists(channel: AbstractChannel, name: str) -> bool:
    """A passive declare on a channel of its own (a missing queue closes the channel)."""
    connection: AbstractConnection = getattr(channel, "_connection")  # noqa: B009
    probe = await connection.channel(publisher_confirms=False)
    try:
        await probe.declare_queue(name, passive=True)
    except ChannelClosed:
        return False
    finally:
        if not probe.is_closed:
            await probe.close()
    return True
