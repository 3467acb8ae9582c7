"""The benchmarks' inbox counter: only the ids a run waits for count as arrivals.

A long ``bench.memory`` run passes the 15-minute receipt deadline (its inboxes send no
receipts), and the hub's reminders then arrive in the same inboxes. Counted as arrivals, they
ended a chunk early and made routed messages look missing (two runs stopped at 425,000 and
345,000 messages with "chunk incomplete" while the hub still had them queued)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from bench.load import Inboxes


@dataclass
class FakeDelivery:
    message_id: str | None
    acked: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.acked.append(self.message_id or "")


def test_a_reminder_is_acknowledged_and_counted_apart_not_as_an_arrival() -> None:
    async def scenario() -> tuple[Inboxes, list[FakeDelivery]]:
        inboxes = Inboxes(cast(Any, None))
        inboxes.expect(["a", "b"])
        deliveries = [FakeDelivery("reminder-1"), FakeDelivery("a"), FakeDelivery(None)]
        for delivery in deliveries:
            await inboxes._on_message(cast(Any, delivery))
        assert not inboxes.done.is_set(), "two messages came, but only one of those awaited"
        last = FakeDelivery("b")
        await inboxes._on_message(cast(Any, last))
        return inboxes, [*deliveries, last]

    inboxes, deliveries = asyncio.run(scenario())
    assert inboxes.done.is_set()
    assert set(inboxes.arrived) == {"a", "b"}
    assert inboxes.others == 2
    assert all(d.acked for d in deliveries), "everything in the inboxes is acknowledged"
