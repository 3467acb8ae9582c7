"""``maatwerk-hub run`` and ``maatwerk-hub topology apply``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika

from hub.config import Settings, require_own_hash_key
from hub.contract.brokers import split_urls
from hub.contract.errors import ConfigError
from hub.contract.keys import ensure_dev_keys
from hub.contract.registry import load_registry
from hub.contract.tls import connect_kwargs
from hub.core import topology
from hub.core.broker_admin import (
    DEAD_LETTER_POLICY,
    DEFAULT_MANAGEMENT_URL,
    BrokerAdmin,
    load_passwords,
)
from hub.service import HubService
from hub.telemetry.logs import configure_logging


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run", help="run a hub replica until interrupted",
        description="Connects to AMQP_URL, declares the topology, consumes the hub queue and "
        "serves /metrics, /healthz and /readyz. Configuration from the environment "
        "(maatwerk-hub --help lists it).",
    )
    run.add_argument("--dev-keys", action="store_true",
                     help="development mode: generate a key pair for every registry participant "
                     "that has none, and allow the dev MAATWERK_HASH_KEY (without this flag the "
                     "hub refuses to start without its own MAATWERK_HASH_KEY)")
    run.set_defaults(handler=_run)

    topo = sub.add_parser("topology", help="declare exchanges, queues, users and permissions")
    actions = topo.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = actions.add_parser(
        "apply", help="declare the topology (idempotent)",
        description="Declares the exchanges and quorum queues over AMQP_URL, as the hub's own "
        "broker user. With --users it first creates every participant's broker user (the hub's "
        "too) with least-privilege permissions through the management API, logged in with the "
        "admin credential of --management-url: the first step on a new broker, before any "
        "participant user exists. On a broker where everybody logs in with a client "
        "certificate, add --certificates-only: the users get no password at all. It also sets the "
        "dead-letter retention policy (MAATWERK_DEADLETTER_RETENTION_DAYS).",
    )
    apply.add_argument("--users", action="store_true", help="also create users and permissions")
    apply.add_argument("--management-url", default=DEFAULT_MANAGEMENT_URL,
                       help="management API with an administrator's credential (default: "
                       f"{DEFAULT_MANAGEMENT_URL})")
    apply.add_argument("--vhost", default="/")
    apply.add_argument("--passwords", type=Path, default=Path("var/broker-passwords.json"),
                       help="JSON map user -> password; missing users get a random one (0600)")
    apply.add_argument("--certificates-only", action="store_true",
                       help="with --users: create the users without a password (they log in "
                       "with SASL EXTERNAL and a client certificate whose CN is the user)")
    apply.set_defaults(handler=_apply)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not args.dev_keys:
        require_own_hash_key(settings)
    configure_logging(settings.log_level)
    if args.dev_keys:
        ids = [p.id for p in load_registry(settings.registry_path).document.participants]
        made = ensure_dev_keys(settings.keys_dir, ids)
        if made:
            logging.getLogger("maatwerk.hub").info("generated dev keys for %s", ", ".join(made))
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings: Settings) -> None:
    service = HubService(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await service.run_until_stopped(stop, started=freeze_startup_heap)


def freeze_startup_heap() -> None:
    """Move everything the start made (modules, models, registry, policy, connections) out of
    the garbage collector's reach: a full collection then scans only what routing made since,
    instead of pausing the event loop for tens of milliseconds (bench.latency measured 28 to 43
    ms pauses, which were the hub's tail latency). Only in the ``run`` process: tests start
    many hubs in one process and must not freeze theirs."""
    gc.collect()
    gc.freeze()


def _apply(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    registry = load_registry(settings.registry_path, settings.keys_dir)
    kwargs = connect_kwargs(settings.amqp_url, settings.tls)  # a TLS setting error: one line

    async def apply() -> None:
        if args.users:  # first: the hub's own user may not exist yet
            users = [p.broker_user for p in registry.document.participants]
            passwords = ({} if args.certificates_only
                         else load_passwords(args.passwords, users))
            async with BrokerAdmin(args.management_url) as admin:
                done = await admin.apply_users(registry, args.vhost, passwords)
                await admin.set_dead_letter_retention(args.vhost,
                                                      settings.deadletter_retention_days)
            print(f"users and permissions applied on vhost {args.vhost!r}: {', '.join(done)}"
                  + (" (no passwords: certificate logins only)" if args.certificates_only
                     else ""))
            print(f"dead letters kept {settings.deadletter_retention_days:g} days "
                  f"(policy {DEAD_LETTER_POLICY})")
        try:
            connection = await aio_pika.connect(split_urls(settings.amqp_url)[0], **kwargs)
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            raise ConfigError(
                f"cannot connect to {_where(settings.amqp_url)} (AMQP_URL) as the hub's broker "
                f"user: {_reason(exc)}; on a new broker create the users first: "
                "maatwerk-hub topology apply --users --management-url "
                "http://ADMIN:PASSWORD@HOST:15672") from None
        async with connection:
            channel = await connection.channel()
            await topology.declare(channel, registry, settings.delivery_limit,
                                   settings.quorum_size)
        print("topology declared")

    asyncio.run(apply())
    return 0


def _where(amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path or '/'}"


def _reason(exc: BaseException) -> str:
    """One line, without a URL's password, for an AMQP connection failure."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
        text = f"TLS: {exc}"
    return " ".join(text.split())[:300]
