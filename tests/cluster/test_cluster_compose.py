"""The compose profile ``cluster``: three RabbitMQ nodes that find each other from their
configuration, and two hub replicas that know every node (checked without a container engine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from hub.config import Settings
from hub.contract.brokers import node_of, split_urls

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
NODES = ("rabbit-1", "rabbit-2", "rabbit-3")


def services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    found: dict[str, dict[str, Any]] = document["services"]
    return found


def test_three_nodes_discover_each_other_from_the_configuration() -> None:
    config = (COMPOSE / "rabbitmq" / "rabbitmq-cluster.conf").read_text()
    assert "cluster_formation.peer_discovery_backend = classic_config" in config
    for i, node in enumerate(NODES, 1):
        assert f"cluster_formation.classic_config.nodes.{i} = rabbit@{node}" in config
        service = services()[node]
        assert service["profiles"] == ["cluster"] and service["hostname"] == node
        assert "./rabbitmq/rabbitmq-cluster.conf:/etc/rabbitmq/rabbitmq.conf:ro" in (
            service["volumes"])
        cookies = {v for k, v in service["environment"].items() if "ERL_ARGS" in k}
        assert cookies == {"-setcookie demo-cluster-cookie"}, node  # one cookie, server and CLI


def test_cluster_definitions_are_the_demo_ones_without_queues() -> None:
    """The hub declares the queues once the three nodes run (three members each); queues from
    definitions would be made on the first node before the others joined."""
    demo = json.loads((COMPOSE / "rabbitmq" / "definitions.json").read_text())
    cluster = json.loads((COMPOSE / "rabbitmq" / "definitions-cluster.json").read_text())
    assert cluster == {k: v for k, v in demo.items() if k not in ("queues", "bindings")}


def test_two_hub_replicas_know_every_node_and_share_postgresql() -> None:
    hubs = [services()[name] for name in ("hub-a", "hub-b")]
    for hub in hubs:
        settings = Settings.from_env(hub["environment"])
        urls = split_urls(settings.amqp_url)
        assert [node_of(u) for u in urls] == [f"{n}:5672" for n in NODES]
        assert all(u.startswith("amqp://maatwerk-hub:") for u in urls)
        assert settings.state_url.startswith("postgresql://") and settings.quorum_size == 3
        assert set(hub["depends_on"]) == {*NODES, "postgres", "http-tokens"}
        assert str(settings.http_tokens) == "/tokens/hub-http.yaml"  # required on 0.0.0.0
        assert all(str(p).startswith("127.0.0.1:") for p in hub["ports"])
    assert hubs[0]["environment"] == hubs[1]["environment"]
