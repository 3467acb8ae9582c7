"""Fixtures of the cluster tests: one three-node RabbitMQ cluster of our own per test session
(``sandbox.nodes``: own node names, ports, data directories and cookie; the default node is never
touched), a fresh vhost on it per test with the participants' users, and SDK clients that know
every node's address."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from adapters.sdk import HubClient
from hub.config import Settings
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.registry import Registry
from hub.core.broker_admin import BrokerAdmin, Permissions
from sandbox import nodes
from tests.conftest import FakeClock

pytestmark = [pytest.mark.cluster]


@pytest.fixture(scope="session")
def cluster() -> Iterator[nodes.Cluster]:
    """Three joined nodes for the whole session (starting them takes tens of seconds)."""
    reason = nodes.available()
    if reason:
        pytest.skip(f"no sandbox RabbitMQ nodes here: {reason}")
    sandbox = nodes.Cluster(3)
    try:
        seconds = sandbox.start()
        print(f"\n[cluster] 3 nodes up in {seconds:.1f} s: "
              + ", ".join(f"{n.name} amqp {n.amqp_port}" for n in sandbox.nodes))
        yield sandbox
    finally:
        sandbox.remove()


@pytest.fixture
def all_nodes_up(cluster: nodes.Cluster) -> Iterator[nodes.Cluster]:
    """The cluster with every node running, before and after the test (a test that stops a
    node starts it again; this puts back one that a failed test left down)."""
    _restart_stopped(cluster)
    yield cluster
    _restart_stopped(cluster)


def _restart_stopped(cluster: nodes.Cluster) -> None:
    for node in cluster.nodes:
        if not node.listening():
            node.start_app()
    cluster.wait_members(len(cluster.nodes), timeout=120)


@pytest.fixture
async def cluster_vhost(all_nodes_up: nodes.Cluster, registry: Registry,
                        passwords: dict[str, str]) -> AsyncIterator[str]:
    name = f"maatwerk-cluster-{uuid.uuid4().hex[:8]}"
    first = all_nodes_up.nodes[0]
    await asyncio.to_thread(make_vhost, first, name)
    async with BrokerAdmin(first.management_url()) as admin:
        await admin.set_permissions(name, "guest", Permissions(".*", ".*", ".*"))
        await admin.apply_users(registry, name, passwords)
    yield name
    for node in all_nodes_up.nodes:  # any running node will do
        if node.listening():
            await asyncio.to_thread(node.api, f"vhosts/{quote(name, safe='')}", 120, "DELETE")
            break


@pytest.fixture
def cluster_settings(cluster_vhost: str, all_nodes_up: nodes.Cluster, keys_dir: Path,
                     tmp_path: Path) -> Settings:
    """Hub settings with every node's URL (``AMQP_URL`` as a comma-separated list)."""
    return Settings.from_env({}).replace(amqp_url=all_nodes_up.urls(vhost=cluster_vhost),
                   keys_dir=keys_dir, state_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
                   http_port=0, watch_seconds=0.5)


def make_vhost(node: nodes.Node, name: str, attempts: int = 5) -> None:
    """PUT the vhost until the node confirms it exists: on three busy nodes a creation can take
    longer than BrokerAdmin's 10 s, and the API then answers 500 while it completes."""
    path = f"vhosts/{quote(name, safe='')}"
    for attempt in range(attempts):
        try:
            node.api(path, 120, "PUT", {})
            return
        except urllib.error.HTTPError as exc:
            if exc.code != 500 or attempt == attempts - 1:
                raise
            time.sleep(2.0)
            try:
                node.api(path)
                return  # it was created after all
            except urllib.error.HTTPError:
                continue


class ClusterClients:
    """Connected SDK clients whose AMQP_URL lists every node of the cluster."""

    def __init__(self, urls: Callable[[str, str, str], str], vhost: str, registry: Registry,
                 passwords: dict[str, str], keys_dir: Path, state_dir: Path,
                 clock: FakeClock) -> None:
        self.urls, self.vhost = urls, vhost
        self.registry, self.passwords = registry, passwords
        self.keys_dir, self.state_dir, self.clock = keys_dir, state_dir, clock
        self.open: list[HubClient] = []

    async def make(self, participant_id: str, *, prefetch: int = 32,
                   receipts: bool = True) -> HubClient:
        participant = self.registry.get(participant_id)
        assert participant is not None
        user = participant.broker_user
        client = HubClient(
            participant_id, amqp_url=self.urls(user, self.passwords[user], self.vhost),
            key=load_private_key(private_key_path(self.keys_dir, participant_id)),
            registry=self.registry,
            state_url=f"sqlite:///{self.state_dir / f'sdk-{participant_id}.sqlite3'}",
            prefetch=prefetch, clock=self.clock)
        client.auto_receipts = receipts
        await client.connect()
        self.open.append(client)
        return client


@pytest.fixture
async def cluster_clients(all_nodes_up: nodes.Cluster, cluster_vhost: str, registry: Registry,
                          passwords: dict[str, str], keys_dir: Path, tmp_path: Path,
                          clock: FakeClock) -> AsyncIterator[ClusterClients]:
    made = ClusterClients(all_nodes_up.urls, cluster_vhost, registry, passwords, keys_dir, tmp_path,
                          clock)
    yield made
    for client in made.open:
        await client.close()
