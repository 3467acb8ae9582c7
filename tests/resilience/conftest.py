"""Fixtures of the resilience tests: SDK clients whose state file the test chooses, so that an
adapter can come back as a new client with the same record of handled ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.sdk import HubClient
from sandbox import Participants
from tests.conftest import FakeClock, amqp_url


class Clients:
    """Makes connected SDK clients; closes the ones still open at the end of the test."""

    def __init__(self, vhost: str, participants: Participants, state_dir: Path,
                 clock: FakeClock) -> None:
        self.vhost, self.participants = vhost, participants
        self.state_dir, self.clock = state_dir, clock
        self.open: list[HubClient] = []

    def state_file(self, name: str) -> Path:
        return self.state_dir / f"sdk-{name}.sqlite3"

    async def make(self, participant_id: str, *, state: str | None = None,
                   prefetch: int = 16) -> HubClient:
        """A connected client of ``participant_id``; ``state`` names its handled-ids file (the
        same name gives a later client the same record)."""
        client = HubClient(
            participant_id,
            amqp_url=amqp_url(self.participants.user(participant_id),
                              self.participants.password(participant_id), self.vhost),
            key=self.participants.key(participant_id),
            registry=self.participants.registry,
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
    vhost: str, participants: Participants, passwords: dict[str, str], tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[Clients]:
    made = Clients(vhost, participants, tmp_path, clock)
    yield made
    for client in list(made.open):
        await made.close(client)
