"""Join, suspend and leave while the hub and adapters run (issue 12), on the real broker."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from adapters.sdk import HubClient
from adapters.sdk.registry_watch import watch_registry
from hub.cli import main
from hub.config import Settings
from hub.contract import keys, names
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.registry import load_registry
from hub.service import HubService
from tests.conftest import MANAGEMENT_URL, SESSION, ClientFactory, FakeClock, amqp_url
from tests.helpers import collect, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]

NEW = "gm0014"


@pytest.fixture
def own_keys(keys_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(keys_dir, tmp_path / "keys"))


@pytest.fixture
def own_registry(registry_file: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(registry_file, tmp_path / "registry.yaml"))


@pytest.fixture
async def file_hub(hub_settings: Settings, own_keys: Path, own_registry: Path,
                   clock: FakeClock) -> AsyncIterator[HubService]:
    service = HubService(hub_settings.replace(keys_dir=own_keys, registry_path=own_registry,
                                              reload_seconds=0.2), clock=clock)
    await service.start()
    yield service
    await service.stop()


async def test_participant_added_suspended_and_removed_while_running(
    file_hub: HubService, client: ClientFactory, own_keys: Path, own_registry: Path,
    vhost: str, tmp_path: Path, clock: FakeClock,
) -> None:
    hub = file_hub
    cjib = await client("cjib")
    to_cjib = await collect(cjib, "timeout.request")
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_registry(
        cjib, keys_dir=own_keys, registry_path=own_registry, interval=0.2, stop=stop))
    user = f"gm0014-t{SESSION}-{uuid.uuid4().hex[:4]}"
    entry = {"id": NEW, "name": "Gemeente Groningen", "kind": "municipality",
             "cbs_code": "GM0014", "broker_user": user,
             "mandate": {"reference": "BA-GRONINGEN-2026-01", "agreed_on": "2026-02-01"},
             "contact": {"contact_point": "Maatwerkfunctionaris Groningen",
                         "email": "maatwerk@groningen.example", "phone": "+31 50 000 0014"},
             "sends": ["timeout.request", "receipt"],
             "receives": ["receipt", "timeout.response", "notice.refused", "notice.duplicate"]}
    entry_file = tmp_path / "gm0014.yaml"
    entry_file.write_text(yaml.safe_dump(entry))
    passwords = tmp_path / "passwords.json"
    keys.generate(own_keys, NEW)  # the participant's key (dev: generated centrally)
    started = time.monotonic()
    newcomer: HubClient | None = None
    try:
        assert await asyncio.to_thread(main, [
            "participant", "add", str(entry_file), "--registry", str(own_registry),
            "--management-url", MANAGEMENT_URL, "--vhost", vhost, "--passwords", str(passwords),
            "--amqp-url", amqp_url("guest", "guest", vhost)]) == 0
        await wait_for(lambda: NEW in hub.registry.participants, timeout=10)
        await wait_for(lambda: NEW in cjib.registry.participants, timeout=10)
        newcomer = HubClient(
            NEW, amqp_url=amqp_url(user, json.loads(passwords.read_text())[user], vhost),
            key=load_private_key(private_key_path(own_keys, NEW)),
            registry=load_registry(own_registry, own_keys),
            state_url=f"sqlite:///{tmp_path / 'sdk-new.sqlite3'}", clock=clock)
        await newcomer.connect()
        notices = await collect(newcomer, "notice.refused", "receipt")
        document = newcomer.message(type="timeout.request", recipient="cjib",
                                    case_id="ZW-GRONINGEN", body=timeout_request_body("cjib"))
        await newcomer.send(document)
        await wait_for(lambda: any(str(d.envelope.id) == document["id"] for d in to_cjib),
                       timeout=10)
        await wait_for(lambda: any(d.envelope.type == "receipt" for d in notices), timeout=10)
        joined = time.monotonic() - started
        assert joined < 10, f"joined and exchanged a message in {joined:.1f} s"

        assert await asyncio.to_thread(main, [
            "participant", "suspend", NEW, "--registry", str(own_registry)]) == 0
        await wait_for(lambda: hub.registry.participants[NEW].status == "suspended",
                       timeout=10)
        again = newcomer.message(type="timeout.request", recipient="cjib",
                                 case_id="ZW-GRONINGEN-TWEE", body=timeout_request_body("cjib"))
        await newcomer.send(again)
        await wait_for(lambda: any(
            d.envelope.type == "notice.refused"
            and str(d.envelope.body.refused_message_id) == again["id"] for d in notices),
            timeout=10)
        refused = next(d for d in notices if d.envelope.type == "notice.refused")
        assert refused.envelope.body.reason_code == "participant_suspended"
        assert not any(str(d.envelope.id) == again["id"] for d in to_cjib)
        await newcomer.close()
        newcomer = None

        assert await asyncio.to_thread(main, [
            "participant", "remove", NEW, "--registry", str(own_registry),
            "--management-url", MANAGEMENT_URL]) == 0
        await wait_for(lambda: NEW not in hub.registry.participants, timeout=10)
        async with httpx.AsyncClient() as http:  # the broker user is gone, the inbox is kept
            base = MANAGEMENT_URL.replace("guest:guest@", "")
            user_resp = await http.get(f"{base}/api/users/{user}", auth=("guest", "guest"))
            queue_resp = await http.get(
                f"{base}/api/queues/{vhost}/{names.inbox(NEW)}", auth=("guest", "guest"))
        assert user_resp.status_code == 404
        assert queue_resp.status_code == 200
    finally:
        if newcomer is not None:
            await newcomer.close()
        stop.set()
        await watcher
        async with httpx.AsyncClient() as http:
            await http.delete(f"{MANAGEMENT_URL.replace('guest:guest@', '')}/api/users/{user}",
                              auth=("guest", "guest"))
