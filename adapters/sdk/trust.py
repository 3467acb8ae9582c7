"""The adapter's copy of the signed trust document: verified, stored, used on restart.

- :meth:`TrustStore.open` reads the last good document from disk (verified again under the
  configured authority key); a missing or broken file means "none yet".
- :meth:`TrustStore.accept` verifies a fetched document (signature under the authority key,
  validity, a serial not lower than the one held) and only then replaces the stored file
  (atomically) and hands the new registry to the client. A refused document changes nothing.
- :meth:`TrustStore.follow` fetches ``/trust`` every ``interval`` seconds until stopped: while
  the hub is unreachable the client keeps working on the last good document; when the hub is
  back the next fetch makes it current again. :meth:`TrustStore.follow_file` does the same
  with a published file.
- :mod:`adapters.sdk.trust_follow` wires a store into a :class:`HubClient` (``trust.update``
  messages, a ``trust.query`` at start, the URL or file from the settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

from hub.contract.messages import utc_now
from hub.contract.registry import Registry
from hub.contract.trust import TrustDocument, TrustError, verify

log = logging.getLogger("maatwerk.sdk.trust")
OnRegistry = Callable[[Registry], None]


class TrustStore:
    def __init__(self, path: Path, authority: bytes, *, on_registry: OnRegistry | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self.authority = authority
        self.on_registry = on_registry
        self.clock = clock
        self.current: TrustDocument | None = None
        self.refused = 0
        self.fetch_failures = 0

    @classmethod
    def open(cls, path: Path, authority: bytes, *, on_registry: OnRegistry | None = None,
             clock: Callable[[], datetime] = utc_now) -> TrustStore:
        store = cls(path, authority, on_registry=on_registry, clock=clock)
        if path.exists():
            try:
                store.current = verify(path.read_bytes(), authority, now=store.clock())
            except TrustError as exc:
                log.error("stored trust document refused (%s); waiting for a good one", exc)
        return store

    @property
    def registry(self) -> Registry | None:
        return self.current.registry() if self.current else None

    def accept(self, raw: bytes) -> bool:
        """Verify ``raw`` and keep it when newer; False when it is the one held already."""
        try:
            document = verify(raw, self.authority, now=self.clock(), current=self.current)
        except TrustError:
            self.refused += 1
            raise
        if self.current is not None and document.serial == self.current.serial:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, self.path)
        self.current = document
        log.info("trust document accepted", extra={"event": "trust_accepted",
                                                   "serial": document.serial})
        if self.on_registry is not None:
            self.on_registry(document.registry())
        return True

    async def fetch(self, url: str, client: httpx.AsyncClient) -> bool:
        """One fetch of ``url``; errors are logged and counted, the held document stays."""
        try:
            response = await client.get(url)
            response.raise_for_status()
            return self.accept(response.content)
        except httpx.HTTPError as exc:
            self.fetch_failures += 1
            log.warning("trust document fetch failed, keeping serial %s: %s",
                        self.current.serial if self.current else None, exc)
        except TrustError as exc:
            log.error("fetched trust document refused, keeping the last good one: %s", exc)
        return False

    def read(self, path: Path) -> bool:
        """Read a published document file (a shared volume); like :meth:`fetch`, errors are
        logged and the held document stays."""
        try:
            return self.accept(path.read_bytes())
        except OSError as exc:
            self.fetch_failures += 1
            log.warning("trust document file %s not read, keeping serial %s: %s", path,
                        self.current.serial if self.current else None, exc)
        except TrustError as exc:
            log.error("trust document file refused, keeping the last good one: %s", exc)
        return False

    async def follow_file(self, path: Path, *, interval: float = 30.0,
                          stop: asyncio.Event | None = None) -> None:
        """Read ``path`` every ``interval`` seconds until ``stop``."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            self.read(path)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def follow(self, url: str, *, interval: float = 30.0,
                     stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        async with httpx.AsyncClient(timeout=10.0) as client:
            while not stop.is_set():
                await self.fetch(url, client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
