"""The hub on a three-node cluster: every quorum queue it declares has three members (one per
node), and the hub names the node it is on in ``/readyz`` and ``maatwerk_broker_node_info``."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from hub.config import Settings
from hub.contract import names
from hub.contract.brokers import node_of
from hub.contract.registry import Registry
from hub.service import HubService
from sandbox import nodes
from tests.conftest import FakeClock
from tests.resilience.common import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.broker, pytest.mark.slow]


@pytest.mark.timeout(300)
async def test_every_inbox_has_three_members_and_the_node_is_shown(
    cluster_settings: Settings, cluster_vhost: str, all_nodes_up: nodes.Cluster,
    registry: Registry, clock: FakeClock, unused_tcp_port: int,
) -> None:
    settings = cluster_settings.replace(http_port=unused_tcp_port)
    hub = HubService(settings, registry=registry, clock=clock)
    await hub.start()
    try:
        queues = [names.HUB_QUEUE, names.DEAD_LETTER_QUEUE] + [
            names.inbox(p.id) for p in registry.document.participants if p.kind != "hub"]
        first = all_nodes_up.nodes[0]
        expected = sorted(n.name for n in all_nodes_up.nodes)
        for queue in queues:
            info = first.api(f"queues/{quote(cluster_vhost, safe='')}/{quote(queue, safe='')}")
            assert isinstance(info, dict) and info["type"] == "quorum", queue
            assert sorted(info["members"]) == expected, (queue, info["members"])
        # the CLI agrees (rabbitmq-queues quorum_status lists one row per member)
        status = first.ctl("quorum_status", names.inbox("cjib"), "--vhost", cluster_vhost,
                           command_name="rabbitmq-queues")
        assert all(n.name in status for n in all_nodes_up.nodes), status

        node = node_of(settings.amqp_url.split(",")[0])
        await wait_until(lambda: hub.broker_node == node, 10, "the node shown")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_tcp_port}") as http:
            await wait_until(lambda: hub.ready, 15, "ready")
            await wait_until(lambda: hub._http is not None and hub._http.started, 15, "HTTP up")
            ready = (await http.get("/readyz")).json()
            metrics = (await http.get("/metrics")).text
        assert ready["ready"] and ready["broker_node"] == node, ready
        assert f'maatwerk_broker_node_info{{node="{node}"}} 1.0' in metrics
    finally:
        await hub.stop()
