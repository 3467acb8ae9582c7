"""Replay: the bytes of a valid, routed message captured and published again.

- within its validity: not routed again; the sender gets ``notice.duplicate`` (the id is known);
- after the hub restarted on the same (durable) state: still caught;
- by another participant: refused (``user_id_mismatch``), the notice goes to the replayer;
- with a fresh id: the signature covers the id (``bad_signature``);
- after ``expires_at``: refused ``expired``, also after a restart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import aio_pika
import pytest

from hub.config import Settings
from hub.contract import names
from hub.contract.registry import Registry
from hub.service import HubService
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import collect, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]


class Inbox:
    """Reads a participant's inbox as the broker admin (not through the SDK, which would drop
    the second notice.duplicate: it has the same id as the first, by design)."""

    def __init__(self, url: str, participant: str) -> None:
        self.url, self.queue = url, names.inbox(participant)
        self.got: list[dict[str, Any]] = []

    async def take(self, type_name: str, expect: int, timeout: float = 20.0) -> list[
        dict[str, Any]
    ]:
        """Wait for ``expect`` more messages of ``type_name``; return them."""
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(self.queue, ensure=False)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            found: list[dict[str, Any]] = []
            while len(found) < expect:
                message = await queue.get(fail=False)
                if message is None:
                    assert loop.time() < deadline, f"only {len(found)} {type_name} in time"
                    await asyncio.sleep(0.05)
                    continue
                await message.ack()
                document = json.loads(message.body)
                self.got.append(document)
                if document["type"] == type_name:
                    found.append(document)
            return found

    async def quiet(self, type_name: str, seconds: float = 1.0) -> None:
        """Nothing more of ``type_name`` arrives within ``seconds``."""
        try:
            extra = await self.take(type_name, 1, timeout=seconds)
        except AssertionError:
            return
        raise AssertionError(f"unexpected {type_name}: {extra}")


@asynccontextmanager
async def restarted(hub: HubService, settings: Settings, registry: Registry,
                    clock: FakeClock) -> AsyncIterator[HubService]:
    """Stop the hub and start a new one on the same state (nothing kept in memory)."""
    await hub.stop()
    fresh = HubService(settings, registry=registry, clock=clock)
    await fresh.start()
    try:
        yield fresh
    finally:
        await fresh.stop()


def only(notices: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(notices) == 1, notices
    body: dict[str, Any] = notices[0]["body"]
    return body


async def test_replayed_messages_are_never_routed_twice(
    hub: HubService, hub_settings: Settings, registry: Registry, client: ClientFactory,
    clock: FakeClock,
) -> None:
    gm, other, cjib = await client("gm0193"), await client("gm0363"), await client("cjib")
    handled = await collect(cjib, "timeout.request")
    inbox = Inbox(hub_settings.amqp_url, "gm0193")
    thief = Inbox(hub_settings.amqp_url, "gm0363")
    document = gm.message(type="timeout.request", recipient="cjib", case_id="REPLAY-1",
                          body=timeout_request_body("cjib"))
    captured = gm.sign(document)  # the bytes on the wire, as an eavesdropper would keep them
    message_id = document["id"]
    await gm.publish_raw(captured, message_id=message_id)
    await wait_for(lambda: len(handled) == 1)

    # 1. Replayed within its validity: answered as a duplicate of a routed message.
    await gm.publish_raw(captured, message_id=message_id)
    body = only(await inbox.take("notice.duplicate", 1))
    assert (body["original_message_id"], body["original_outcome"]) == (message_id, "routed")

    # 2. Replayed by another participant: its broker user is not the sender's.
    await other.publish_raw(captured, message_id=message_id)
    body = only(await thief.take("notice.refused", 1))
    assert (body["refused_message_id"], body["reason_code"]) == (message_id, "user_id_mismatch")

    # 3. Replayed with a fresh id: the id is signed.
    forged = json.loads(captured)
    forged["id"] = str(uuid4())
    await gm.publish_raw(json.dumps(forged).encode())
    body = only(await inbox.take("notice.refused", 1))
    assert (body["refused_message_id"], body["reason_code"]) == (forged["id"], "bad_signature")

    async with restarted(hub, hub_settings, registry, clock):
        # 4. Replayed after a restart of the hub: the seen ids are durable.
        await gm.publish_raw(captured, message_id=message_id)
        body = only(await inbox.take("notice.duplicate", 1))
        assert (body["original_message_id"], body["original_outcome"]) == (message_id,
                                                                            "routed")
        # 5. Replayed after it expired (30 days): refused before the duplicate check.
        clock.advance(days=31)
        await gm.publish_raw(captured, message_id=message_id)
        body = only(await inbox.take("notice.refused", 1))
        assert (body["refused_message_id"], body["reason_code"]) == (message_id, "expired")

    async with restarted(hub, hub_settings, registry, clock):
        await gm.publish_raw(captured, message_id=message_id)  # expired, after another restart
        body = only(await inbox.take("notice.refused", 1))
        assert (body["refused_message_id"], body["reason_code"]) == (message_id, "expired")
        await asyncio.sleep(1.0)

    assert [str(d.envelope.id) for d in handled] == [message_id], "routed once, ever"
    assert cjib.dropped_redeliveries == 0, "no copy even reached CJIB's inbox"
    await inbox.quiet("notice.duplicate", 0.5)
    await thief.quiet("notice.duplicate", 0.5)


