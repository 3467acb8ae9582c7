"""Shared fixtures. Broker tests get a fresh RabbitMQ vhost each, so they never see each other's
messages; participants connect as their own least-privilege broker users, as in production."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from adapters.sdk import HubClient
from hub.config import Settings
from hub.contract.keys import ensure_dev_keys, load_private_key, private_key_path
from hub.contract.registry import Registry, RegistryDocument, load_registry
from hub.core.broker_admin import BrokerAdmin, load_passwords
from hub.service import HubService

MANAGEMENT_URL = os.environ.get("MAATWERK_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
AMQP_HOST = os.environ.get("MAATWERK_TEST_AMQP_HOST", "127.0.0.1:5672")
PG_URL = os.environ.get("MAATWERK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys")
    ensure_dev_keys(path, [p.id for p in load_registry().document.participants])
    return path


SESSION = uuid.uuid4().hex[:6]


@pytest.fixture(scope="session")
def registry(keys_dir: Path) -> Registry:
    """The demo registry with this session's own broker users (``cjib-t1a2b3c``...), so that test
    runs side by side never reset each other's passwords."""
    demo = load_registry(None, keys_dir)
    participants = [p.model_copy(update={"broker_user": f"{p.broker_user}-t{SESSION}"})
                    for p in demo.document.participants]
    return Registry(RegistryDocument(version=demo.version, participants=participants))


@pytest.fixture(scope="session")
def registry_file(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session registry as a file, for hubs started in another process."""
    path = tmp_path_factory.mktemp("registry") / "registry.yaml"
    path.write_text(yaml.safe_dump(registry.document.model_dump(mode="json"), sort_keys=False))
    return path


@pytest.fixture(scope="session")
def passwords(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    path = tmp_path_factory.mktemp("broker") / "passwords.json"
    yield load_passwords(path, [p.broker_user for p in registry.document.participants])

    async def delete_users() -> None:
        async with BrokerAdmin(MANAGEMENT_URL) as admin:
            for participant in registry.document.participants:
                await admin.delete_user(participant.broker_user)

    asyncio.run(delete_users())


def amqp_url(user: str, password: str, vhost: str) -> str:
    return f"amqp://{quote(user)}:{quote(password)}@{AMQP_HOST}/{quote(vhost, safe='')}"


@pytest.fixture
async def vhost(registry: Registry, passwords: dict[str, str]) -> AsyncIterator[str]:
    """A fresh vhost with the participants' users and least-privilege permissions."""
    name = f"maatwerk-test-{uuid.uuid4().hex[:10]}"
    async with BrokerAdmin(MANAGEMENT_URL) as admin:
        await admin.ensure_vhost(name)
        await admin.set_permissions(name, "guest", _all())
        await admin.apply_users(registry, name, passwords)
    yield name
    async with BrokerAdmin(MANAGEMENT_URL) as admin:
        await admin.delete_vhost(name)


def _all():  # type: ignore[no-untyped-def]
    from hub.core.broker_admin import Permissions

    return Permissions(configure=".*", write=".*", read=".*")


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
    vhost: str, registry: Registry, passwords: dict[str, str], keys_dir: Path, tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[ClientFactory]:
    """``await client("cjib")``: a connected SDK client of that participant."""
    made: list[HubClient] = []

    async def make(participant_id: str) -> HubClient:
        participant = registry.get(participant_id)
        assert participant is not None
        c = HubClient(
            participant_id,
            amqp_url=amqp_url(participant.broker_user, passwords[participant.broker_user], vhost),
            key=load_private_key(private_key_path(keys_dir, participant_id)),
            registry=registry,
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
    import asyncpg

    name = f"maatwerk_t_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(PG_URL)
    except (OSError, asyncpg.PostgresError) as exc:  # scripts/test warned already
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(PG_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


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
