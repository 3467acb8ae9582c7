"""Database-wide gauges are exported once, however many hub replicas share the state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.sdk import Delivery, Reply
from hub.config import Settings
from hub.contract.agreements import DeadlineTable, Duration, load_agreements
from hub.contract.registry import Registry
from hub.service import HubService
from hub.state import checkpoints
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import timeout_request_body, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.postgres]


def samples(service: HubService, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = service.metrics.exposition().decode()
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name}


def total(services: list[HubService], name: str) -> float:
    return sum(sum(samples(s, name).values()) for s in services)


@pytest.fixture
async def replicas(hub_settings: Settings, registry: Registry, clock: FakeClock,
                   pg_url: str) -> AsyncIterator[Callable[[], Any]]:
    agreements = load_agreements().model_copy(update={"deadlines": DeadlineTable(
        receipt=Duration(seconds=1.0), response=Duration(seconds=1.5))})
    started: list[HubService] = []

    async def start() -> HubService:
        service = HubService(hub_settings.replace(state_url=pg_url), registry=registry,
                             clock=clock, agreements=agreements)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


async def test_two_replicas_on_postgresql_export_overdue_once(
    replicas: Callable[[], Any], client: ClientFactory
) -> None:
    hubs: list[HubService] = [await replicas(), await replicas()]
    for hub in hubs:  # sign the audit head on every tick that finds it moved
        assert hub.watcher is not None
        hub.watcher.checkpoint_seconds = 0.0
    gm, svb, loket = await client("gm0193"), await client("svb"), await client("loket")
    overdue: list[Delivery] = []

    async def keep(delivery: Delivery) -> Reply:
        if delivery.envelope.type == "notice.overdue":
            overdue.append(delivery)
        return None

    async def silent(delivery: Delivery) -> Reply:
        return None  # a receipt (the SDK's), never an answer

    await loket.consume(keep)
    await svb.consume(silent)
    for n in range(3):
        await gm.send(gm.message(type="timeout.request", recipient="svb", case_id=f"ZW-G{n}",
                                 body=timeout_request_body("svb")))
    await wait_for(lambda: len(overdue) == 3, timeout=30)

    def settled() -> bool:
        return total(hubs, "maatwerk_overdue") == 3

    await wait_for(settled, timeout=15)
    leaders = [h for h in hubs if samples(h, "maatwerk_gauges_leader")[()] == 1]
    assert len(leaders) == 1
    follower = next(h for h in hubs if h is not leaders[0])
    assert samples(leaders[0], "maatwerk_overdue") == {(("participant", "svb"),): 3.0}
    assert samples(follower, "maatwerk_overdue") == {}  # not 3 more: exported once
    await asyncio.sleep(1.0)  # more ticks on both replicas change nothing
    assert total(hubs, "maatwerk_overdue") == 3

    # The leader stops: it gives the lease up and the other replica exports the gauges.
    await leaders[0].stop()
    hubs.remove(leaders[0])
    await wait_for(lambda: samples(follower, "maatwerk_gauges_leader")[()] == 1, timeout=15)
    await wait_for(lambda: samples(follower, "maatwerk_overdue") == {
        (("participant", "svb"),): 3.0}, timeout=15)

    # Meanwhile both replicas' watchers signed the audit head: every checkpoint verifies.
    assert follower.audit is not None
    signed = await checkpoints.stored(follower.audit.db)
    assert signed and signed[-1].seq > 3
    for checkpoint in signed:
        assert await checkpoints.check(checkpoint, follower.audit, follower.registry) is None
