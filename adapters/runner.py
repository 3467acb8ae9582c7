"""``maatwerk-adapter run NAME``: build an adapter from the environment and run it.

NAME is an agency (belastingdienst, duo, uwv, svb, cjib), ``municipality`` or ``loket``. The
adapter connects, consumes its inbox (and, for a municipality, serves the local HTTP API) until
SIGTERM or SIGINT, then stops taking messages, finishes the ones in hand and closes. With
``MAATWERK_TRUST_AUTHORITY`` it verifies, stores and uses the signed trust document
(:mod:`adapters.sdk.trust_follow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.cases import CaseStore
from adapters.http import RunningServer, protect, start_server
from adapters.loket import LoketAdapter
from adapters.municipality import MunicipalityAdapter, api
from adapters.sdk.backoffice import BackOffice
from adapters.sdk.client import HubClient
from adapters.sdk.config import AdapterSettings
from adapters.sdk.trust_follow import attach_trust, follow_trust
from hub.contract.errors import ConfigError
from hub.contract.policy import load_policy
from hub.contract.tokens import TokenFile, require_auth_off_loopback

log = logging.getLogger("maatwerk.adapter")

ADAPTERS: tuple[str, ...] = (*PROFILES, "municipality", "loket")


def settings_for(name: str) -> AdapterSettings:
    """Settings from the environment; agencies and the loket default to their own id."""
    if name not in ADAPTERS:
        raise ConfigError(f"unknown adapter {name!r}: one of {', '.join(ADAPTERS)}")
    settings = AdapterSettings.from_env(participant=None if name == "municipality" else name)
    if name in PROFILES and settings.participant != name:
        raise ConfigError(f"MAATWERK_PARTICIPANT={settings.participant} but adapter is {name}")
    return settings


async def run(name: str, settings: AdapterSettings, stop: asyncio.Event) -> None:
    """Run adapter ``name`` until ``stop`` is set; graceful on the way out."""
    tokens = None
    if name == "municipality" and settings.http_port:
        tokens = TokenFile.load(settings.http_tokens) if settings.http_tokens else None
        # Refuse an open API off loopback before connecting to anything.
        require_auth_off_loopback(settings.http_host, tokens, "the municipality API",
                                  "MAATWERK_ADAPTER_HTTP_TOKENS")
    client = HubClient.from_settings(settings)
    if (client.participant.kind == "municipality") != (name == "municipality"):
        raise ConfigError(f"{settings.participant} is a {client.participant.kind}, not {name}")
    trust = attach_trust(client, settings)  # MAATWERK_TRUST_AUTHORITY: the trust document
    backoffice = None
    if settings.backoffice_url:
        backoffice = BackOffice(settings.backoffice_url, token=settings.backoffice_token,
                                timeout=settings.backoffice_timeout)
    elif name in PROFILES:
        raise ConfigError(f"BACKOFFICE_URL is not set: the {name} adapter needs its back office")
    store = CaseStore(settings.state_dir / "cases")
    closers: list[Callable[[], Awaitable[None]]] = []
    server: RunningServer | None = None
    if name in PROFILES:
        assert backoffice is not None
        AgencyAdapter(client, backoffice, PROFILES[name])
    elif name == "loket":
        closers.append(LoketAdapter(client, store, backoffice=backoffice,
                                    webhook_url=settings.webhook_url).aclose)
    else:
        municipality = MunicipalityAdapter(client, store, webhook_url=settings.webhook_url)
        closers.append(municipality.aclose)
    if backoffice is not None:
        closers.append(backoffice.aclose)
    following: asyncio.Task[None] | None = None
    await client.connect()
    try:
        await client.consume()
        if trust is not None:
            following = asyncio.create_task(follow_trust(client, trust, settings, stop))
        if name == "municipality" and settings.http_port:
            app = protect(api(municipality, load_policy(settings.policy_path)),
                          settings.http_host, tokens)
            server = await start_server(app, settings.http_host, settings.http_port)
            log.info("HTTP API on http://%s:%d", settings.http_host, server.port)
        log.info("adapter %s running as %s", name, client.id)
        await stop.wait()
        log.info("stopping: finishing the messages in hand")
        if server is not None:
            await server.stop()
        await client.stop_consuming()
    finally:
        if following is not None:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        await client.close()
        for close in closers:
            await close()


def main(name: str) -> int:
    settings = settings_for(name)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run(name, settings, stop)

    asyncio.run(serve())
    return 0
