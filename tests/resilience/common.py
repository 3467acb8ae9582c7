"""Shared pieces of the resilience tests: a tally per message id at the recipient's handler,
batched sending with confirms (and retries across an outage), and a hub in its own process."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.sdk import Delivery, HubClient
from sandbox import Child
from tests.helpers import timeout_request_body

COUNT = 5000
BATCH = 100
REQUEST = "timeout.request"


@dataclass
class Tally:
    """Message ids sent, and how often the recipient's handler ran for each."""

    sent: list[str] = field(default_factory=list)
    handled: Counter[str] = field(default_factory=Counter)
    publish_failures: int = 0

    def handler(self, *types: str) -> Callable[[Delivery], Awaitable[None]]:
        """A handler that counts the ids of ``types`` (every recipient also gets hub notices)."""
        wanted = types or (REQUEST,)

        async def count(delivery: Delivery) -> None:
            if delivery.envelope.type in wanted:
                self.handled[str(delivery.envelope.id)] += 1

        return count

    @property
    def distinct(self) -> int:
        return len(self.handled)

    def reached(self, count: int) -> Callable[[], bool]:
        return lambda: self.distinct >= count

    def lost(self) -> list[str]:
        return [i for i in self.sent if i not in self.handled]

    def handled_twice(self) -> dict[str, int]:
        return {i: n for i, n in self.handled.items() if n > 1}

    def strangers(self) -> list[str]:
        """Ids handled that were never sent (must be none)."""
        sent = set(self.sent)
        return [i for i in self.handled if i not in sent]

    def check(self, scenario: str, clients: Sequence[HubClient], started: float,
              **extra: object) -> None:
        """Print the numbers of ``scenario``, then assert 0 lost and 0 handled twice."""
        lost, twice, strangers = self.lost(), self.handled_twice(), self.strangers()
        dropped = sum(c.dropped_redeliveries for c in clients)
        details = "".join(f", {k.replace('_', ' ')} {v}" for k, v in extra.items())
        print(f"\n[{scenario}] sent {len(self.sent)}, handled {self.distinct} distinct ids; "
              f"lost {len(lost)}, handled twice {len(twice)}, redeliveries dropped by the SDK "
              f"{dropped}, failed publishes retried {self.publish_failures}{details}; "
              f"{time.monotonic() - started:.1f} s")
        assert len(set(self.sent)) == len(self.sent), "the test sent each id once"
        assert not lost, f"{len(lost)} messages lost, e.g. {lost[:5]}"
        assert not twice, f"{len(twice)} messages handled twice, e.g. {list(twice.items())[:5]}"
        assert not strangers, f"handled ids that were never sent: {strangers[:5]}"


def case_prefix(text: str) -> str:
    """A case-id prefix from a scenario's name: only what a case id may hold (letters, digits,
    ``.``, ``_``, ``-``); a name like "hub's node" would make every message a schema violation."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "CASE"


def requests(gm: HubClient, agencies: Sequence[str], count: int, prefix: str) -> list[
    dict[str, Any]
]:
    """``count`` valid time-out requests, round robin over ``agencies``, one case each (an agency
    refuses a second open time-out in the same case)."""
    documents = []
    prefix = case_prefix(prefix)
    for i in range(count):
        agency = agencies[i % len(agencies)]
        documents.append(gm.message(type=REQUEST, recipient=agency, case_id=f"{prefix}-{i}",
                                    body=timeout_request_body(agency)))
    return documents


async def send_batches(gm: HubClient, documents: Sequence[dict[str, Any]], tally: Tally,
                       batch: int = BATCH) -> None:
    """Sign and publish, ``batch`` confirms in flight at a time (no outage expected)."""
    for start in range(0, len(documents), batch):
        chunk = documents[start:start + batch]
        await asyncio.gather(*(gm.send(d) for d in chunk))
        tally.sent.extend(d["id"] for d in chunk)


async def send_surviving(gm: HubClient, documents: Sequence[dict[str, Any]], tally: Tally,
                         budget: float = 150.0, batch: int = BATCH) -> None:
    """Like :func:`send_batches`, riding through a broker outage: the SDK's ``send`` publishes
    the same signed bytes until confirmed (``publish_patience``, here ``budget`` s)."""
    gm.publish_patience = budget
    before = gm.publish_retries
    for start in range(0, len(documents), batch):
        chunk = documents[start:start + batch]
        await asyncio.gather(*(gm.send(d) for d in chunk))
        tally.sent.extend(d["id"] for d in chunk)
    tally.publish_failures += gm.publish_retries - before


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


# -- the hub in its own process ------------------------------------------------------------------

def kill(process: Child) -> None:
    """SIGKILL (no graceful stop) and reap."""
    process.kill()


async def stop_gracefully(process: Child) -> int:
    """SIGTERM; the exit code (a SIGKILL after 20 s shows as -9)."""
    return await process.stop(grace=20)


def unique(values: Iterable[str]) -> int:
    return len(set(values))
