"""Issue 16: readiness tells the truth about the state store, on SQLite and on PostgreSQL.

- A test connection holds an exclusive lock on the audit table: no decision is recorded (fail
  closed: the message in hand is retried, not acknowledged), the hub goes red within seconds,
  logs the timeout and counts it (``maatwerk_state_timeouts``); when the lock goes, routing
  resumes and the hub is green again.
- Under steady load with no fault at all the hub is never red (the audit check reads head and
  tail in one statement; two reads on two connections saw appends in between).

Broker loss is in ``tests/cluster/test_cluster_readiness.py`` (a node of our own is stopped).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import asyncpg
import pytest

from hub.config import Settings
from hub.contract.registry import Registry
from hub.service import HubService
from hub.state.database import StateTimeouts
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import collect, timeout_request_body
from tests.resilience.common import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TIMEOUTS = StateTimeouts(statement=2.0, lock=1.0, sqlite_busy_ms=300)


def timeouts_counted(hub: HubService) -> float:
    return sum(sample.value for metric in hub.metrics.state_timeouts.collect()
               for sample in metric.samples if sample.name.endswith("_total"))


@pytest.mark.timeout(180)
async def test_a_locked_audit_table_turns_readiness_red_then_green(
    hub_settings: Settings, state_url: str, registry: Registry, clock: FakeClock,
    client: ClientFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = hub_settings.replace(
        state_url=state_url, state_timeout_seconds=TIMEOUTS.statement,
        state_lock_timeout_seconds=TIMEOUTS.lock, sqlite_busy_ms=TIMEOUTS.sqlite_busy_ms)
    hub = HubService(settings, registry=registry, clock=clock)
    await hub.start()
    try:
        gm, cjib = await client("gm0193"), await client("cjib")
        got = await collect(cjib, "timeout.request")

        def request(i: int) -> dict[str, object]:
            return gm.message(type="timeout.request", recipient="cjib", case_id=f"LOCK-{i}",
                              body=timeout_request_body("cjib"))

        await gm.send(request(0))
        routed = hub.metrics.routed.labels("timeout.request", "cjib")
        await wait_until(lambda: routed._value.get() == 1, 30, "the first message routed")
        await wait_until(lambda: hub.ready, 10, "ready before the lock")

        caplog.set_level(logging.WARNING, logger="maatwerk.state")
        async with hold_audit_lock(state_url):
            await gm.send(request(1))
            locked_at = time.monotonic()
            await wait_until(lambda: not hub.ready, 15, "red while the audit table is locked")
            red_after = time.monotonic() - locked_at
            await asyncio.sleep(2 * TIMEOUTS.statement)
            # Still red: the message is published but cannot be recorded (audit), so it is
            # retried, never acknowledged; the recipient's SDK drops the repeated copies.
            assert not hub.ready, "red for as long as the lock is held"
            assert hub.metrics.ready._value.get() == 0
            assert routed._value.get() == 1
        await wait_until(lambda: hub.ready, 15, "green again")
        await wait_until(lambda: routed._value.get() == 2, 30,
                         "the held message recorded as routed")
        await gm.send(request(2))
        await wait_until(lambda: len(got) == 3, 30, "routing resumed after the lock")
        assert hub.ready
        assert timeouts_counted(hub) > 0
        assert any("did not answer" in r.getMessage() for r in caplog.records), caplog.text
        print(f"\n[{state_url.split(':')[0]}] red {red_after:.1f} s after the lock")
        assert red_after < 10
    finally:
        await hub.stop()


class hold_audit_lock:  # noqa: N801 (an async context manager, used like a function)
    """An exclusive lock on the audit table, from a connection of the test's own."""

    def __init__(self, state_url: str) -> None:
        self.url = state_url
        self._pg: asyncpg.Connection | None = None
        self._sqlite: sqlite3.Connection | None = None

    async def __aenter__(self) -> None:
        if self.url.startswith("sqlite:///"):
            self._sqlite = sqlite3.connect(Path(self.url.removeprefix("sqlite:///")),
                                           isolation_level=None, check_same_thread=False)
            self._sqlite.execute("BEGIN EXCLUSIVE")  # SQLite locks the whole database
            self._sqlite.execute("DELETE FROM audit_log WHERE seq < 0")
            return
        self._pg = await asyncpg.connect(self.url)
        await self._pg.execute("BEGIN")
        await self._pg.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")

    async def __aexit__(self, *exc: object) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.execute("ROLLBACK")
            await self._pg.close()


@pytest.mark.timeout(900)
async def test_a_healthy_replica_under_load_is_never_red(
    hub_settings: Settings, state_url: str, registry: Registry, clock: FakeClock,
    client: ClientFactory,
) -> None:
    settings = hub_settings.replace(state_url=state_url)
    hub = HubService(settings, registry=registry, clock=clock)
    await hub.start()
    try:
        gm, cjib = await client("gm0193"), await client("cjib")
        got = await collect(cjib, "timeout.request")
        await wait_until(lambda: hub.ready, 10, "ready")
        samples: list[bool] = []
        count = 1500

        async def watch() -> None:
            while len(got) < count:
                samples.append(hub.ready)
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        for start in range(0, count, 100):
            await asyncio.gather(*(gm.send(gm.message(
                type="timeout.request", recipient="cjib", case_id=f"LOAD-{i}",
                body=timeout_request_body("cjib"))) for i in range(start, start + 100)))
        # generous: on a saturated shared machine 1,500 messages took more than 3 minutes
        await wait_until(lambda: len(got) >= count, 600, "every message routed")
        await watcher
        red = samples.count(False)
        print(f"\n[{state_url.split(':')[0]}] {len(samples)} readiness samples under load, "
              f"{red} red")
        assert len(samples) > 50 and red == 0
    finally:
        await hub.stop()
