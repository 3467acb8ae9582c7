"""A reference adapter (the loket, run as ``maatwerk-adapter run loket`` runs it) configured with
the registry authority key: it asks for the trust document at start, accepts the hub's
``trust.update`` broadcasts, refuses an older or tampered document, keeps the last good one on
disk and follows a published file (issue 12). Real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from pathlib import Path

import pytest

from adapters.runner import run
from adapters.sdk.config import AdapterSettings
from hub.cli import main
from hub.config import Settings
from hub.contract import trust
from hub.contract.keys import public_keys_path, read_public_entries
from hub.contract.registry import Registry
from hub.contract.signing import b64url
from hub.service import HubService
from sandbox import Participants
from tests.conftest import FakeClock, amqp_url
from tests.helpers import wait_for

pytestmark = [pytest.mark.broker]


def _serial(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_bytes())["serial"])
    except (OSError, ValueError, KeyError):
        return None


async def test_reference_adapter_follows_the_trust_document(
    keys_dir: Path, tmp_path: Path, registry_file: Path, registry: Registry,
    hub_settings: Settings, participants: Participants, vhost: str, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    own = Path(shutil.copytree(keys_dir, tmp_path / "keys"))
    trust_file = tmp_path / "published" / "trust.json"
    for name, value in (("MAATWERK_KEYS_DIR", own), ("MAATWERK_REGISTRY", registry_file),
                        ("MAATWERK_TRUST_FILE", trust_file)):
        monkeypatch.setenv(name, str(value))
    assert main(["trust", "authority"]) == 0
    assert main(["trust", "sign"]) == 0  # serial 1, before anyone runs
    first = trust_file.read_bytes()
    authority = read_public_entries(public_keys_path(own, trust.AUTHORITY))[0].raw
    hub = HubService(hub_settings.replace(keys_dir=own, trust_file=trust_file,
                                          reload_seconds=0.2), registry=registry, clock=clock)
    await hub.start()
    shared = tmp_path / "shared" / "trust.json"  # a file the adapter follows (a shared volume)
    settings = AdapterSettings.from_env({
        "MAATWERK_PARTICIPANT": "loket",
        "AMQP_URL": amqp_url(participants.user("loket"), participants.password("loket"), vhost),
        "MAATWERK_KEYS_DIR": str(own), "MAATWERK_REGISTRY": str(registry_file),
        "MAATWERK_ADAPTER_STATE": str(tmp_path / "loket"),
        "MAATWERK_TRUST_AUTHORITY": b64url(authority), "MAATWERK_TRUST_FILE": str(shared),
        "MAATWERK_TRUST_SECONDS": "0.2"})
    stored = settings.trust_store
    stop = asyncio.Event()
    adapter = asyncio.create_task(run("loket", settings, stop))
    try:
        # at start: a trust.query, answered with serial 1
        await wait_for(lambda: _serial(stored) == 1, timeout=10)
        assert await asyncio.to_thread(main, ["trust", "sign"]) == 0  # broadcast
        await wait_for(lambda: _serial(stored) == 2, timeout=10)
        current = trust_file.read_bytes()
        assert stored.read_bytes() == json.dumps(json.loads(current), ensure_ascii=False).encode()

        # the hub's key signs the message, but the document inside is older or tampered
        tampered = json.loads(current)
        tampered["serial"] = 7
        with caplog.at_level(logging.ERROR, logger="maatwerk.sdk.trust"):
            for document in (json.loads(first), tampered):
                envelope, raw = hub.notary.sign(
                    type="trust.update", recipient="loket", now=clock(),
                    body={"serial": document["serial"], "document": document})
                await hub.router.publish_signed(envelope, raw)
            await wait_for(lambda: len([r for r in caplog.records
                                        if "trust.update refused" in r.getMessage()]) == 2)
        messages = [r.getMessage() for r in caplog.records]
        assert any("older" in m for m in messages) and any("signature" in m for m in messages)
        assert _serial(stored) == 2  # the last good one stays

        # the hub goes; a newer serial published as a file (shared volume) is still followed
        await hub.stop()
        assert main(["trust", "sign"]) == 0  # serial 3
        shared.parent.mkdir(parents=True)
        shutil.copy(trust_file, shared)
        await wait_for(lambda: _serial(stored) == 3, timeout=10)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(adapter, 15)
        await hub.stop()
