"""Issue 7 (a): RabbitMQ is restarted (``rabbitmqctl stop_app`` / ``start_app``) while 5,000
messages stream from a municipality through the hub to two agencies. Hub, publisher and recipients
all reconnect on their own; the publisher publishes with confirms and sends the same signed bytes
again when a publish failed (same id: the hub answers the copy as a duplicate). Counted by id at
the recipients' handlers: nothing lost, nothing handled twice."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hub.config import Settings
from hub.contract import names
from tests.helpers import start_hub, wait_for_queue
from tests.resilience.common import (
    COUNT,
    Tally,
    kill,
    rabbitmqctl,
    requests,
    send_surviving,
    stop_gracefully,
    wait_until,
)
from tests.resilience.conftest import Clients

pytestmark = [pytest.mark.broker, pytest.mark.slow]

AGENCIES = ("cjib", "uwv")


@pytest.mark.timeout(240)
async def test_broker_restarted_mid_stream_loses_nothing(
    hub_settings: Settings, clients: Clients, registry_file: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    log = tmp_path / "hub.log"
    process = start_hub(hub_settings, registry_file, log)
    tally = Tally()
    try:
        await wait_for_queue(hub_settings.amqp_url, names.inbox("uwv"))
        gm = await clients.make("gm0193")
        recipients = [await clients.make(a) for a in AGENCIES]
        for recipient in recipients:
            await recipient.consume(tally.handler())
        documents = requests(gm, AGENCIES, COUNT, "RESTART")
        sender = asyncio.create_task(send_surviving(gm, documents, tally))
        await wait_until(lambda: tally.distinct >= COUNT // 4, 90, "a quarter handled")
        handled_at_stop = tally.distinct
        try:
            await rabbitmqctl("stop_app")
            await asyncio.sleep(2.0)  # everybody's connections are down now
        finally:
            await rabbitmqctl("start_app")
        await sender
        await wait_until(lambda: tally.distinct >= COUNT, 150, "every message handled")
        await asyncio.sleep(1.0)  # let any straggling copy arrive
        assert await stop_gracefully(process) == 0, log.read_text()[-3000:]
    finally:
        kill(process)

    tally.check("broker restart", recipients, started, stopped_at=f"{handled_at_stop} handled")
