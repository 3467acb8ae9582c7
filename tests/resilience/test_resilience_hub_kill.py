"""Issue 7 (b): the hub process is SIGKILLed twice while 5,000 messages stream through it and is
restarted on the same state each time. Counted by id at the recipients' handlers: nothing lost,
nothing handled twice; the copies the hub sent again are dropped by the SDK."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hub.config import Settings
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

AGENCIES = ("cjib", "duo")


@pytest.mark.timeout(180)
async def test_hub_sigkilled_twice_mid_stream_loses_nothing(
    hub_settings: Settings, clients: Clients, registry_file: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    log = tmp_path / "hub.log"
    process = start_hub(hub_settings, registry_file, log)
    tally = Tally()
    kills: list[int] = []
    try:
        await wait_for_queues(hub_settings.amqp_url, inboxes(*AGENCIES, "gm0193"))
        gm = await clients.make("gm0193")
        recipients = [await clients.make(a) for a in AGENCIES]
        for recipient in recipients:
            await recipient.consume(tally.handler())
        documents = requests(gm, AGENCIES, COUNT, "KILL")
        sender = asyncio.create_task(send_batches(gm, documents, tally))
        for threshold in (COUNT // 4, COUNT // 2):
            await wait_until(tally.reached(threshold), 90, f"{threshold} handled")
            kill(process)
            kills.append(tally.distinct)
            process = start_hub(hub_settings, registry_file, log)
        await sender
        await wait_until(lambda: tally.distinct >= COUNT, 120, "every message handled")
        await asyncio.sleep(1.0)  # let any straggling copy arrive
        assert await stop_gracefully(process) == 0, log.read_text()[-3000:]
    finally:
        kill(process)

    tally.check("hub SIGKILL", recipients, started,
                killed_at=" and ".join(f"{k} handled" for k in kills))
    copies = sum(r.dropped_redeliveries for r in recipients)
    assert copies <= 2 * len(AGENCIES) * hub_settings.prefetch, (
        "only messages in flight at a kill can reach an inbox twice")
