"""Issue 16: readiness tells the truth about the broker, on SQLite and on PostgreSQL state.

Two hubs (one per state backend) connected to one node of the sandbox cluster only. That node is
stopped: both are red within seconds (a robust connection that is reconnecting is not a live one)
and ``maatwerk_ready`` is 0; the node comes back: both reconnect, route again and are green."""

from __future__ import annotations

import asyncio
import time

import pytest

from hub.config import Settings
from hub.contract.registry import Registry
from hub.service import HubService
from sandbox import nodes
from tests.cluster.conftest import ClusterClients
from tests.conftest import FakeClock
from tests.helpers import collect, timeout_request_body
from tests.resilience.common import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]


@pytest.mark.timeout(300)
async def test_broker_lost_is_red_within_seconds_and_green_when_routing_resumes(
    cluster_settings: Settings, cluster_vhost: str, all_nodes_up: nodes.Cluster,
    cluster_clients: ClusterClients, registry: Registry, clock: FakeClock, pg_url: str,
) -> None:
    node = all_nodes_up.nodes[-1]
    only_node = node.amqp_url(vhost=cluster_vhost)
    hubs = {
        "sqlite": HubService(cluster_settings.replace(amqp_url=only_node), registry=registry,
                             clock=clock),
        "postgresql": HubService(cluster_settings.replace(amqp_url=only_node, state_url=pg_url),
                                 registry=registry, clock=clock),
    }
    for hub in hubs.values():
        await hub.start()
    try:
        gm = await cluster_clients.make("gm0193")
        cjib = await cluster_clients.make("cjib")
        got = await collect(cjib, "timeout.request")
        await wait_until(lambda: all(h.ready for h in hubs.values()), 20, "both ready")

        await asyncio.to_thread(node.stop_app)
        stopped = time.monotonic()
        await wait_until(lambda: not any(h.ready for h in hubs.values()), 5, "both red")
        red_after = time.monotonic() - stopped
        await asyncio.sleep(1.5)  # the health loop has set the gauge by now
        for name, hub in hubs.items():
            assert not hub.readiness()["broker"], name
            assert hub.metrics.ready._value.get() == 0, name
            assert hub.broker_node is None, name

        await asyncio.to_thread(node.start_app)
        restarted = time.monotonic()
        await wait_until(lambda: all(h.ready for h in hubs.values()), 30, "both green again")
        green_after = time.monotonic() - restarted
        sends = [gm.send(gm.message(type="timeout.request", recipient="cjib",
                                    case_id=f"BACK-{i}", body=timeout_request_body("cjib")))
                 for i in range(20)]
        await asyncio.gather(*sends)
        await wait_until(lambda: len(got) == 20, 60, "routing after the node came back")
        for name, hub in hubs.items():
            assert hub.ready and hub.broker_node == f"127.0.0.1:{node.amqp_port}", name
        print(f"\n[broker down] red {red_after:.1f} s after stop_app returned, green "
              f"{green_after:.1f} s after start_app returned")
    finally:
        for hub in hubs.values():
            await hub.stop()
