"""Least privilege, enforced by RabbitMQ itself (not by the hub)."""

from __future__ import annotations

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed

from hub.contract import names
from hub.contract.registry import Registry
from hub.service import HubService
from tests.conftest import amqp_url

pytestmark = [pytest.mark.broker]


async def _channel(registry: Registry, passwords: dict[str, str], vhost: str, who: str
                   ) -> tuple[aio_pika.abc.AbstractConnection, aio_pika.abc.AbstractChannel]:
    participant = registry.get(who)
    assert participant is not None
    user = participant.broker_user
    connection = await aio_pika.connect(amqp_url(user, passwords[user], vhost))
    return connection, await connection.channel(publisher_confirms=True)


async def test_participant_cannot_read_another_inbox(
    hub: HubService, registry: Registry, passwords: dict[str, str], vhost: str
) -> None:
    connection, channel = await _channel(registry, passwords, vhost, "cjib")
    async with connection:
        queue = await channel.get_queue(names.inbox("duo"), ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await queue.get(fail=False)


async def test_participant_can_read_own_inbox(
    hub: HubService, registry: Registry, passwords: dict[str, str], vhost: str
) -> None:
    connection, channel = await _channel(registry, passwords, vhost, "cjib")
    async with connection:
        queue = await channel.get_queue(names.inbox("cjib"), ensure=False)
        assert await queue.get(fail=False) is None


async def test_participant_cannot_publish_past_the_hub(
    hub: HubService, registry: Registry, passwords: dict[str, str], vhost: str
) -> None:
    connection, channel = await _channel(registry, passwords, vhost, "gm0193")
    async with connection:
        deliver = await channel.get_exchange(names.DELIVER_EXCHANGE, ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await deliver.publish(aio_pika.Message(b"{}", user_id="gm0193"), routing_key="cjib")


async def test_participant_cannot_configure(
    hub: HubService, registry: Registry, passwords: dict[str, str], vhost: str
) -> None:
    connection, channel = await _channel(registry, passwords, vhost, "gm0193")
    async with connection:
        with pytest.raises(ChannelAccessRefused):
            await channel.declare_queue("maatwerk.inbox.sneaky", durable=True)


async def test_participant_cannot_claim_another_user_id(
    hub: HubService, registry: Registry, passwords: dict[str, str], vhost: str
) -> None:
    connection, channel = await _channel(registry, passwords, vhost, "gm0193")
    async with connection:
        inbound = await channel.get_exchange(names.INBOUND_EXCHANGE, ensure=False)
        with pytest.raises(ChannelPreconditionFailed):
            await inbound.publish(aio_pika.Message(b"{}", user_id="gm0363"),
                                  routing_key=names.INBOUND_ROUTING_KEY)
