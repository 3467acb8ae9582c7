"""Issue 7 (c): an agency adapter goes offline mid-stream (the SDK client is closed), stays away
while the rest of 5,000 messages are routed to its inbox, and comes back as a new SDK client with
the same state file. Counted by id at the handler: every message handled once. Copies of messages
it handled before going away (as the hub sends after a crash between confirm and record) are put
in the inbox while it is away: the new client drops every one of them, because the state file
remembers them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aio_pika
import pytest

from adapters.sdk import Delivery
from hub.config import Settings
from hub.contract import names
from tests.helpers import inboxes, start_hub, wait_for_queues
from tests.resilience.common import (
    COUNT,
    Tally,
    kill,
    requests,
    send_batches,
    stop_gracefully,
    wait_until,
)
from tests.resilience.conftest import Clients

pytestmark = [pytest.mark.broker, pytest.mark.slow]

COPIES = 50


async def inbox_depth(url: str, participant: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(names.inbox(participant), passive=True)
        return int(queue.declaration_result.message_count or 0)


async def put_copies(url: str, participant: str, raws: list[bytes]) -> None:
    """Publish copies into the inbox the way the hub delivers (as the broker admin)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        deliver = await channel.get_exchange(names.DELIVER_EXCHANGE)
        for raw in raws:
            await deliver.publish(aio_pika.Message(
                raw, content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=participant)


@pytest.mark.timeout(180)
async def test_adapter_offline_then_back_with_same_state_gets_everything_once(
    hub_settings: Settings, clients: Clients, registry_file: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    log = tmp_path / "hub.log"
    process = start_hub(hub_settings, registry_file, log)
    try:
        await wait_for_queues(hub_settings.amqp_url, inboxes("duo", "gm0193"))
        await scenario(hub_settings, clients, started)
        assert await stop_gracefully(process) == 0, log.read_text()[-3000:]
    finally:
        kill(process)


async def scenario(hub_settings: Settings, clients: Clients, started: float) -> None:
    tally = Tally()
    count = tally.handler()
    handled_raw: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        await count(delivery)
        if len(handled_raw) < COPIES and delivery.envelope.type == "timeout.request":
            handled_raw.append(delivery.raw)

    gm = await clients.make("gm0193")
    duo = await clients.make("duo", state="duo")
    await duo.consume(handler)
    documents = requests(gm, ["duo"], COUNT, "OFFLINE")
    sender = asyncio.create_task(send_batches(gm, documents, tally))

    await wait_until(lambda: tally.distinct >= COUNT // 5, 90, "a fifth handled")
    await clients.close(duo)  # offline: stops consuming, finishes what it holds
    handled_before = tally.distinct

    await sender
    # Away: the hub routes everything else to the inbox, where it waits.
    routed_while_away = COUNT - handled_before
    depth = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while (depth := await inbox_depth(hub_settings.amqp_url, "duo")) < routed_while_away:
        assert loop.time() < deadline, f"only {depth} of {routed_while_away} in the inbox"
        await asyncio.sleep(0.2)
    assert depth == routed_while_away
    assert tally.distinct == handled_before, "nothing is handled while the adapter is away"
    await put_copies(hub_settings.amqp_url, "duo", handled_raw)

    back = await clients.make("duo", state="duo")  # same state file: remembers what it handled
    await back.consume(handler)
    await wait_until(lambda: tally.distinct >= COUNT, 120, "every message handled")
    await wait_until(lambda: back.dropped_redeliveries >= len(handled_raw), 30,
                     "the copies dropped")
    await asyncio.sleep(1.0)  # let any straggling copy arrive
    assert await inbox_depth(hub_settings.amqp_url, "duo") == 0

    tally.check("adapter offline", [duo, back], started,
                handled_before_going_away=handled_before, waiting_in_the_inbox=depth,
                copies_of_handled_messages_put_in_the_inbox=len(handled_raw))
    assert back.dropped_redeliveries == len(handled_raw) == COPIES
