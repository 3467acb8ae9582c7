"""One hub replica against two, on shared PostgreSQL state, under the same load.

Replica A (``python -m hub run``) runs throughout; for the two-replica rounds replica B is started
on the same broker queue and the same PostgreSQL database (each with prefetch 64) and stopped after.
Rounds alternate: one replica, two replicas. Same publishers, message sizes and consumers as
``bench.throughput``; prints the machine it ran on, since replicas only help with spare cores.

    .venv/bin/python -m bench.replicas --count 4000 --rounds 2 --json out.json

On a cluster (``python -m sandbox.nodes 3`` prints the ports), give every node: the hubs get all
of them in ``AMQP_URL``, the load generators use the first::

    .venv/bin/python -m bench.replicas --amqp-hosts 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 \
        --management-url http://guest:guest@127.0.0.1:M1
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path
from typing import Any

from bench import environment
from bench.environment import bench_env
from bench.load import Inboxes, Publishers, add_load_arguments, run_path
from bench.measure import CpuMeter
from bench.messages import MessageFactory
from bench.processes import queue_depth, start_hub
from bench.report import machine, table, write_json
from hub.contract import names
from sandbox import Broker

COLUMNS = ("round", "replicas", "count", "delivered", "seconds", "msg_per_s", "p50_ms",
           "p95_ms", "p99_ms", "a_cpu_pct", "b_cpu_pct", "machine_busy_pct")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    info = machine()
    print(f"machine: {info}")
    async with bench_env("bench-rep") as env:
        state_url = await env.databases.create()
        hub_a = await start_hub(env, state_url, name="hub-a", log_level=args.hub_log_level)
        try:
            factory = MessageFactory(env, args.recipients, args.body_size)
            async with Publishers(env, args.publishers) as publishers, Inboxes(env) as inboxes:
                await run_path("hub", factory.batch(300, args.publishers), publishers, inboxes)
                for round_no in range(1, args.rounds + 1):
                    for replicas in (1, 2):
                        hub_b = None
                        if replicas == 2:
                            hub_b = await start_hub(env, state_url, name="hub-b",
                                                    log_level=args.hub_log_level,
                                                    expect_consumers=2)
                        pids = {"a": hub_a.pid, **({"b": hub_b.pid} if hub_b else {})}
                        try:
                            result = await run_path(
                                "hub", factory.batch(args.count, args.publishers), publishers,
                                inboxes, meter=CpuMeter(pids))
                        finally:
                            if hub_b is not None:
                                await hub_b.stop()
                        row = {"round": round_no, "replicas": replicas, **result.summary()}
                        rows.append(row)
                        print(table([row], COLUMNS).splitlines()[-1], flush=True)
            dead = await queue_depth(env, names.DEAD_LETTER_QUEUE)
        finally:
            await hub_a.stop()

    def median(replicas: int) -> float:
        return round(float(statistics.median(r["msg_per_s"] for r in rows
                                             if r["replicas"] == replicas)), 1)

    report: dict[str, Any] = {
        "benchmark": "replicas",
        "machine": info,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "runs": rows,
        "summary": {"one_msg_per_s": median(1), "two_msg_per_s": median(2),
                    "speedup": round(median(2) / median(1), 2)},
        "dead_lettered": dead,
    }
    print()
    print(table(rows, COLUMNS))
    print(f"\nmedian one replica {median(1)} msg/s, two replicas {median(2)} msg/s "
          f"(x{report['summary']['speedup']}); dead-lettered {dead}")
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--amqp-hosts", help="comma-separated host:port of every broker node "
                        f"(default {environment.BROKER.amqp_host}, or MAATWERK_BENCH_AMQP_HOST)")
    parser.add_argument("--management-url", help="management API of a node (default "
                        "MAATWERK_MANAGEMENT_URL or http://guest:guest@127.0.0.1:15672)")
    add_load_arguments(parser, state=False)
    arguments = parser.parse_args()
    if arguments.amqp_hosts or arguments.management_url:
        environment.BROKER = Broker(
            amqp_host=arguments.amqp_hosts or environment.BROKER.amqp_host,
            management_url=arguments.management_url or environment.BROKER.management_url)
    asyncio.run(main(arguments))
