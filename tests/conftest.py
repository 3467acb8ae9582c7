"""Shared fixtures. Broker tests get a fresh RabbitMQ vhost each, so they never see each other's
messages; participants connect as their own least-privilege broker users, as in production."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.sdk import HubClient
from hub.config import Settings
from hub.contract.registry import Registry
from hub.service import HubService
from hub.state.database import Database, open_database
from hub.state.migrations import migrate
from sandbox import Broker, Participants, PostgresUnavailable, fresh_database, fresh_vhost
from sandbox.postgres import pg_url as pg_server_url

BROKER = Broker.from_env("MAATWERK_TEST_AMQP_HOST")
MANAGEMENT_URL = BROKER.management_url
amqp_url = BROKER.amqp_url  # amqp_url(user, password, vhost)
PG_URL = pg_server_url()

SESSION = uuid.uuid4().hex[:6]


@pytest.fixture(scope="session")
def participants(tmp_path_factory: pytest.TempPathFactory) -> Participants:
    """Dev keys and the demo registry with this session's own broker users (``cjib-t1a2b3c``...),
    so that test runs side by side never reset each other's passwords."""
    return Participants.create(tmp_path_factory.mktemp("sandbox"), f"t{SESSION}")


@pytest.fixture(scope="session")
def keys_dir(participants: Participants) -> Path:
    return participants.keys_dir


@pytest.fixture(scope="session")
def registry(participants: Participants) -> Registry:
    return participants.registry


@pytest.fixture(scope="session")
def registry_file(participants: Participants) -> Path:
    """The session registry as a file, for hubs started in another process."""
    return participants.registry_file


@pytest.fixture(scope="session")
def passwords(participants: Participants) -> Iterator[dict[str, str]]:
    """The session's broker passwords; its users are deleted from the broker at the end."""
    yield participants.passwords
    asyncio.run(BROKER.delete_users(participants.users))


@pytest.fixture
async def vhost(participants: Participants, passwords: dict[str, str]) -> AsyncIterator[str]:
    """A fresh vhost with the participants' users and least-privilege permissions."""
    async with fresh_vhost(BROKER, participants, "maatwerk-test") as sandbox:
        yield sandbox.vhost


class FakeClock:
    """Real time plus an offset the test moves forward (``advance(days=30)``)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub_settings(vhost: str, keys_dir: Path, tmp_path: Path) -> Settings:
    base = Settings.from_env({})
    return base.replace(
        amqp_url=amqp_url("guest", "guest", vhost),
        keys_dir=keys_dir,
        state_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        http_port=0,
        watch_seconds=0.2,
        trust_file=tmp_path / "trust.json",  # never the working tree's var/trust.json
    )


@pytest.fixture
async def hub(
    hub_settings: Settings, registry: Registry, clock: FakeClock
) -> AsyncIterator[HubService]:
    service = HubService(hub_settings, registry=registry, clock=clock)
    await service.start()
    yield service
    await service.stop()


ClientFactory = Callable[[str], Awaitable[HubClient]]


@pytest.fixture
async def client(
    vhost: str, participants: Participants, passwords: dict[str, str], tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[ClientFactory]:
    """``await client("cjib")``: a connected SDK client of that participant."""
    made: list[HubClient] = []

    async def make(participant_id: str) -> HubClient:
        c = HubClient(
            participant_id,
            amqp_url=amqp_url(participants.user(participant_id),
                              participants.password(participant_id), vhost),
            key=participants.key(participant_id),
            registry=participants.registry,
            state_url=f"sqlite:///{tmp_path / f'sdk-{participant_id}-{len(made)}.sqlite3'}",
            clock=clock,
        )
        await c.connect()
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    try:
        async with fresh_database(PG_URL) as url:
            yield url
    except PostgresUnavailable as exc:  # scripts/test warned already
        pytest.skip(str(exc))


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Run a test once on each state backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite3'}"
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def db(state_url: str) -> AsyncIterator[Database]:
    """A migrated, empty state store on each backend (``state_url``)."""
    database = await open_database(state_url)
    await migrate(database)
    yield database
    await database.close()
