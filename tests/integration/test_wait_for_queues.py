"""The tests that start a hub in another process wait for the queues they use before they
consume: the hub declares them one after another, so a wait for one inbox said nothing of the
next (the cluster failover test consumed ``cjib`` after waiting for ``uwv`` and found no queue)."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from hub.config import Settings
from tests.helpers import inboxes, wait_for_queues

pytestmark = [pytest.mark.broker]


async def test_waits_until_every_queue_exists_not_only_the_first(hub_settings: Settings) -> None:
    first, second = inboxes("uwv", "cjib")
    connection = await aio_pika.connect(hub_settings.amqp_url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(first, durable=True)
        waiting = asyncio.create_task(wait_for_queues(hub_settings.amqp_url, [first, second], 10))
        await asyncio.sleep(1.0)
        assert not waiting.done(), "returned while the second queue did not exist yet"
        await channel.declare_queue(second, durable=True)
        await asyncio.wait_for(waiting, 5)
    finally:
        await connection.close()


async def test_gives_up_after_the_timeout(hub_settings: Settings) -> None:
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
        await wait_for_queues(hub_settings.amqp_url, inboxes("svb"), 0.5)
