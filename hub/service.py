"""The one place that wires the hub together: settings -> registry, policy, keys, state, broker.

The CLI and the tests only build a :class:`HubService` and start or stop it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime

import aio_pika
import uvicorn
from aio_pika.abc import AbstractQueue, AbstractRobustChannel, AbstractRobustConnection

from hub.config import Settings
from hub.contract import names
from hub.contract.agreements import Agreements, load_agreements
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.messages import utc_now
from hub.contract.notary import Notary
from hub.contract.policy import Policy, load_policy
from hub.contract.registry import Registry, load_registry
from hub.contract.tls import connect_kwargs
from hub.core import topology
from hub.core.pipeline import Pipeline, PipelineSettings
from hub.core.router import Router
from hub.ops import health
from hub.ops.console import Console
from hub.ops.http import build_app
from hub.ops.status import CaseStatus, case_status
from hub.ops.watcher import Watcher
from hub.state.audit import AuditLog
from hub.state.batch import group_commit
from hub.state.database import Database, open_database
from hub.state.ledger import Expectation, Ledger
from hub.state.migrations import migrate
from hub.state.seen import MessageStore
from hub.telemetry.metrics import HubMetrics

log = logging.getLogger("maatwerk.hub")


class HubService:
    """A hub replica: several may run against one broker and one PostgreSQL state."""

    def __init__(
        self, settings: Settings, *, registry: Registry | None = None,
        policy: Policy | None = None, agreements: Agreements | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.registry = registry or load_registry(settings.registry_path, settings.keys_dir)
        self.policy = policy or load_policy(settings.policy_path)
        self.agreements = agreements or load_agreements(settings.agreements_path)
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.metrics = HubMetrics()
        self.notary = Notary(self.registry, load_private_key(
            private_key_path(settings.keys_dir, self.registry.hub.id)))
        self._checks = {"broker": False, "topology": False, "state": False, "audit": False,
                        "registry": False, "policy": False, "signing": False}
        self.audit: AuditLog | None = None
        self._db: Database | None = None
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._watcher_task: asyncio.Task[None] | None = None
        self._stop_watching = asyncio.Event()

    # -- readiness ------------------------------------------------------------------------------

    def readiness(self) -> dict[str, bool]:
        broker_up = self._connection is not None and not self._connection.is_closed
        audit_ok = self.audit is not None and self.audit.healthy and self._checks["audit"]
        return {**self._checks, "broker": broker_up and self._checks["broker"],
                "audit": audit_ok}

    @property
    def ready(self) -> bool:
        return all(self.readiness().values())

    def _set_state_health(self, ok: bool) -> None:
        self._checks["state"] = ok
        self.metrics.ready.set(1 if self.ready else 0)

    async def check_health(self) -> None:
        """Run the deep probes (at start and on every watcher tick)."""
        assert self._db is not None and self.audit is not None
        self._checks.update(await health.probe(
            notary=self.notary, registry=self.registry, policy=self.policy, db=self._db,
            audit=self.audit, metrics=self.metrics, replica=self.replica, now=self.clock()))
        self.metrics.ready.set(1 if self.ready else 0)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._db = await open_database(self.settings.state_url)
        await migrate(self._db)
        self._checks["state"] = True
        self.audit = AuditLog(self._db, hash_key=self.settings.hash_key, clock=self.clock,
                              chain=self.replica)
        self._checks["audit"] = await self.audit.check_tail()
        self.ledger = Ledger(self._db, self.agreements, self.registry, self.notary, self.audit)
        pipeline = Pipeline(
            registry=self.registry, policy=self.policy, agreements=self.agreements,
            store=MessageStore(self._db), clock=self.clock,
            settings=PipelineSettings(max_message_bytes=self.settings.max_message_bytes,
                                      clock_skew_seconds=self.settings.clock_skew_seconds),
        )
        self.router = Router(pipeline=pipeline, ledger=self.ledger, notary=self.notary,
                             metrics=self.metrics, clock=self.clock, replica=self.replica,
                             on_health=self._set_state_health,
                             recorder=group_commit(self._db, max_items=self.settings.batch_max,
                                                   max_ms=self.settings.batch_ms))
        self.watcher = Watcher(ledger=self.ledger, router=self.router, metrics=self.metrics,
                               clock=self.clock, interval=self.settings.watch_seconds,
                               after_tick=self.check_health)
        self._connection = await aio_pika.connect_robust(
            self.settings.amqp_url, **connect_kwargs(self.settings.amqp_url, self.settings.tls))
        self._checks["broker"] = True
        # Hold the channel and queue: a robust connection restores only what is still referenced.
        self._channel = await self._connection.channel(publisher_confirms=True,
                                                       on_return_raises=True)
        await self._channel.set_qos(prefetch_count=self.settings.prefetch)
        await topology.declare(self._channel, self.registry, self.settings.delivery_limit)
        self._checks["topology"] = True
        await self.router.bind(self._channel)
        self._queue = await self._channel.get_queue(names.HUB_QUEUE)
        self._consumer_tag = await self._queue.consume(self.router.on_message)
        self._stop_watching = asyncio.Event()
        self._watcher_task = asyncio.create_task(self.watcher.run(self._stop_watching))
        await self.check_health()
        self.metrics.ready.set(1)
        if self.settings.http_port:
            await self._start_http()
        log.info("hub started", extra={"event": "started", "policy": self.policy.version,
                                       "registry": self.registry.version})

    async def _start_http(self) -> None:
        console = Console(database=lambda: self._db, registry=self.registry,
                          readiness=self.readiness, clock=self.clock,
                          amqp_url=self.settings.amqp_url)
        app = build_app(self.metrics, self.readiness, self, console)
        config = uvicorn.Config(app, host=self.settings.http_host, port=self.settings.http_port,
                                log_level="warning", lifespan="off")
        self._http = uvicorn.Server(config)
        self._http_task = asyncio.create_task(self._http.serve())

    # -- views (HTTP) ---------------------------------------------------------------------------

    async def case(self, case_id: str) -> CaseStatus:
        assert self._db is not None, "start() first"
        return await case_status(self._db, case_id, self.clock())

    async def overdue(self) -> list[Expectation]:
        return await self.ledger.overdue()

    async def stop(self) -> None:
        """Stop consuming, let in-flight messages finish (unacked ones return to the queue).

        Safe to call twice; a stopped service can be started again.
        """
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
            if not await self.router.drain(seconds=10.0):
                log.warning("stopping with messages in hand; the broker will redeliver them")
        self._queue, self._consumer_tag = None, None
        if self._watcher_task is not None:
            self._stop_watching.set()
            await self._watcher_task
            self._watcher_task = None
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
        self._http, self._http_task = None, None
        if self._connection is not None:
            await self._connection.close()
        self._connection, self._channel = None, None
        if self._db is not None:
            await self._db.close()
        self._db = None
        self._checks = dict.fromkeys(self._checks, False)

    async def run_until_stopped(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
