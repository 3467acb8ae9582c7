"""Issue 16: a node lost mid-stream and nothing lost. Two hub replicas (separate processes) on
fresh PostgreSQL, the three-node sandbox cluster, a municipality sending 5,000 time-out requests to
two agencies (SDK clients; every process has every node's address). Counted by id at the
recipients' handlers: 0 lost, 0 handled twice. The time to recover is the longest pause in
deliveries after the fault (printed, and in the test's output). Timeouts are generous: the
machine is shared, and 5,000 messages take 30 s idle but minutes when it is busy.

- a follower node stopped mid-stream (nobody is connected to it; it holds queue replicas);
- the node everybody is connected to (and the queues' leader) stopped mid-stream;
- the same, and one hub replica SIGKILLed while that node is down.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hub.config import Settings
from sandbox import nodes
from tests.cluster.conftest import ClusterClients
from tests.helpers import inboxes, start_hub, wait_for_queues
from tests.resilience.common import (
    COUNT,
    Tally,
    kill,
    requests,
    send_surviving,
    stop_gracefully,
    wait_until,
)

pytestmark = [pytest.mark.cluster, pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]

AGENCIES = ("cjib", "uwv")


class Pauses:
    """Watches the recipients' count; the longest stretch without a new id after ``since``."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.since = 0.0
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        seen, last = self.tally.distinct, time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            if self.tally.distinct != seen:
                if self.since and last >= self.since - 1.0:
                    self.longest = max(self.longest, now - max(last, self.since))
                seen, last = self.tally.distinct, now
            if self.tally.distinct >= COUNT:
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def connected_nodes(cluster: nodes.Cluster, vhost: str) -> set[str]:
    """The nodes the hub replicas' connections (user guest) are on, per the management API."""
    for node in cluster.nodes:
        if node.listening():
            connections = node.api("connections")
            assert isinstance(connections, list)
            return {c["node"] for c in connections if c.get("vhost") == vhost
                    and c.get("user") == "guest"}
    return set()


async def stream_with_fault(
    scenario: str, fault: str, *, cluster: nodes.Cluster, vhost: str, settings: Settings,
    clients: ClusterClients, registry_file: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    logs = [tmp_path / f"hub-{i}.log" for i in range(2)]
    replicas = [start_hub(settings, registry_file, log) for log in logs]
    tally, pauses = Tally(), None
    stopped: nodes.Node | None = None
    try:
        await wait_for_queues(cluster.nodes[0].amqp_url(vhost=vhost), inboxes(*AGENCIES, "gm0193"),
                              60)
        gm = await clients.make("gm0193", prefetch=16)
        recipients = [await clients.make(a, receipts=False) for a in AGENCIES]
        for recipient in recipients:
            await recipient.consume(tally.handler())
        documents = requests(gm, AGENCIES, COUNT, scenario.upper().replace(" ", "-"))
        sender = asyncio.create_task(send_surviving(gm, documents, tally, budget=600.0))
        pauses = Pauses(tally)
        pauses.start()
        await wait_until(lambda: tally.distinct >= COUNT // 4, 300, "a quarter handled")
        await wait_until(lambda: len(connected_nodes(cluster, vhost)) == 1, 30,
                         "both replicas on one node")
        on = connected_nodes(cluster, vhost).pop()
        hub_node = next(n for n in cluster.nodes if n.name == on)
        stopped = (hub_node if fault != "follower"
                   else next(n for n in reversed(cluster.nodes) if n is not hub_node))
        at_fault = tally.distinct
        pauses.since = time.monotonic()
        await asyncio.to_thread(stopped.stop_app)
        if fault == "kill":
            await asyncio.sleep(1.0)  # the replicas are failing over now
            kill(replicas[0])
        await sender
        await wait_until(lambda: tally.distinct >= COUNT, 600, "every message handled")
        await asyncio.sleep(1.0)  # let any straggling copy arrive
        await pauses.stop()
        await asyncio.to_thread(stopped.start_app)
        stopped = None
        for process, log in zip(replicas, logs, strict=True):
            if process.running:
                assert await stop_gracefully(process) == 0, log.read_text()[-3000:]
    finally:
        if pauses is not None:
            await pauses.stop()
        for process in replicas:
            kill(process)
        if stopped is not None:
            await asyncio.to_thread(stopped.start_app)

    recover = f"{pauses.longest:.1f} s" if pauses else "?"
    with capsys.disabled():
        tally.check(scenario, recipients, started, node_stopped=stopped_name(hub_node, fault),
                    at=f"{at_fault} handled", time_to_recover=recover)
    assert tally.distinct == COUNT


def stopped_name(hub_node: nodes.Node, fault: str) -> str:
    return "a follower" if fault == "follower" else f"{hub_node.name} (the hub's node)"


@pytest.fixture
def pg_settings(cluster_settings: Settings, pg_url: str) -> Settings:
    return cluster_settings.replace(state_url=pg_url)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("scenario", "fault"), [
    ("follower stopped", "follower"),
    ("hub's node stopped", "connected"),
    ("replica killed, node down", "kill"),
], ids=["follower_node_stopped", "hubs_node_stopped", "replica_killed_while_a_node_is_down"])
async def test_a_node_lost_mid_stream(
    scenario: str, fault: str, pg_settings: Settings, cluster_vhost: str,
    all_nodes_up: nodes.Cluster, cluster_clients: ClusterClients, registry_file: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    await stream_with_fault(scenario, fault, cluster=all_nodes_up, vhost=cluster_vhost,
                            settings=pg_settings, clients=cluster_clients,
                            registry_file=registry_file, tmp_path=tmp_path, capsys=capsys)
