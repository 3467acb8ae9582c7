"""Reload without restart: the registry, keys, policy and agreements, in every replica.

Every ``MAATWERK_RELOAD_SECONDS`` each replica's reloader

1. notices a change: the watched files' contents changed (registry, policy, agreements,
   ``KEYS_DIR/*.json`` and ``KEYS_DIR/private/*.pem``), or ``maatwerk-hub reload`` wrote a
   newer request row in the shared state;
2. validates the whole configuration first. A file that does not validate keeps the version in
   force; the replica shows ``degraded`` in ``/readyz`` with the error, counts
   ``maatwerk_config_reload_failures_total`` and logs ``config reload refused``;
3. commits a valid new configuration to the shared state (:mod:`hub.state.config_versions`) as
   the next generation;
4. adopts the newest committed generation (its own or another replica's, read from the shared
   state, so replicas agree even when one has not seen the file change yet).

Before every decision the pipeline calls :meth:`Reloader.current`: it reads the committed head
and, when this replica holds an older generation, adopts the newer one first. A decision never
starts under an older generation than the one committed when it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from hub.contract.config_bundle import ConfigBundle, Sources, fingerprint
from hub.contract.errors import ConfigError
from hub.state import config_versions as cv
from hub.state.config_versions import Active
from hub.state.database import Database, StoreUnavailableError
from hub.telemetry.metrics import HubMetrics

log = logging.getLogger("maatwerk.reload")


Apply = Callable[[Active], Awaitable[None]]


class Reloader:
    def __init__(self, *, sources: Sources, db: Database, metrics: HubMetrics, replica: str,
                 clock: Callable[[], datetime], apply: Apply, interval: float) -> None:
        self.sources = sources
        self.db = db
        self.metrics = metrics
        self.replica = replica
        self.clock = clock
        self.apply = apply
        self.interval = interval
        self.error: str | None = None
        self.failed_at: datetime | None = None
        self._active: Active | None = None
        self._fingerprint = ""
        self._request = 0
        self._lock = asyncio.Lock()
        self.after_check: Callable[[], Awaitable[object]] | None = None
        """Run after every check, the new configuration adopted (the trust document's turn)."""

    @property
    def active(self) -> Active:
        assert self._active is not None, "start() first"
        return self._active

    async def start(self, initial: ConfigBundle) -> Active:
        """Commit the configuration this replica started with and adopt the newest one."""
        self._request = await cv.last_request(self.db)
        self._fingerprint = fingerprint(self.sources.watched())
        await self._commit(initial)
        return await self.current()

    async def current(self) -> Active:
        """The committed configuration, loaded first when this replica holds an older one."""
        head = await cv.head(self.db)
        if head is None:
            raise StoreUnavailableError("no configuration committed in the shared state")
        if self._active is None or head.generation != self._active.stamp.generation:
            async with self._lock:
                if self._active is None or head.generation > self._active.stamp.generation:
                    await self._adopt(head.generation)
        return self.active

    async def _commit(self, bundle: ConfigBundle) -> int:
        generation = await cv.commit(self.db, hash=bundle.hash, versions=bundle.versions,
                                     bundle=bundle.encode(), now=self.clock(), by=self.replica)
        return generation

    async def _adopt(self, generation: int) -> None:
        committed = await cv.get(self.db, generation)
        if committed is None:
            raise StoreUnavailableError(f"configuration generation {generation} vanished")
        if self._active is not None and self._active.bundle.hash == committed.hash:
            bundle = self._active.bundle
        else:
            try:
                bundle = ConfigBundle.decode(committed.bundle)
            except ConfigError as exc:  # a newer hub's format: retry, never decide on old
                raise StoreUnavailableError(f"generation {generation}: {exc}") from exc
        previous = self._active
        active = Active.of(bundle, generation)
        await self.apply(active)
        self._active = active
        self._set_version_metrics(active)
        if previous is not None:
            log.info("configuration adopted", extra={
                "event": "config_adopted", "generation": generation, "hash": bundle.hash[:16],
                "committed_by": committed.committed_by, **bundle.versions})

    def _set_version_metrics(self, active: Active) -> None:
        gauge = self.metrics.config_version_info
        gauge.clear()
        for kind, version in active.bundle.versions.items():
            gauge.labels(kind, version).set(1)
        gauge.labels("generation", str(active.stamp.generation)).set(1)
        gauge.labels("hash", active.bundle.hash[:16]).set(1)

    async def reload(self, *, force: bool = False) -> bool:
        """Load the files when they changed (or ``force``); True when a new one was committed."""
        request = await cv.last_request(self.db)
        mark = fingerprint(self.sources.watched())
        if not force and request == self._request and mark == self._fingerprint:
            return False
        self._request, self._fingerprint = request, mark
        try:
            bundle = self.sources.load()
        except ConfigError as exc:
            self.error, self.failed_at = str(exc), self.clock()
            self.metrics.config_reload_failures.inc()
            log.error("config reload refused; the version in force stays", extra={
                "event": "config_reload_failed", "error": str(exc)[:2000],
                "generation": self.active.stamp.generation})
            return False
        self.error = self.failed_at = None
        before = self.active.stamp.generation
        generation = await self._commit(bundle)
        await self.current()
        if generation != before:
            log.info("configuration committed", extra={
                "event": "config_committed", "generation": generation, **bundle.versions})
        return generation != before

    def details(self) -> dict[str, object]:
        """For ``/readyz``: the versions in force and, when a reload failed, why."""
        active = self._active
        info: dict[str, object] = {
            "generation": active.stamp.generation if active else None,
            "hash": active.bundle.hash if active else None,
            **(active.bundle.versions if active else {}),
        }
        if self.error is not None:
            info["reload_error"] = self.error
            info["reload_failed_at"] = self.failed_at.isoformat() if self.failed_at else None
        return info

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.reload()
                await self.current()
                if self.after_check is not None:
                    await self.after_check()
            except StoreUnavailableError as exc:
                log.warning("config reload check failed, will retry: %s", exc)
            except Exception:
                log.exception("config reload check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
