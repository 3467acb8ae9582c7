"""Adapters survive a SIGKILL of their own process: nothing is lost and
the back office is called once per message (within the window documented in
docs/adapters/README.md, "Idempotency")."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.contract.registry import Registry
from hub.service import HubService
from sandbox import Child, adapter_command, child_env, spawn
from tests.conftest import ClientFactory, amqp_url
from tests.helpers import timeout_request_body, wait_for
from tests.integration.test_adapters import received, start_municipality
from tests.support.fake_backoffice import FakeBackOffice

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PREFETCH = 4


def start_adapter(name: str, env: dict[str, str], log: Path) -> Child:
    return spawn(name, adapter_command("run", name), child_env(**env), log)


@pytest.mark.timeout(60)
async def test_adapter_sigkilled_mid_stream_loses_nothing(
    hub: HubService, client: ClientFactory, registry: Registry, registry_file: Path,
    keys_dir: Path, passwords: dict[str, str], vhost: str, tmp_path: Path
) -> None:
    user = registry.get("cjib").broker_user  # type: ignore[union-attr]
    fake = await FakeBackOffice("cjib", token="s3cret", delay=0.03).start()
    env = {"MAATWERK_REGISTRY": str(registry_file), "MAATWERK_KEYS_DIR": str(keys_dir),
           "AMQP_URL": amqp_url(user, passwords[user], vhost),
           "MAATWERK_ADAPTER_STATE": str(tmp_path / "cjib-state"), "BACKOFFICE_URL": fake.url,
           "BACKOFFICE_TOKEN": "s3cret", "BACKOFFICE_RETRIES": "2", "BACKOFFICE_BACKOFF": "0.05",
           "MAATWERK_ADAPTER_PREFETCH": str(PREFETCH), "MAATWERK_LOG_LEVEL": "WARNING"}
    log = tmp_path / "adapter.log"
    gm = await start_municipality(client, tmp_path)
    count = 80
    sent = [str(await gm.request_timeout("cjib", f"ZW-{i}", timeout_request_body("cjib")))
            for i in range(count)]
    process = start_adapter("cjib", env, log)
    try:
        await wait_for(lambda: len(fake.calls) >= 25, timeout=20)
        process.kill()  # SIGKILL
        killed_at = len(fake.calls)
        process = start_adapter("cjib", env, log)

        def answered() -> int:
            return sum(len(received(gm, f"ZW-{i}", "timeout.response")) for i in range(count))

        await wait_for(lambda: answered() == count, timeout=30)
        assert await process.stop(grace=10) == 0, log.read_text()[-2000:]  # SIGTERM: graceful
    finally:
        process.kill()
        await fake.stop()

    assert sorted(fake.calls) == sorted(sent), "every message reached the back office"
    assert all(n == 1 for n in fake.effects.values()), "and had its effect once"
    repeated = {k: n for k, n in fake.calls.items() if n > 1}
    print(f"\nkilled after {killed_at} calls; {len(repeated)} calls in flight at the kill "
          f"were repeated (same Idempotency-Key)")
    assert len(repeated) <= PREFETCH, "only calls in flight at the kill can repeat"
    for i in range(count):  # one answer per request, never two
        assert len(received(gm, f"ZW-{i}", "timeout.response")) == 1
