"""The environment of a benchmark run: a :mod:`sandbox` (fresh vhost ``maatwerk-bench-*``, broker
users suffixed ``-b<hex>``, dev keys and registry in a temp directory, all removed afterwards), the
relay's topology and permissions on top, and the hub's state (SQLite in the temp directory, or a
fresh PostgreSQL database dropped afterwards)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bench.topology import MUNICIPALITIES, RELAY_INBOUND, declare_topology
from hub.contract import names
from sandbox import Broker, Permissions, Sandbox, local_sandbox, open_sandbox

__all__ = ["BROKER", "BenchEnv", "bench_env", "local_env", "state_url_for"]

BROKER = Broker.from_env("MAATWERK_BENCH_AMQP_HOST")

BenchEnv = Sandbox


def local_env(tag: str = "bench") -> BenchEnv:
    """Keys, a registry with suffixed broker users (``-b<hex>``) and passwords; no broker yet
    (the caller removes ``env.root``)."""
    return local_sandbox(BROKER, tag)


@contextlib.asynccontextmanager
async def bench_env(tag: str = "bench") -> AsyncIterator[BenchEnv]:
    """A fresh vhost with the participants' least-privilege users, keys and registry file, the
    hub's and the relay's topology declared."""
    async with open_sandbox(BROKER, tag) as env:
        # The municipalities may also publish to the relay's inbound exchange (this vhost only),
        # so both paths are fed by the same users with the same properties.
        for municipality in MUNICIPALITIES:
            await BROKER.grant(env.vhost, env.participants.user(municipality), Permissions(
                configure="^$",
                write=rf"^({names.INBOUND_EXCHANGE}|{RELAY_INBOUND})$".replace(".", r"\."),
                read=f"^{names.inbox(municipality)}$".replace(".", r"\."),
            ))
        await declare_topology(env.guest_url, env.registry)
        yield env


async def state_url_for(env: BenchEnv, state: str) -> str:
    """The hub's state: a fresh PostgreSQL database, or SQLite in the run's temp directory."""
    if state == "postgresql":
        return await env.databases.create()
    return f"sqlite:///{env.root / 'hub.sqlite3'}"
