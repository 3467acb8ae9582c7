"""The broker layout of a benchmark run: the hub's topology (declared first, so inbox consumers
can attach before the hub starts) and the bare relay's twin of it (its own inbound exchange and
queue, a deliver exchange and one inbox per agency), with the relay's names."""

from __future__ import annotations

import aio_pika

from hub.contract import names
from hub.contract.registry import Registry
from hub.core import topology

AGENCIES = ("cjib", "duo", "uwv", "svb", "belastingdienst")
MUNICIPALITIES = ("gm0193", "gm0363")
DELIVERY_LIMIT = 5

RELAY_INBOUND = "bench.relay.inbound"
RELAY_DELIVER = "bench.relay.deliver"
RELAY_INBOX_PREFIX = "bench.relay.inbox."
RECIPIENT_HEADER = "x-bench-recipient"


def relay_inbox(agency: str) -> str:
    return f"{RELAY_INBOX_PREFIX}{agency}"


async def declare_topology(guest_url: str, registry: Registry) -> None:
    """The hub's topology (so inbox consumers can attach first) and the relay's twin of it."""
    connection = await aio_pika.connect(guest_url)
    async with connection:
        channel = await connection.channel()
        await topology.declare(channel, registry, DELIVERY_LIMIT)
        inbound = await channel.declare_exchange(RELAY_INBOUND, aio_pika.ExchangeType.DIRECT,
                                                 durable=True)
        queue = await channel.declare_queue(
            RELAY_INBOUND, durable=True, arguments=topology.quorum_arguments(DELIVERY_LIMIT))
        await queue.bind(inbound, routing_key=names.INBOUND_ROUTING_KEY)
        deliver = await channel.declare_exchange(RELAY_DELIVER, aio_pika.ExchangeType.DIRECT,
                                                 durable=True)
        for agency in AGENCIES:
            inbox = await channel.declare_queue(
                relay_inbox(agency), durable=True,
                arguments=topology.quorum_arguments(DELIVERY_LIMIT))
            await inbox.bind(deliver, routing_key=agency)
