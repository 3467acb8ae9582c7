"""The load: publishers with confirms as the municipalities, plain consumers of the recipients'
inboxes, one batch pushed through a path (hub or relay) and timed, and the flags every
load-driving benchmark shares."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterable
from pathlib import Path

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)

from bench.environment import BenchEnv
from bench.measure import CpuMeter, RunResult
from bench.messages import Prepared
from bench.topology import AGENCIES, MUNICIPALITIES, RECIPIENT_HEADER, RELAY_INBOUND, relay_inbox
from hub.contract import names

__all__ = ["Inboxes", "Publishers", "add_load_arguments", "run_path"]


class Publishers:
    """One connection per publisher, as the municipality (confirms on, like the SDK)."""

    def __init__(self, env: BenchEnv, count: int) -> None:
        self.env = env
        self.count = count
        self.connections: list[AbstractConnection] = []
        self.exchanges: list[dict[str, AbstractExchange]] = []

    async def __aenter__(self) -> Publishers:
        for p in range(self.count):
            connection = await aio_pika.connect(self.env.url_of(MUNICIPALITIES[p % 2]))
            channel = await connection.channel(publisher_confirms=True)
            self.connections.append(connection)
            self.exchanges.append({
                "hub": await channel.get_exchange(names.INBOUND_EXCHANGE, ensure=False),
                "relay": await channel.get_exchange(RELAY_INBOUND, ensure=False),
            })
        return self

    async def __aexit__(self, *exc: object) -> None:
        for connection in self.connections:
            await connection.close()

    async def run(self, path: str, lanes: list[list[Prepared]], sent: dict[str, float],
                  rate: float | None = None) -> None:
        """Publish every lane on its own connection; at ``rate`` msg/s overall when given."""
        start = time.perf_counter()
        publishers = len(lanes)

        async def lane(p: int) -> None:
            exchange = self.exchanges[p][path]
            for k, prepared in enumerate(lanes[p]):
                if rate:
                    due = start + (k * publishers + p) / rate
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                message = aio_pika.Message(
                    prepared.body, message_id=prepared.id, content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    user_id=self.env.registry.get(prepared.sender).broker_user,  # type: ignore[union-attr]
                    headers={RECIPIENT_HEADER: prepared.recipient},
                )
                sent[prepared.id] = time.perf_counter()
                await exchange.publish(message, routing_key=names.INBOUND_ROUTING_KEY)

        await asyncio.gather(*(lane(p) for p in range(publishers)))


class Inboxes:
    """Plain aio-pika consumers of the recipients' inboxes (no verification, no receipts), as
    guest; records the arrival time of every expected message id. Anything else in the inboxes
    (the hub's reminders to agencies that sent no receipt, once a long run passes the receipt
    deadline) is acknowledged and counted in ``others``, never mistaken for an arrival."""

    def __init__(self, env: BenchEnv, prefetch: int = 256) -> None:
        self.env = env
        self.prefetch = prefetch
        self.arrived: dict[str, float] = {}
        self.expected: frozenset[str] = frozenset()
        self.others = 0
        self.done = asyncio.Event()
        self.connection: AbstractConnection | None = None
        self.channels: list[AbstractChannel] = []

    async def __aenter__(self) -> Inboxes:
        self.connection = await aio_pika.connect(self.env.guest_url)
        queues = [names.inbox(a) for a in AGENCIES] + [relay_inbox(a) for a in AGENCIES]
        for queue_name in queues:
            channel = await self.connection.channel()
            await channel.set_qos(prefetch_count=self.prefetch)
            queue = await channel.get_queue(queue_name, ensure=False)
            await queue.consume(self._on_message)
            self.channels.append(channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        now = time.perf_counter()
        if message.message_id in self.expected:
            self.arrived[message.message_id] = now
        else:
            self.others += 1
        await message.ack()
        if self.expected and len(self.arrived) >= len(self.expected):
            self.done.set()

    def expect(self, ids: Iterable[str]) -> None:
        """Wait for these ids from now on (``done`` is set when every one has arrived)."""
        self.arrived = {}
        self.expected = frozenset(ids)
        self.done = asyncio.Event()


async def run_path(path: str, lanes: list[list[Prepared]], publishers: Publishers,
                   inboxes: Inboxes, *, rate: float | None = None,
                   limit: float = 300.0, meter: CpuMeter | None = None) -> RunResult:
    """Push one batch through ``path`` ("hub" or "relay") and wait for every arrival."""
    count = sum(len(lane) for lane in lanes)
    sent: dict[str, float] = {}
    inboxes.expect(prepared.id for lane in lanes for prepared in lane)
    meter = meter or CpuMeter({})
    meter.start()
    start = time.perf_counter()
    await publishers.run(path, lanes, sent, rate=rate)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(inboxes.done.wait(), limit)
    arrived = dict(inboxes.arrived)
    cpu = meter.stop()
    end = max(arrived.values()) if arrived else time.perf_counter()
    latencies = [(arrived[i] - t) * 1000 for i, t in sent.items() if i in arrived]
    inboxes.expect(())
    return RunResult(path=path, count=count, delivered=len(latencies), seconds=end - start,
                     latencies_ms=latencies, cpu=cpu,
                     missing=[i for i in sent if i not in arrived])


def add_load_arguments(parser: argparse.ArgumentParser, *, state: bool = True) -> None:
    """The flags every load-driving benchmark shares: who publishes what, and where to report."""
    parser.add_argument("--publishers", type=int, default=8,
                        help="publisher connections (alternately gm0193 and gm0363)")
    parser.add_argument("--body-size", type=int, default=0,
                        help="target size of a signed message in bytes: the agency's own "
                             "references are added until it is reached (or the schema's cap)")
    parser.add_argument("--recipients", type=int, default=5,
                        help="agencies the messages are spread over (1-5)")
    if state:
        parser.add_argument("--state", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--hub-log-level", default="INFO", help="the hub's MAATWERK_LOG_LEVEL")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
