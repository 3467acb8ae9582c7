"""Fixtures of the resilience tests: SDK clients whose state file the test chooses, so that an
adapter can come back as a new client with the same record of handled ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.sdk import HubClient
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.registry import Registry
from tests.conftest import FakeClock, amqp_url


class Clients:
    """Makes connected SDK clients; closes the ones still open at the end of the test."""

    def __init__(self, vhost: str, registry: Registry, passwords: dict[str, str],
                 keys_dir: Path, state_dir: Path, clock: FakeClock) -> None:
        self.vhost, self.registry, self.passwords = vhost, registry, passwords
        self.keys_dir, self.state_dir, self.clock = keys_dir, state_dir, clock
        self.open: list[HubClient] = []

    def state_file(self, name: str) -> Path:
        return self.state_dir / f"sdk-{name}.sqlite3"

    async def make(self, participant_id: str, *, state: str | None = None,
                   prefetch: int = 16) -> HubClient:
        """A connected client of ``participant_id``; ``state`` names its handled-ids file (the
        same name gives a later client the same record)."""
        participant = self.registry.get(participant_id)
        assert participant is not None
        user = participant.broker_user
        client = HubClient(
            participant_id, amqp_url=amqp_url(user, self.passwords[user], self.vhost),
            key=load_private_key(private_key_path(self.keys_dir, participant_id)),
            registry=self.registry,
            state_url=f"sqlite:///{self.state_file(state or participant_id)}",
            prefetch=prefetch, clock=self.clock,
        )
        await client.connect()
        self.open.append(client)
        return client

    async def close(self, client: HubClient) -> None:
        self.open.remove(client)
        await client.close()


@pytest.fixture
async def clients(
    vhost: str, registry: Registry, passwords: dict[str, str], keys_dir: Path, tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[Clients]:
    made = Clients(vhost, registry, passwords, keys_dir, tmp_path, clock)
    yield made
    for client in list(made.open):
        await made.close(client)
