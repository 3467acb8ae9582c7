"""The one place that wires the hub together: settings -> registry, policy, keys, state, broker.

The CLI and the tests only build a :class:`HubService` and start or stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime

import uvicorn
from aio_pika.abc import AbstractQueue, AbstractRobustChannel
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.config import Settings
from hub.contract import names
from hub.contract.agreements import Agreements
from hub.contract.brokers import split_urls
from hub.contract.config_bundle import Sources
from hub.contract.errors import ConfigError
from hub.contract.keys import current_private_key
from hub.contract.messages import utc_now
from hub.contract.notary import Notary
from hub.contract.policy import Policy
from hub.contract.registry import Registry
from hub.contract.tls import connect_kwargs
from hub.contract.tokens import TokenFile, require_auth_off_loopback
from hub.core import topology
from hub.core.failover import FailoverConnection, connect_failover, is_live
from hub.core.pipeline import Pipeline, PipelineSettings
from hub.core.replay import ReplayConsumer
from hub.core.router import Router
from hub.ops import health
from hub.ops.console import Console
from hub.ops.http import build_app
from hub.ops.key_expiry import expiring_keys, warn_expiring_keys
from hub.ops.reload import Reloader
from hub.ops.status import CaseStatus, case_status
from hub.ops.trust_publisher import TrustPublisher
from hub.ops.watcher import Watcher
from hub.state import deviations
from hub.state.audit import AuditLog
from hub.state.batch import group_commit
from hub.state.config_versions import Active
from hub.state.database import Database, SqliteDatabase, StateTimeouts, open_database
from hub.state.deviations import KnelpuntenReport
from hub.state.ledger import OVERDUE_PAGE, Expectation, Ledger, OverdueKey
from hub.state.migrations import migrate
from hub.state.seen import MessageStore
from hub.telemetry.metrics import HubMetrics

log = logging.getLogger("maatwerk.hub")

HEALTH_SECONDS = 1.0  # how often the deep probes run
# The probes' own connection waits at most this long: readiness is about whether the store
# answers, and must turn red within seconds, while routing's statements wait for the (longer)
# configured timeouts, since a busy store queueing decisions on the audit lock is not a broken one.
PROBE_TIMEOUTS = StateTimeouts(statement=2.0, lock=1.0, sqlite_busy_ms=300, pool=2.0)


class HubService:
    """A hub replica: several may run against one broker and one PostgreSQL state."""

    def __init__(
        self, settings: Settings, *, registry: Registry | None = None,
        policy: Policy | None = None, agreements: Agreements | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        # Files are watched and reloaded (hub.ops.reload); a part given as an object stays fixed,
        # but published keys (KEYS_DIR/*.json) are always merged in and reloaded.
        self.sources = Sources(
            keys_dir=settings.keys_dir, registry_path=settings.registry_path,
            policy_path=settings.policy_path, agreements_path=settings.agreements_path,
            registry=registry, policy=policy, agreements=agreements)
        self.initial = self.sources.load()
        self.registry = self.initial.registry
        self.policy = self.initial.policy
        self.agreements = self.initial.agreements
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.metrics = HubMetrics()
        self.notary = Notary(self.registry, self._hub_key(self.registry))
        self.reloader: Reloader | None = None
        self.trust: TrustPublisher | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._checks = {"broker": False, "topology": False, "state": False, "audit": False,
                        "registry": False, "policy": False, "signing": False}
        self.audit: AuditLog | None = None
        self._db: Database | None = None
        self._probe_db: Database | None = None
        self._probe_audit: AuditLog | None = None
        self._connection: FailoverConnection | None = None
        self._routing_ok = True  # the last message in hand met no transient failure
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._replay_queue: AbstractQueue | None = None
        self._replay_tag: str | None = None
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._watcher_task: asyncio.Task[None] | None = None
        self._health_task: asyncio.Task[None] | None = None
        self._warned: set[tuple[str, str]] = set()
        self._stop_watching = asyncio.Event()
        self._shown_node: str | None = None

    def _hub_key(self, registry: Registry) -> Ed25519PrivateKey:
        return current_private_key(self.settings.keys_dir, registry.hub.id, registry.hub.keys,
                                   self.clock())

    async def _apply(self, active: Active) -> None:
        """Use a newly adopted configuration everywhere (the pipeline reads it per decision)."""
        bundle = active.bundle
        added = set(bundle.registry.participants) - set(self.registry.participants)
        self.registry, self.policy = bundle.registry, bundle.policy
        self.agreements = bundle.agreements
        self.notary.update(bundle.registry, self._hub_key(bundle.registry))
        ledger: Ledger | None = getattr(self, "ledger", None)  # None during start()
        if ledger is not None:
            ledger.registry, ledger.agreements = bundle.registry, bundle.agreements
        if self._channel is not None:
            deliver = await self._channel.get_exchange(names.DELIVER_EXCHANGE)
            for participant_id in sorted(added):
                if bundle.registry.participants[participant_id].kind != "hub":
                    await topology.declare_inbox(self._channel, deliver, participant_id,
                                                 self.settings.delivery_limit)
                    log.info("inbox declared", extra={"event": "inbox_declared",
                                                      "participant": participant_id})

    async def _refresh_hub_key(self) -> None:
        """Every tick: sign with the newest valid hub key (a rotation's new key once valid)."""
        key = self._hub_key(self.registry)
        self.notary.update(self.registry, key)
        warn_expiring_keys(self.registry, self.clock(), self._warned)

    def readiness_details(self) -> dict[str, object]:
        """Beside the checks in /readyz: the configuration in force, a refused reload
        (``degraded``: the old version stays in force) and keys about to expire."""
        config = self.reloader.details() if self.reloader is not None else {}
        notes = expiring_keys(self.registry, self.clock())
        degraded = ["config"] if "reload_error" in config else []
        trust_info = self.trust.details() if self.trust is not None else {}
        degraded += ["trust"] if "error" in trust_info else []
        return {"replica": self.replica, "config": config, "degraded": degraded,
                "trust": trust_info,
                "notes": notes, "signing_kid": self.notary.kid}

    # -- readiness ------------------------------------------------------------------------------

    def readiness(self) -> dict[str, bool]:
        """Every check, live: the broker only while connected (a robust connection that is
        reconnecting is not live), the state store only while the probe's write and the last
        message in hand both succeeded."""
        audit_ok = self.audit is not None and self.audit.healthy and self._checks["audit"]
        return {**self._checks, "broker": is_live(self._connection) and self._checks["broker"],
                "state": self._checks["state"] and self._routing_ok, "audit": audit_ok}

    @property
    def ready(self) -> bool:
        return all(self.readiness().values())

    @property
    def broker_node(self) -> str | None:
        connection = self._connection
        return connection.node if connection is not None and is_live(connection) else None

    def _show_health(self) -> None:
        self.metrics.ready.set(1 if self.ready else 0)
        node = self.broker_node
        if node != self._shown_node:
            self.metrics.broker_node.clear()
            if node is not None:
                self.metrics.broker_node.labels(node).set(1)
            self._shown_node = node

    def _set_state_health(self, ok: bool) -> None:
        self._routing_ok = ok
        self._show_health()

    async def check_health(self) -> None:
        """Run the deep probes, each bounded: a store that does not answer is a red check."""
        assert self._probe_db is not None and self._probe_audit is not None
        assert self.audit is not None
        # Each statement is bounded by the state timeouts already; this bounds the whole round
        # (a busy replica waits for pool connections: slow is not unhealthy).
        # PostgreSQL: the probes' own pool, short waits. SQLite: the probes queue behind the
        # messages in hand for the one connection, so only the configured waits apply.
        bounds = PROBE_TIMEOUTS if self._probe_db is not self._db else self.settings.state_timeouts
        limit = bounds.pool + 2 * bounds.statement
        try:
            async with asyncio.timeout(limit):
                self._checks.update(await health.probe(
                    notary=self.notary, registry=self.registry, policy=self.policy,
                    db=self._probe_db, audit=self._probe_audit, metrics=self.metrics,
                    replica=self.replica, writes_ok=self.audit.healthy,
                    now=self.clock()))
        except TimeoutError:
            log.warning("readiness probes did not finish in %.0f s: state not ready",
                        limit, extra={"event": "probe_timeout"})
            self._checks.update(state=False, audit=False)
        self._show_health()

    async def _health_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check_health()
            except Exception:
                log.exception("readiness probe failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=HEALTH_SECONDS)

    async def _after_tick(self) -> None:
        await self._refresh_hub_key()
        await self.check_health()

    # -- lifecycle ------------------------------------------------------------------------------

    def http_tokens(self) -> TokenFile | None:
        """The HTTP token file; a ConfigError when the HTTP endpoints would be open off
        loopback."""
        tokens = (TokenFile.load(self.settings.http_tokens)
                  if self.settings.http_tokens is not None else None)
        if self.settings.http_port:
            require_auth_off_loopback(self.settings.http_host, tokens, "the hub's HTTP endpoints",
                                      "MAATWERK_HTTP_TOKENS")
        return tokens

    async def start(self) -> None:
        tokens = self.http_tokens()  # refuse before connecting to anything
        self._db = await open_database(self.settings.state_url, self.settings.state_timeouts,
                                       background_checkpoints=True)
        self._db.on_timeout = lambda kind: self.metrics.state_timeouts.labels(kind).inc()
        await migrate(self._db)
        self._checks["state"] = True
        self.audit = AuditLog(self._db, hash_key=self.settings.hash_key, clock=self.clock,
                              chain=self.replica)
        # SQLite: one connection on this thread (a second one would wait on our own
        # transactions); an outside lock reaches it through its busy timeout.
        self._probe_db = (self._db if isinstance(self._db, SqliteDatabase)
                          else await open_database(self.settings.state_url, PROBE_TIMEOUTS))
        self._probe_db.on_timeout = lambda kind: self.metrics.state_timeouts.labels(kind).inc()
        self._probe_audit = AuditLog(self._probe_db, hash_key=self.settings.hash_key,
                                     clock=self.clock, chain=self.replica)
        self._checks["audit"] = await self.audit.check_tail()
        self.reloader = Reloader(sources=self.sources, db=self._db, metrics=self.metrics,
                                 replica=self.replica, clock=self.clock, apply=self._apply,
                                 interval=self.settings.reload_seconds)
        await self.reloader.start(self.initial)
        self.ledger = Ledger(self._db, self.agreements, self.registry, self.notary, self.audit)
        claims, records = (group_commit(self._db, max_items=self.settings.batch_max,
                                        max_ms=self.settings.batch_ms) for _ in range(2))
        pipeline = Pipeline(
            registry=self.registry, policy=self.policy, agreements=self.agreements,
            store=MessageStore(self._db, claims=claims),
            clock=self.clock,
            settings=PipelineSettings(max_message_bytes=self.settings.max_message_bytes,
                                      clock_skew_seconds=self.settings.clock_skew_seconds),
            current=self.reloader.current,
        )
        self.router = Router(pipeline=pipeline, ledger=self.ledger, notary=self.notary,
                             metrics=self.metrics, clock=self.clock, replica=self.replica,
                             on_health=self._set_state_health,
                             recorder=records)
        claims.company = records.company = self.router.in_hand  # no wait for nobody
        self.watcher = Watcher(ledger=self.ledger, router=self.router, metrics=self.metrics,
                               clock=self.clock, interval=self.settings.watch_seconds,
                               after_tick=self._after_tick)
        urls = split_urls(self.settings.amqp_url)
        self._connection = await connect_failover(urls, **connect_kwargs(urls[0],
                                                                         self.settings.tls))
        self._checks["broker"] = True
        # Hold the channel and queue: a robust connection restores only what is still referenced.
        self._channel = await self._connection.channel(publisher_confirms=True,
                                                       on_return_raises=True)
        await self._channel.set_qos(prefetch_count=self.settings.prefetch)
        await topology.declare(self._channel, self.registry, self.settings.delivery_limit,
                               self.settings.quorum_size)
        self._checks["topology"] = True
        await self.router.bind(self._channel)
        self.trust = TrustPublisher(
            trust_file=self.settings.trust_file, keys_dir=self.settings.keys_dir, db=self._db,
            audit=self.audit, notary=self.notary, router=self.router,
            registry=lambda: self.registry, clock=self.clock, replica=self.replica)
        self.router.local_handlers["trust.query"] = self.trust.answer_query
        await self.trust.check()
        self.reloader.after_check = self.trust.check
        self._queue = await self._channel.get_queue(names.HUB_QUEUE)
        self._consumer_tag = await self._queue.consume(self.router.on_message)
        self._replay_queue = await self._channel.get_queue(names.REPLAY_QUEUE)
        self._replay_tag = await self._replay_queue.consume(
            ReplayConsumer(self.router, self.settings.hash_key).on_message)
        self._stop_watching = asyncio.Event()
        self._watcher_task = asyncio.create_task(self.watcher.run(self._stop_watching))
        self._routing_ok = True
        self._reload_task = asyncio.create_task(self.reloader.run(self._stop_watching))
        await self.check_health()
        self._health_task = asyncio.create_task(self._health_loop(self._stop_watching))
        if self.settings.http_port:
            await self._start_http(tokens)
        log.info("hub started", extra={"event": "started", "policy": self.policy.version,
                                       "registry": self.registry.version})

    async def _start_http(self, tokens: TokenFile | None) -> None:
        console = Console(database=lambda: self._db, registry=self.registry,
                          readiness=self.readiness, clock=self.clock,
                          amqp_url=split_urls(self.settings.amqp_url)[0])
        app = build_app(self.metrics, self.readiness, self, console, tokens,
                        details=self.readiness_details, trust_file=self.settings.trust_file)
        if tokens is None:
            log.warning("HTTP endpoints without authentication (loopback only); set "
                        "MAATWERK_HTTP_TOKENS to require tokens")
        config = uvicorn.Config(app, host=self.settings.http_host, port=self.settings.http_port,
                                log_level="warning", lifespan="off")
        self._http = uvicorn.Server(config)
        self._http_task = asyncio.create_task(self._http.serve())
        while not self._http.started:  # return once it accepts connections
            if self._http_task.done():
                await self._http_task
                raise ConfigError(f"HTTP endpoints on {self.settings.http_host}:"
                                  f"{self.settings.http_port} did not start")
            await asyncio.sleep(0.01)

    # -- views (HTTP) ---------------------------------------------------------------------------

    async def case(self, case_id: str) -> CaseStatus:
        assert self._db is not None, "start() first"
        return await case_status(self._db, case_id, self.clock())

    async def overdue(self, *, limit: int = OVERDUE_PAGE,
                      after: OverdueKey | None = None) -> list[Expectation]:
        return await self.ledger.overdue(limit=limit, after=after)

    async def knelpunten(self) -> KnelpuntenReport:
        assert self._db is not None, "start() first"
        return await deviations.knelpunten(self._db, self.clock())

    async def stop(self) -> None:
        """Stop consuming, let in-flight messages finish (unacked ones return to the queue).

        Safe to call twice; a stopped service can be started again.
        """
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
            if not await self.router.drain(seconds=10.0):
                log.warning("stopping with messages in hand; the broker will redeliver them")
        self._queue, self._consumer_tag = None, None
        if self._replay_queue is not None and self._replay_tag is not None:
            await self._replay_queue.cancel(self._replay_tag)
        self._replay_queue, self._replay_tag = None, None
        self._stop_watching.set()
        for task in (self._watcher_task, self._health_task):
            if task is not None:
                await task
        self._watcher_task = self._health_task = None
        if self._reload_task is not None:
            await self._reload_task
            self._reload_task = None
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
        self._http, self._http_task = None, None
        if self._connection is not None:
            await self._connection.close()
        self._connection, self._channel = None, None
        for db in {id(d): d for d in (self._db, self._probe_db) if d is not None}.values():
            await db.close()
        self._db = self._probe_db = self._probe_audit = None
        self._checks = dict.fromkeys(self._checks, False)

    async def run_until_stopped(self, stop: asyncio.Event,
                                started: Callable[[], None] | None = None) -> None:
        await self.start()
        if started is not None:
            started()
        try:
            await stop.wait()
        finally:
            await self.stop()
