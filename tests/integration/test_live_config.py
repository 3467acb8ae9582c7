"""Reload without restart (issue 12): policy and registry changes reach running replicas, a broken
file keeps the version in force, and replicas on one shared state decide under one version."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.config import Settings
from hub.contract.registry import Registry
from hub.service import HubService
from hub.state import config_versions as cv
from tests.conftest import ClientFactory, FakeClock, fresh_pg_database
from tests.helpers import collect, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]


LETTERS = str.maketrans("0123456789", "ghijklmnop")  # no digit runs: a case id is no BSN


def write_policy(path: Path, version: str) -> None:
    text = resources.files("hub.contract.defaults").joinpath("policy.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    raw["version"] = version
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


async def send_timeout_request(client: ClientFactory | Any, gm: Any) -> str:
    document = gm.message(type="timeout.request", recipient="cjib",
                          case_id="ZW-" + uuid.uuid4().hex[:8].translate(LETTERS),
                          body=timeout_request_body("cjib"))
    await gm.send(document)
    return str(document["id"])


async def decided(hub: HubService, message_id: str) -> dict[str, Any]:
    assert hub._db is not None
    for _ in range(1500):  # 30 s: generous, the machine is shared
        row = await hub._db.fetchone(
            "SELECT status, reason, policy_version, config_generation, registry_version, "
            "agreements_version FROM messages WHERE id = $1", message_id)
        if row is not None and row["status"] != "processing":
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"{message_id} was not decided in time")


@pytest.fixture
async def live_hub(hub_settings: Settings, registry: Registry, clock: FakeClock,
                   state_url: str, tmp_path: Path) -> AsyncIterator[HubService]:
    policy = tmp_path / "policy.yaml"
    write_policy(policy, "live-1")
    settings = hub_settings.replace(policy_path=policy, state_url=state_url, reload_seconds=0.2)
    service = HubService(settings, registry=registry, clock=clock)
    await service.start()
    yield service
    await service.stop()


async def test_policy_change_is_picked_up_and_a_broken_file_keeps_the_old(
    live_hub: HubService, client: ClientFactory
) -> None:
    hub = live_hub
    gm, cjib = await client("gm0193"), await client("cjib")
    await collect(cjib)
    first = await decided(hub, await send_timeout_request(client, gm))
    assert first["status"] in ("routed", "delivered") and first["policy_version"] == "live-1"
    assert first["config_generation"] == 1
    assert first["registry_version"] == hub.registry.version
    assert first["agreements_version"] == hub.agreements.version

    assert hub.settings.policy_path is not None
    write_policy(hub.settings.policy_path, "live-2")
    await wait_for(lambda: hub.policy.version == "live-2", timeout=20)
    second = await decided(hub, await send_timeout_request(client, gm))
    assert second["status"] in ("routed", "delivered") and second["policy_version"] == "live-2"
    assert second["config_generation"] == 2
    assert hub._db is not None
    committed = await cv.get(hub._db, 2)
    assert committed is not None and committed.policy_version == "live-2"

    hub.settings.policy_path.write_text("version: live-3\nrules: [{id: broken}]\n")
    reloader = hub.reloader
    assert reloader is not None
    await wait_for(lambda: reloader.error is not None, timeout=20)
    details = hub.readiness_details()
    assert details["degraded"] == ["config"]
    config = details["config"]
    assert isinstance(config, dict) and "rules[0]" in str(config["reload_error"])
    assert config["policy"] == "live-2" and config["generation"] == 2
    exposition = hub.metrics.exposition().decode()
    assert "maatwerk_config_reload_failures_total 1.0" in exposition
    assert 'maatwerk_config_version_info{kind="policy",version="live-2"} 1.0' in exposition
    third = await decided(hub, await send_timeout_request(client, gm))
    assert third["status"] in ("routed", "delivered") and third["policy_version"] == "live-2"

    write_policy(hub.settings.policy_path, "live-4")  # fixed: degraded clears
    await wait_for(lambda: hub.policy.version == "live-4", timeout=20)
    assert reloader.error is None and hub.readiness_details()["degraded"] == []


async def test_reload_command_reaches_every_replica_through_the_shared_state(
    live_hub: HubService,
) -> None:
    hub = live_hub
    reloader = hub.reloader
    assert reloader is not None and hub._db is not None
    before = await cv.last_request(hub._db)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "reload", stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "MAATWERK_STATE_URL": hub.settings.state_url})
    out, _ = await process.communicate()
    assert process.returncode == 0, out
    assert b"in force: generation 1" in out
    assert await cv.last_request(hub._db) == before + 1  # type: ignore[arg-type]
    await wait_for(lambda: reloader._request == before + 1, timeout=20)


async def test_two_replicas_decide_under_the_committed_version(
    hub_settings: Settings, registry: Registry, clock: FakeClock, client: ClientFactory,
    tmp_path: Path,
) -> None:
    """Replica B never sees its own file change; once A committed, B decides under A's version."""
    async with fresh_pg_database() as url:
        policy_a, policy_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
        write_policy(policy_a, "shared-1")
        write_policy(policy_b, "shared-1")
        a = HubService(hub_settings.replace(policy_path=policy_a, state_url=url,
                                            reload_seconds=0.2), registry=registry, clock=clock)
        b = HubService(hub_settings.replace(policy_path=policy_b, state_url=url,
                                            reload_seconds=3600), registry=registry, clock=clock)
        await a.start()
        await b.start()
        try:
            gm, cjib = await client("gm0193"), await client("cjib")
            await collect(cjib)
            write_policy(policy_a, "shared-2")
            await wait_for(lambda: a.policy.version == "shared-2", timeout=20)
            ids = [await send_timeout_request(client, gm) for _ in range(30)]
            rows = [await decided(a, i) for i in ids]
            assert {(r["policy_version"], r["config_generation"]) for r in rows} == {
                ("shared-2", 2)}
            assert {r["status"] for r in rows} <= {"routed", "delivered"}
            assert b.metrics.received._value.get() > 0  # B decided some of them
            assert a.metrics.received._value.get() > 0
            assert b.policy.version == "shared-2"  # adopted from the shared state, not its file
        finally:
            await b.stop()
            await a.stop()
