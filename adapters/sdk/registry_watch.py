"""Keep an SDK client's registry current: rotated and revoked keys reach it within seconds.

:func:`watch_registry` reloads the registry file and the published keys (``KEYS_DIR/*.json``)
when their contents change, validates them, and hands the new registry to the client; a file
that does not validate is logged and the registry in use stays. The client also picks its own
newest valid private key (a rotation's new key once it is valid).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from adapters.sdk.client import HubClient
from hub.contract.config_bundle import Sources, fingerprint
from hub.contract.errors import ConfigError, KeyStoreError
from hub.contract.keys import current_private_key
from hub.contract.registry import Registry

log = logging.getLogger("maatwerk.sdk.registry")


async def refresh(client: HubClient, sources: Sources, keys_dir: Path) -> bool:
    """Reload once; True when the registry in use changed."""
    try:
        registry = sources.load().registry
    except ConfigError as exc:
        log.error("registry reload refused; the registry in use stays: %s", exc)
        return False
    changed = registry.document != client.registry.document
    if changed:
        client.use_registry(registry)
        log.info("registry reloaded", extra={"event": "registry_reloaded",
                                             "registry": registry.version})
    with contextlib.suppress(KeyStoreError):
        client.use_key(current_private_key(keys_dir, client.id, client.participant.keys,
                                           client.clock()))
    return changed


async def watch_registry(client: HubClient, *, keys_dir: Path, registry_path: Path | None,
                         base: Registry | None = None, interval: float = 2.0,
                         stop: asyncio.Event | None = None) -> None:
    """Run until ``stop``: reload on every change of the registry file or published keys."""
    sources = Sources(keys_dir=keys_dir, registry_path=registry_path, registry=base)
    stop = stop or asyncio.Event()
    mark = ""
    while not stop.is_set():
        now = fingerprint(sources.watched())
        if now != mark:
            mark = now
            await refresh(client, sources, keys_dir)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
