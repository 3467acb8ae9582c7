"""The processes under test: the hub (``python -m hub run``) and the bare relay
(``python -m bench.relay``), each in its own process as in production (through
:mod:`sandbox.processes`), and waiting until they consume."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

import aio_pika

from bench.environment import BenchEnv
from bench.topology import DELIVERY_LIMIT, RELAY_INBOUND
from hub.contract import names
from hub.ops.console import queue_depths
from hub.state.database import open_database
from hub.state.seen import MessageStore
from sandbox import Child, child_env, hub_command, hub_env, spawn

__all__ = ["account_for", "hub_environment", "queue_depth", "start_hub", "start_relay",
           "wait_consumers"]

REPO = Path(__file__).resolve().parent.parent


def hub_environment(env: BenchEnv, state_url: str, *, prefetch: int = 64,
                    log_level: str = "INFO") -> dict[str, str]:
    return hub_env(amqp_url=env.hub_url, keys_dir=env.keys_dir, state_url=state_url,
                   registry_file=env.registry_file, log_level=log_level,
                   MAATWERK_PREFETCH=str(prefetch), MAATWERK_DELIVERY_LIMIT=str(DELIVERY_LIMIT))


async def start_hub(env: BenchEnv, state_url: str, *, name: str = "hub", prefetch: int = 64,
                    log_level: str = "INFO", argv: Sequence[str] | None = None,
                    expect_consumers: int = 1) -> Child:
    """``python -m hub run`` in its own process (its own core, as in production)."""
    command = list(argv) if argv else hub_command("run")
    variables = hub_environment(env, state_url, prefetch=prefetch, log_level=log_level)
    proc = spawn(name, command, child_env(**variables), env.root / f"{name}.log", cwd=REPO)
    await wait_consumers(env, names.HUB_QUEUE, expect_consumers, proc)
    return proc


async def start_relay(env: BenchEnv, *, prefetch: int = 64) -> Child:
    proc = spawn("relay", [sys.executable, "-m", "bench.relay", "--prefetch", str(prefetch)],
                 child_env(AMQP_URL=env.guest_url), env.root / "relay.log", cwd=REPO)
    await wait_consumers(env, RELAY_INBOUND, 1, proc)
    return proc


async def wait_consumers(env: BenchEnv, queue: str, count: int, proc: Child,
                         limit: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    connection = await aio_pika.connect(env.guest_url)
    async with connection:
        channel = await connection.channel()
        while True:
            q = await channel.declare_queue(queue, passive=True)
            assert q.declaration_result is not None
            if (q.declaration_result.consumer_count or 0) >= count:
                return
            if not proc.running:
                raise RuntimeError(f"{proc.name} exited: see {proc.log}\n"
                                   + proc.log.read_text()[-3000:])
            if loop.time() > deadline:
                raise RuntimeError(f"{proc.name} did not start consuming in {limit}s")
            await asyncio.sleep(0.2)


async def queue_depth(env: BenchEnv, queue: str) -> int:
    connection = await aio_pika.connect(env.guest_url)
    async with connection:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, passive=True)
        assert q.declaration_result is not None
        return int(q.declaration_result.message_count or 0)


async def account_for(env: BenchEnv, hub: Child, state_url: str, missing: Sequence[str],
                      management_url: str) -> str:
    """Where the messages that did not arrive are: the vhost's queues (ready and unacknowledged)
    and the hub's record of the first few; the hub's log is kept in the temp directory (the
    run's own is removed with the sandbox)."""
    lines = [f"{len(missing)} messages did not arrive in time; the first: {list(missing[:3])}"]
    try:
        for depth in await queue_depths(management_url, env.vhost):
            if depth.messages:
                lines.append(f"  queue {depth.name}: ready {depth.ready}, unacknowledged "
                             f"{depth.unacked}, consumers {depth.consumers}")
    except Exception as exc:  # the diagnosis must not hide the result it explains
        lines.append(f"  queues unavailable: {type(exc).__name__}: {exc}")
    try:
        db = await open_database(state_url)
        try:
            for message_id in missing[:5]:
                record = await MessageStore(db).get(UUID(message_id))
                lines.append(f"  hub record {message_id}: "
                             + (f"{record.status} ({record.reason})" if record else "none"))
        finally:
            await db.close()
    except Exception as exc:
        lines.append(f"  hub state unavailable: {type(exc).__name__}: {exc}")
    kept = Path(tempfile.mkdtemp(prefix="bench-shortfall-")) / hub.log.name
    shutil.copy(hub.log, kept)
    lines.append(f"  the hub's log is kept at {kept}")
    return "\n".join(lines)
