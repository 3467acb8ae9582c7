"""The hub is SIGKILLed mid-stream and restarted: nothing is lost, nothing is handled twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.sdk import Delivery
from hub.config import Settings
from tests.conftest import ClientFactory
from tests.helpers import inboxes, start_hub, timeout_request_body, wait_for, wait_for_queues

pytestmark = [pytest.mark.broker, pytest.mark.slow]

COUNT = 2000


async def test_sigkill_mid_stream_loses_nothing(
    hub_settings: Settings, client: ClientFactory, registry_file: Path, tmp_path: Path
) -> None:
    log = tmp_path / "hub.log"
    process = start_hub(hub_settings, registry_file, log)
    try:
        await wait_for_queues(hub_settings.amqp_url, inboxes("cjib", "gm0193"))
        gm, cjib = await client("gm0193"), await client("cjib")
        handled: list[str] = []

        async def handler(delivery: Delivery) -> None:
            # CJIB also gets the hub's notices (a receipt re-sent across the kill is answered
            # as a duplicate); count the requests.
            if delivery.envelope.type == "timeout.request":
                handled.append(str(delivery.envelope.id))

        await cjib.consume(handler)
        sent: list[str] = []
        for batch in range(COUNT // 100):
            documents = [gm.message(type="timeout.request", recipient="cjib",
                                    case_id=f"ZW-{batch}-{i}", body=timeout_request_body("cjib"))
                         for i in range(100)]
            await asyncio.gather(*(gm.send(d) for d in documents))
            sent.extend(d["id"] for d in documents)

        await wait_for(lambda: len(handled) >= 300, timeout=60)
        process.kill()  # SIGKILL
        killed_at = len(handled)
        process = start_hub(hub_settings, registry_file, log)
        await wait_for(lambda: len(set(handled)) >= COUNT, timeout=120)
        await asyncio.sleep(1.0)  # let any straggling redelivery arrive
    finally:
        process.kill()

    assert sorted(handled) == sorted(sent), "every message handled exactly once by the SDK"
    notices = cjib.handled_count - COUNT
    copies = COUNT + cjib.dropped_redeliveries
    print(f"\nkilled after {killed_at} handled; {COUNT} sent, {copies} copies reached the inbox, "
          f"{cjib.dropped_redeliveries} dropped by the SDK as already handled, {notices} hub "
          f"notices")
    assert copies - COUNT <= hub_settings.prefetch, "only in-flight messages can be doubled"
