"""``maatwerk-hub run`` and ``maatwerk-hub topology apply``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import aio_pika

from hub.config import Settings
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
                     help="generate a key pair for every registry participant that has none")
    run.set_defaults(handler=_run)

    topo = sub.add_parser("topology", help="declare exchanges, queues, users and permissions")
    actions = topo.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = actions.add_parser(
        "apply", help="declare the topology (idempotent)",
        description="Declares the exchanges and quorum queues. With --users also creates every "
        "participant's broker user with least-privilege permissions and the dead-letter "
        "retention policy (MAATWERK_DEADLETTER_RETENTION_DAYS) through the management API.",
    )
    apply.add_argument("--users", action="store_true", help="also create users and permissions")
    apply.add_argument("--management-url", default=DEFAULT_MANAGEMENT_URL)
    apply.add_argument("--vhost", default="/")
    apply.add_argument("--passwords", type=Path, default=Path("var/broker-passwords.json"),
                       help="JSON map user -> password; missing users get a random one (0600)")
    apply.set_defaults(handler=_apply)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
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
    await service.run_until_stopped(stop)


def _apply(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    registry = load_registry(settings.registry_path, settings.keys_dir)

    async def apply() -> None:
        connection = await aio_pika.connect(
            settings.amqp_url, **connect_kwargs(settings.amqp_url, settings.tls))
        async with connection:
            channel = await connection.channel()
            await topology.declare(channel, registry, settings.delivery_limit)
        print("topology declared")
        if args.users:
            users = [p.broker_user for p in registry.document.participants]
            passwords = load_passwords(args.passwords, users)
            async with BrokerAdmin(args.management_url) as admin:
                done = await admin.apply_users(registry, args.vhost, passwords)
                await admin.set_dead_letter_retention(args.vhost,
                                                      settings.deadletter_retention_days)
            print(f"users and permissions applied: {', '.join(done)}")
            print(f"dead letters kept {settings.deadletter_retention_days:g} days "
                  f"(policy {DEAD_LETTER_POLICY})")

    asyncio.run(apply())
    return 0
