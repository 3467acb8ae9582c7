"""Issue 7 (a): RabbitMQ is restarted (``rabbitmqctl stop_app`` / ``start_app``) while 5,000
messages stream from a municipality through the hub to two agencies. Hub, publisher and recipients
all reconnect on their own; the publisher publishes with confirms and sends the same signed bytes
again when a publish failed (same id: the hub answers the copy as a duplicate). Counted by id at
the recipients' handlers: nothing lost, nothing handled twice.

The broker restarted is a node of the test's own (``sandbox.nodes``: its own name, ports and data
directory), never the default node that other tests share (issue 16)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from adapters.sdk import HubClient
from hub.config import Settings
from hub.contract.registry import Registry
from hub.core.broker_admin import BrokerAdmin, Permissions
from hub.service import HubService
from sandbox import nodes
from tests.cluster.conftest import ClusterClients, make_vhost
from tests.conftest import FakeClock
from tests.helpers import inboxes, start_hub, timeout_request_body, wait_for, wait_for_queues
from tests.integration.test_adapters import received, start_agency, start_municipality
from tests.resilience.common import (
    COUNT,
    Tally,
    kill,
    requests,
    send_surviving,
    stop_gracefully,
    wait_until,
)
from tests.support.fake_backoffice import FakeBackOffice

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.cluster]

AGENCIES = ("cjib", "uwv")


@pytest.fixture(scope="module")
def single_node() -> Iterator[nodes.Node]:
    reason = nodes.available()
    if reason:
        pytest.skip(f"no sandbox RabbitMQ node here: {reason}")
    sandbox = nodes.single()
    try:
        sandbox.start()
        yield sandbox.nodes[0]
    finally:
        sandbox.remove()


@pytest.fixture
async def node_clients(single_node: nodes.Node, registry: Registry, passwords: dict[str, str],
                       keys_dir: Path, tmp_path: Path,
                       clock: FakeClock) -> AsyncIterator[ClusterClients]:
    vhost = f"maatwerk-restart-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(make_vhost, single_node, vhost)
    async with BrokerAdmin(single_node.management_url()) as admin:
        await admin.set_permissions(vhost, "guest", Permissions(".*", ".*", ".*"))
        await admin.apply_users(registry, vhost, passwords)
    made = ClusterClients(single_node.amqp_url, vhost, registry, passwords, keys_dir, tmp_path,
                          clock)
    yield made
    for client in made.open:
        await client.close()


@pytest.mark.timeout(900)
async def test_broker_restarted_mid_stream_loses_nothing(
    hub_settings: Settings, node_clients: ClusterClients, single_node: nodes.Node,
    registry_file: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    settings = hub_settings.replace(amqp_url=single_node.amqp_url(vhost=node_clients.vhost))
    log = tmp_path / "hub.log"
    process = start_hub(settings, registry_file, log)
    tally = Tally()
    try:
        await wait_for_queues(settings.amqp_url, inboxes(*AGENCIES, "gm0193"))
        gm = await node_clients.make("gm0193", prefetch=16)
        recipients = [await node_clients.make(a, prefetch=16) for a in AGENCIES]
        for recipient in recipients:
            await recipient.consume(tally.handler())
        documents = requests(gm, AGENCIES, COUNT, "RESTART")
        sender = asyncio.create_task(send_surviving(gm, documents, tally, budget=600.0))
        await wait_until(lambda: tally.distinct >= COUNT // 4, 300, "a quarter handled")
        handled_at_stop = tally.distinct
        try:
            await asyncio.to_thread(single_node.stop_app)
            await asyncio.sleep(2.0)  # everybody's connections are down now
        finally:
            await asyncio.to_thread(single_node.start_app)
        await sender
        await wait_until(lambda: tally.distinct >= COUNT, 600, "every message handled")
        await asyncio.sleep(1.0)  # let any straggling copy arrive
        assert await stop_gracefully(process) == 0, log.read_text()[-3000:]
    finally:
        kill(process)

    tally.check("broker restart", recipients, started, stopped_at=f"{handled_at_stop} handled")


async def send_retrying(gm_send: object, *args: object) -> UUID:
    """Send, retrying while the municipality's own connection is still being restored."""
    for _ in range(100):
        try:
            return await gm_send(*args)  # type: ignore[operator,no-any-return]
        except Exception:
            await asyncio.sleep(0.2)
    raise AssertionError("the municipality could not send after the broker restart")


@pytest.mark.timeout(180)
async def test_broker_restart_adapters_reconnect_and_carry_on(
    hub_settings: Settings, node_clients: ClusterClients, single_node: nodes.Node,
    registry: Registry, clock: FakeClock, tmp_path: Path
) -> None:
    """Moved from tests/integration/test_adapters_crash.py: the restarted broker is this
    module's own node, never the shared default node."""
    settings = hub_settings.replace(amqp_url=single_node.amqp_url(vhost=node_clients.vhost))
    hub = HubService(settings, registry=registry, clock=clock)
    await hub.start()
    client = node_clients.make
    fakes = {name: await FakeBackOffice(name, delay=0.3).start() for name in ("cjib", "uwv")}
    agencies: list[HubClient] = []
    try:
        for name, fake in fakes.items():
            agencies.append(await start_agency(client, name, fake))
        gm = await start_municipality(client, tmp_path)
        sent: list[str] = []
        for i in range(6):  # in flight while the broker goes down
            for name in fakes:
                sent.append(str(await gm.request_timeout(name, f"R-{i}",
                                                         timeout_request_body(name))))
        await wait_for(lambda: sum(len(f.calls) for f in fakes.values()) >= 2, timeout=10)
        try:
            await asyncio.to_thread(single_node.stop_app)
            await asyncio.sleep(1.0)
        finally:
            await asyncio.to_thread(single_node.start_app)
        for i in range(6, 12):
            for name in fakes:
                sent.append(str(await send_retrying(gm.request_timeout, name, f"R-{i}",
                                                    timeout_request_body(name))))

        def answered() -> int:
            return sum(len(received(gm, f"R-{i}", "timeout.response")) for i in range(12))

        await wait_for(lambda: answered() == len(sent), timeout=45)
    finally:
        for fake in fakes.values():
            await fake.stop()
        await hub.stop()
    calls = fakes["cjib"].calls + fakes["uwv"].calls
    assert sorted(calls) == sorted(sent), "nothing lost"
    assert all(n == 1 for n in calls.values()), f"one back-office call per message: {calls}"
