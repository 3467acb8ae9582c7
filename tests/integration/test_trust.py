"""The signed trust document (issue 12): signed by the registry authority, served at /trust,
verified and stored by the SDK, which keeps working on it while the hub is down."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from adapters.sdk.trust import TrustStore
from hub.cli import main
from hub.config import Settings
from hub.contract import trust
from hub.contract.keys import public_keys_path, read_public_entries
from hub.contract.registry import Registry
from hub.contract.signing import b64url
from hub.service import HubService
from sandbox import free_port
from tests.conftest import FakeClock

pytestmark = [pytest.mark.broker]


def _tampered(raw: bytes) -> bytes:
    data = json.loads(raw)
    data["participants"][0]["name"] = "Someone Else"
    return json.dumps(data).encode()


def test_sdk_refuses_tampered_older_and_foreign_documents_and_keeps_the_good_one(
    federation: tuple[Path, Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    own, trust_file, authority = federation
    assert main(["trust", "sign"]) == 0
    first = trust_file.read_bytes()
    assert main(["trust", "sign"]) == 0
    second = trust_file.read_bytes()
    assert json.loads(second)["serial"] == 2
    assert main(["trust", "verify", str(trust_file), "--authority", b64url(authority)]) == 0
    assert main(["trust", "verify", str(trust_file), "--authority", b64url(b"x" * 32)]) == 2
    assert "not the configured registry authority" in capsys.readouterr().err

    seen: list[Registry] = []
    stored = tmp_path / "adapter" / "trust.json"
    store = TrustStore.open(stored, authority, on_registry=seen.append)
    assert store.current is None
    assert store.accept(second)
    assert seen and seen[0].get("cjib") is not None
    with pytest.raises(trust.TrustError, match="signature"):
        store.accept(_tampered(second))
    with pytest.raises(trust.TrustError, match="older"):
        store.accept(first)
    hub_key = read_public_entries(public_keys_path(own, "hub"))[0].raw
    with pytest.raises(trust.TrustError, match="registry authority"):  # the hub's key is no
        TrustStore(stored, hub_key).accept(second)  # registry authority
    assert not store.accept(second)  # the one held already: nothing changes
    assert store.refused == 2 and store.current is not None and store.current.serial == 2
    assert stored.read_bytes() == second  # only the good one reached the disk

    restarted = TrustStore.open(stored, authority)  # a restart uses the stored document
    assert restarted.current is not None and restarted.current.serial == 2
    assert restarted.registry is not None and "gm0193" in restarted.registry.participants
    stored.write_bytes(_tampered(second))  # a tampered file on disk is not trusted either
    assert TrustStore.open(stored, authority).current is None


async def test_sdk_keeps_working_while_the_hub_is_down_and_is_current_after(
    federation: tuple[Path, Path, bytes], hub_settings: Settings, registry: Registry,
    clock: FakeClock, tmp_path: Path,
) -> None:
    own, trust_file, authority = federation
    assert main(["trust", "sign"]) == 0
    port = free_port()
    settings = hub_settings.replace(keys_dir=own, trust_file=trust_file, http_port=port)
    url = f"http://127.0.0.1:{port}/trust"
    store = TrustStore.open(tmp_path / "adapter-trust.json", authority)
    hub = HubService(settings, registry=registry, clock=clock)
    await hub.start()
    async with httpx.AsyncClient(timeout=5) as http:
        try:
            for _ in range(100):
                if await store.fetch(url, http):
                    break
                await asyncio.sleep(0.1)
            assert store.current is not None and store.current.serial == 1
        finally:
            await hub.stop()
        assert not await store.fetch(url, http)  # the hub is down
        assert store.fetch_failures >= 1
        assert store.current.serial == 1 and store.registry is not None  # still working
        assert main(["trust", "sign"]) == 0  # a change while the hub is down
        hub = HubService(settings, registry=registry, clock=clock)
        await hub.start()
        try:
            for _ in range(100):
                if await store.fetch(url, http):
                    break
                await asyncio.sleep(0.1)
            assert store.current.serial == 2  # current again
            assert TrustStore.open(store.path, authority).current.serial == 2  # type: ignore
        finally:
            await hub.stop()
