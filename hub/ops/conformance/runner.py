"""One conformance run, start to end.

1. Load registry, policy and agreements; build the first probes (a missing sender key is a
   clear error before anything touches the broker).
2. Connect; declare the topology if part of it is missing; refuse to run beside a hub; wait
   until the adapter consumes its inbox.
3. Watch the hub queue and the dead letters; deliver the first wave (one genuine message per
   received type that starts something) and the refusal probes (tampered, forged, expired,
   duplicate); wait until each has what it should get, or its deadline passed.
4. Deliver the second wave (follow-ups such as ``timeout.extend`` in the thread of the first
   wave's request, a receipt for one of the adapter's answers) and wait likewise.
5. Stay quiet for the settle time, to see what should not come; judge (:mod:`.checks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub.contract.agreements import Agreements, load_agreements
from hub.contract.messages import MESSAGE_SPECS, utc_now
from hub.contract.policy import load_policy
from hub.contract.registry import Registry, load_registry
from hub.ops.conformance.checks import Deadlines, Judge, answer_of, read_replies
from hub.ops.conformance.plan import DUPLICATE, GENUINE, Planner, Probe
from hub.ops.conformance.report import Report
from hub.ops.conformance.settings import KitSettings
from hub.ops.conformance.wire import KitWire


def deadlines_for(settings: KitSettings, agreements: Agreements, now: datetime) -> Deadlines:
    """The kit's waits, never longer than the agreements allow the adapter."""
    subject = settings.participant
    receipt = (agreements.receipt_deadline(subject).after(now) - now).total_seconds()
    answer = (agreements.response_deadline(subject).after(now) - now).total_seconds()
    return Deadlines(receipt=min(settings.receipt_seconds, receipt),
                     answer=min(settings.answer_seconds, answer))


class Run:
    def __init__(self, settings: KitSettings, registry: Registry,
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.policy = load_policy(settings.policy_path)
        self.deadlines = deadlines_for(settings, load_agreements(settings.agreements_path),
                                       clock())
        self.planner = Planner(registry=registry, policy=self.policy,
                               keys_dir=settings.keys_dir, subject=settings.participant,
                               clock=clock)
        self.wire = KitWire(settings.amqp_url, settings.tls, settings.participant)
        self.probes: list[Probe] = []
        self._read: list[dict[str, Any]] = []

    def _replies(self, probe: Probe) -> list[dict[str, Any]]:
        """What the adapter has published so far in reply to ``probe`` (read leniently)."""
        published = self.wire.observed.published
        for item in published[len(self._read):]:
            try:
                document = json.loads(item.body)
            except ValueError:
                document = None
            self._read.append(document if isinstance(document, dict) else {})
        return [d for d in self._read if d.get("in_reply_to") == str(probe.id)]

    def _settled(self, probe: Probe) -> bool:
        """Has ``probe`` got what it waits for, or is its wait over?"""
        if probe.sent_at is None:
            return False
        waited = time.monotonic() - probe.sent_at
        if probe.kind not in (GENUINE, DUPLICATE):
            dead = any(d.message_id == str(probe.id) for d in self.wire.observed.dead)
            return dead or waited > self.deadlines.receipt
        spec = MESSAGE_SPECS[probe.type]
        types = [d.get("type") for d in self._replies(probe)]
        from_hub = probe.document.get("sender") == self.registry.hub.id  # awaits no receipt
        if (spec.needs_receipt and not from_hub and "receipt" not in types
                and waited <= self.deadlines.receipt):
            return False
        expects = bool(spec.responses) and probe.type not in self.settings.manual_answers
        answered = any(t != "receipt" for t in types)
        return answered or not expects or waited > self.deadlines.answer

    async def _deliver_and_wait(self, probes: list[Probe]) -> None:
        for probe in probes:
            await self.wire.deliver(probe)
            self.probes.append(probe)
        observed = self.wire.observed
        while not all(self._settled(p) for p in probes):
            observed.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(observed.changed.wait(), timeout=0.1)

    async def execute(self) -> Report:
        started = time.monotonic()
        planner = self.planner
        first = planner.first_wave()
        main = planner.main_type()
        await self.wire.connect()
        try:
            declared = await self.wire.ensure_topology(self.registry,
                                                       self.settings.delivery_limit)
            await self.wire.preflight(self.settings.wait_seconds)
            await self.wire.observe()
            refusals = []
            if main is not None:
                refusals += planner.tampered(main)
                refusals += [planner.expired(main), planner.duplicate(main)]
            forged = planner.forged()
            if forged is not None:
                refusals.append(forged)
            await self._deliver_and_wait(first + refusals)
            replies = read_replies(self.wire.observed, self.registry, self.clock())
            answers = {p.id: a for p in first if (a := answer_of(replies, p.id)) is not None}
            await self._deliver_and_wait(planner.second_wave(first, answers))
            await asyncio.sleep(self.settings.settle_seconds)
            left = await self.wire.inbox_ready()
        finally:
            await self.wire.stop()
            await self.wire.close()
        return self._judge(time.monotonic() - started, declared, left)

    def _judge(self, seconds: float, declared: bool, left: int) -> Report:
        now = self.clock()
        replies = read_replies(self.wire.observed, self.registry, now)
        judge = Judge(subject=self.planner.subject, registry=self.registry, policy=self.policy,
                      probes=self.probes, replies=replies, observed=self.wire.observed,
                      deadlines=self.deadlines, manual_answers=self.settings.manual_answers,
                      now=now)
        results = judge.run()
        notes = [f"{t} not delivered: {why}" for t, why in self.planner.skipped.items()]
        notes += [f"unsolicited: {r.describe()} (answers no message of this run)"
                  for r in judge.unsolicited()]
        if declared:
            notes.append("the kit declared the broker topology (it was incomplete)")
        if left:
            notes.append(f"{left} message(s) still waiting in {self.wire.inbox}")
        return Report(participant=self.settings.participant, results=tuple(results),
                      probes=tuple(self.probes), seconds=seconds, notes=tuple(notes))


async def run_conformance(settings: KitSettings, *, registry: Registry | None = None,
                          clock: Callable[[], datetime] = utc_now) -> Report:
    """Test the live adapter of ``settings.participant``; see docs/conformance.md."""
    registry = registry or load_registry(settings.registry_path, settings.keys_dir)
    return await Run(settings, registry, clock).execute()
