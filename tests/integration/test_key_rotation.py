"""Key rotation with overlap and revocation while everything runs (issue 12), on the real broker."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.sdk.registry_watch import watch_registry
from hub.config import Settings
from hub.contract import keys, names
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.notary import Notary
from hub.contract.registry import Registry
from hub.service import HubService
from tests.conftest import ClientFactory, FakeClock, amqp_url
from tests.helpers import collect, wait_for
from tests.integration.test_live_config import decided, send_timeout_request

pytestmark = [pytest.mark.broker]


@pytest.fixture
def own_keys(keys_dir: Path, tmp_path: Path) -> Path:
    """A copy of the session's keys: this test rotates and revokes in it."""
    return Path(shutil.copytree(keys_dir, tmp_path / "keys"))


@pytest.fixture
async def rotating_hub(hub_settings: Settings, registry: Registry, clock: FakeClock,
                       own_keys: Path) -> AsyncIterator[HubService]:
    service = HubService(hub_settings.replace(keys_dir=own_keys, reload_seconds=0.2),
                         registry=registry, clock=clock)
    await service.start()
    yield service
    await service.stop()


async def test_rotation_while_messages_flow_then_revocation(
    rotating_hub: HubService, client: ClientFactory, own_keys: Path, clock: FakeClock
) -> None:
    hub = rotating_hub
    gm, cjib = await client("gm0193"), await client("cjib")
    await collect(cjib)
    refusals = await collect(gm, "notice.refused")
    old_key = load_private_key(private_key_path(own_keys, "gm0193"))
    old_kid = gm.participant.keys[0].kid
    sent: list[str] = []
    stop = asyncio.Event()

    async def flow() -> None:
        while not stop.is_set():
            sent.append(await send_timeout_request(client, gm))
            await asyncio.sleep(0.05)

    task = asyncio.create_task(flow())
    await wait_for(lambda: len(sent) >= 5, timeout=30)
    entry = keys.rotate(own_keys, "gm0193", not_before=clock())
    await wait_for(lambda: any(k.kid == entry.kid for k in
                               hub.registry.participants["gm0193"].keys), timeout=20)
    gm.use_key(load_private_key(private_key_path(own_keys, "gm0193", entry.kid)))
    mark = len(sent)
    await wait_for(lambda: len(sent) >= mark + 5, timeout=30)
    gm.use_key(old_key)  # a signer that has not switched yet: still inside the overlap
    mark = len(sent)
    await wait_for(lambda: len(sent) >= mark + 5, timeout=30)
    stop.set()
    await task
    rows = [await decided(hub, i) for i in sent]
    assert {r["status"] for r in rows} <= {"routed", "delivered"}, rows
    assert refusals == []
    assert "maatwerk_messages_refused_total{" not in hub.metrics.exposition().decode()

    keys.revoke(own_keys, "gm0193", old_kid, now=clock())
    started = time.monotonic()
    refused_id = None
    while refused_id is None and time.monotonic() - started < 10:
        message_id = await send_timeout_request(client, gm)  # still signed under the old key
        for _ in range(25):
            hit = [r for r in refusals if str(r.envelope.body.refused_message_id) == message_id]
            if hit:
                assert hit[0].envelope.body.reason_code == "key_revoked"
                refused_id = message_id
                break
            await asyncio.sleep(0.02)
    assert refused_id is not None, "a message under the revoked key was not refused within 10 s"


async def _publish_to_inbox(url: str, recipient: str, raw: bytes, message_id: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(names.DELIVER_EXCHANGE)
        await exchange.publish(aio_pika.Message(raw, message_id=message_id),
                               routing_key=recipient)


def _notice(registry: Registry, key: Ed25519PrivateKey, now: Any) -> tuple[str, bytes]:
    envelope, raw = Notary(registry, key).sign(
        type="notice.refused", recipient="cjib", now=now,
        body={"refused_message_id": None, "reason_code": "unknown_key", "detail": "test",
              "field_paths": []})
    return str(envelope.id), raw


async def test_hub_key_rotation_sdk_accepts_both_and_refuses_a_revoked_hub_key(
    rotating_hub: HubService, client: ClientFactory, own_keys: Path, clock: FakeClock,
    registry: Registry, vhost: str,
) -> None:
    hub = rotating_hub
    cjib = await client("cjib")
    got = await collect(cjib, "notice.refused")
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_registry(cjib, keys_dir=own_keys, registry_path=None,
                                                 base=registry, interval=0.2, stop=stop))
    try:
        old_key = load_private_key(private_key_path(own_keys, "hub"))
        old_kid = hub.notary.kid
        entry = keys.rotate(own_keys, "hub", not_before=clock())
        new_key = load_private_key(private_key_path(own_keys, "hub", entry.kid))
        await wait_for(lambda: hub.notary.kid == entry.kid, timeout=20)  # the hub signs anew
        await wait_for(lambda: any(k.kid == entry.kid for k in
                                   cjib.registry.participants["hub"].keys), timeout=20)
        guest = amqp_url("guest", "guest", vhost)
        for key in (old_key, new_key):  # the overlap: notices under both keys are accepted
            message_id, raw = _notice(hub.registry, key, clock())
            await _publish_to_inbox(guest, "cjib", raw, message_id)
        await wait_for(lambda: len(got) == 2, timeout=20)
        assert {d.envelope.signature.kid for d in got} == {old_kid, entry.kid}

        keys.revoke(own_keys, "hub", old_kid, now=clock())
        await wait_for(lambda: any(k.kid == old_kid and k.revoked_at is not None
                                   for k in cjib.registry.participants["hub"].keys), timeout=20)
        message_id, raw = _notice(hub.registry, old_key, clock())
        await _publish_to_inbox(guest, "cjib", raw, message_id)
        await wait_for(lambda: cjib.refused_inbox == 1, timeout=20)
        assert len(got) == 2  # the notice under the revoked hub key never reached the handler
    finally:
        stop.set()
        await watcher
