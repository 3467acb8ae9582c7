"""The deadline watcher: every few seconds, in every hub replica.

One tick: remind on missed deadlines, escalate second misses to the Maatwerkloket, start and end
time-outs, remind and report missed escalation steps and repayment dates
(:mod:`hub.state.escalations`, :mod:`hub.state.bridging`), refresh the gauges, sign an audit
checkpoint when one is due, and publish what the outbox holds. Every decision is a conditional
update in the shared state, so replicas can tick at the same time without doubling a message.

The overdue, late and active time-out gauges count the whole database, not one replica's work:
only the replica holding the ``gauges`` lease (:mod:`hub.state.leases`) exports them, the others
export none of their series, so ``sum()`` over N replicas is not N times too high.
``maatwerk_gauges_leader`` says which replica it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from hub.core.router import TRANSIENT, Router
from hub.state import bridging, checkpoints, escalations, leases, timeouts
from hub.state.ledger import Ledger
from hub.telemetry.metrics import HubMetrics

log = logging.getLogger("maatwerk.watcher")
T = TypeVar("T")


class Watcher:
    def __init__(self, *, ledger: Ledger, router: Router, metrics: HubMetrics,
                 clock: Callable[[], datetime], interval: float,
                 after_tick: Callable[[], Awaitable[None]] | None = None,
                 replica: str | None = None) -> None:
        self.after_tick = after_tick
        self.replica = replica or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_seconds = max(3 * interval, 15.0)
        """A dead leader's gauges move to another replica within this time."""
        self.checkpoint_seconds = checkpoints.EVERY_SECONDS
        """How often the audit head is signed while the chain grows."""
        self.ledger = ledger
        self.router = router
        self.metrics = metrics
        self.clock = clock
        self.interval = interval

    async def tick(self) -> None:
        """One pass; after each step the router gets the loop (``_then_yield``: on SQLite a
        step runs its statements without a real pause, and the whole tick held routing for 8 to
        15 ms)."""
        now = self.clock()
        reminded = await _then_yield(self.ledger.remind_due(now))
        escalated = await _then_yield(self.ledger.escalate_due(now))
        ended = await _then_yield(timeouts.advance(self.ledger.db, self.ledger.notary,
                                                   self.ledger.audit, now))
        steps = await _then_yield(escalations.advance(self.ledger.db, self.ledger.notary,
                                                      self.ledger.audit, self.ledger.registry,
                                                      now))
        repayments = await _then_yield(bridging.advance(
            self.ledger.db, self.ledger.notary, self.ledger.audit, self.ledger.agreements,
            self.ledger.registry, now))
        reminded += steps[0] + repayments[0]
        escalated += steps[1] + repayments[1]
        await _then_yield(self._gauges(now))
        await _then_yield(checkpoints.due(self.ledger.audit, self.ledger.notary.hub_id,
                                          self.ledger.notary.countersign, now,
                                          self.checkpoint_seconds))
        sent = await _then_yield(self.router.flush_outbox())
        if self.after_tick is not None:
            await self.after_tick()
        if reminded or escalated or ended or sent:
            log.info("watcher tick", extra={"event": "tick", "reminded": reminded,
                                            "escalated": escalated, "ended": ended, "sent": sent})

    async def _gauges(self, now: datetime) -> None:
        gauges = (self.metrics.overdue, self.metrics.late, self.metrics.active_timeouts)
        if not await leases.hold(self.ledger.db, leases.GAUGES, self.replica,
                                 self.lease_seconds):
            self.metrics.gauges_leader.set(0)
            for gauge in gauges:
                gauge.clear()
            return
        self.metrics.gauges_leader.set(1)
        counts = {self.metrics.overdue: await _then_yield(self.ledger.overdue_counts()),
                  self.metrics.late: await _then_yield(self.ledger.late_counts(now)),
                  self.metrics.active_timeouts: await timeouts.count_active(self.ledger.db)}
        for gauge, per_label in counts.items():
            gauge.clear()
            for label, count in per_label.items():
                gauge.labels(label).set(count)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except TRANSIENT as exc:
                log.warning("watcher tick failed, will retry: %s", exc)
            except Exception:
                log.exception("watcher tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
        with contextlib.suppress(Exception):
            await leases.release(self.ledger.db, leases.GAUGES, self.replica)
        self.metrics.gauges_leader.set(0)


async def _then_yield(step: Awaitable[T]) -> T:
    """``step``'s result, after one turn of the event loop: deliveries that arrived meanwhile
    are taken up before the next step."""
    result = await step
    await asyncio.sleep(0)
    return result
