"""Operator surfaces against the real broker: topology apply, HTTP endpoints, the status command."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from hub.cli import main
from hub.config import Settings
from hub.contract.registry import Registry
from hub.service import HubService
from sandbox import free_port
from tests.conftest import MANAGEMENT_URL, ClientFactory
from tests.helpers import collect, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]


def test_topology_apply_with_users_is_idempotent(
    hub_settings: Settings, registry_file: Path, vhost: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AMQP_URL", hub_settings.amqp_url)
    monkeypatch.setenv("MAATWERK_REGISTRY", str(registry_file))
    monkeypatch.setenv("MAATWERK_KEYS_DIR", str(hub_settings.keys_dir))
    args = ["topology", "apply", "--users", "--vhost", vhost, "--management-url", MANAGEMENT_URL,
            "--passwords", str(tmp_path / "passwords.json")]
    assert main(args) == 0
    first = (tmp_path / "passwords.json").read_text()
    assert main(args) == 0  # again: same queues, same users, same passwords
    assert (tmp_path / "passwords.json").read_text() == first
    out = capsys.readouterr().out
    assert out.count("topology declared") == 2 and "cjib" in out
    queues = httpx.get(f"{MANAGEMENT_URL}/api/queues/{vhost}").json()
    names = {q["name"]: q["arguments"].get("x-queue-type") for q in queues}
    assert names["maatwerk.inbox.cjib"] == "quorum" and "maatwerk.dead-letter" in names


async def test_http_endpoints_of_a_running_hub(
    hub_settings: Settings, registry: Registry, client: ClientFactory
) -> None:
    port = free_port()
    service = HubService(hub_settings.replace(http_port=port), registry=registry)
    await service.start()
    try:
        gm, cjib = await client("gm0193"), await client("cjib")
        inbox = await collect(cjib)
        await gm.send(gm.message(type="timeout.request", recipient="cjib", case_id="ZW-H1",
                                 body=timeout_request_body("cjib")))
        await wait_for(lambda: len(inbox) == 1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and all(ready.json()["checks"].values())
            metrics = (await http.get("/metrics")).text
            assert 'maatwerk_messages_routed_total{recipient="cjib",type="timeout.request"}' \
                in metrics
            case = (await http.get("/cases/ZW-H1")).json()
            assert case["messages"][0]["type"] == "timeout.request"
            assert "123456782" not in (await http.get("/cases/ZW-H1")).text
    finally:
        await service.stop()


async def test_status_command_reads_the_state(
    hub: HubService, hub_settings: Settings, client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    inbox = await collect(cjib)
    await gm.send(gm.message(type="timeout.request", recipient="cjib", case_id="ZW-S1",
                             body=timeout_request_body("cjib")))
    await wait_for(lambda: len(inbox) == 1)
    monkeypatch.setenv("MAATWERK_STATE_URL", hub_settings.state_url)
    # the command runs its own event loop, as from a shell
    assert await asyncio.to_thread(main, ["status", "ZW-S1"]) == 0
    text = capsys.readouterr().out
    assert "timeout.request" in text and "gm0193 -> cjib" in text and "cjib" in text
    assert "123456782" not in text
    assert await asyncio.to_thread(main, ["status", "ZW-S1", "--json"]) == 0
    assert '"case_id": "ZW-S1"' in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["status", "NO-SUCH-CASE"]) == 1


async def test_readiness_is_deep_and_key_expiry_is_measured(
    hub: HubService, registry: Registry
) -> None:
    await hub.check_health()
    checks = hub.readiness()
    assert set(checks) >= {"broker", "topology", "state", "audit", "registry", "policy",
                           "signing"}
    assert all(checks.values()), checks
    exposition = hub.metrics.exposition().decode()
    cjib_kid = registry.participants["cjib"].keys[0].kid
    line = next(row for row in exposition.splitlines()
                if row.startswith("maatwerk_key_expiry_days") and cjib_kid in row)
    assert 360 < float(line.rsplit(" ", 1)[1]) <= 365  # dev keys: one year
    # a state store that refuses writes turns readiness red at the next check
    await hub.ledger.db.execute("DROP TABLE hub_health")
    await hub.check_health()
    assert hub.readiness()["state"] is False and not hub.ready
