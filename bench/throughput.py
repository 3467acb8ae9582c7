"""Throughput and latency: the full hub path against a bare aio-pika relay, in the same run.

Both run as their own subprocess on the same broker, in a fresh vhost. Each round signs a batch of
``timeout.request`` messages *before* timing (signing is the sender's cost), pushes it through the
relay and then the same bytes through the hub (``python -m hub run``: verify, policy, route, ledger
on SQLite or PostgreSQL). Publishers publish with confirms as the municipalities; plain consumers
drain the recipients' inboxes (no SDK, so no automatic receipts: both paths move the same number
of messages). Latency: publish (timestamp just before) to arrival at the recipient's consumer.

    .venv/bin/python -m bench.throughput --count 5000 --publishers 8 --rounds 3 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.environment import bench_env, state_url_for
from bench.load import Inboxes, Publishers, add_load_arguments, run_path
from bench.measure import CpuMeter, RunResult
from bench.messages import MessageFactory, sizes
from bench.processes import queue_depth, start_hub, start_relay
from bench.report import machine, table, write_json
from hub.contract import names

COLUMNS = ("round", "path", "count", "delivered", "seconds", "msg_per_s", "p50_ms", "p95_ms",
           "p99_ms", "max_ms", "proc_cpu_pct", "driver_cpu_pct", "machine_busy_pct")


def arguments(description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="messages per path per round")
    add_load_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured messages per path")
    parser.add_argument("--prefetch", type=int, default=64, help="hub and relay prefetch")
    parser.add_argument("--timeout", type=float, default=600.0, help="per batch, seconds")
    return parser


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    hub = [r for r in results if r["path"] == "hub"]
    relay = [r for r in results if r["path"] == "relay"]
    ratios = [h["msg_per_s"] / r["msg_per_s"] for h, r in zip(hub, relay, strict=True)
              if r["msg_per_s"]]

    def median(rows: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(values), 2) if values else None

    return {
        "hub": {k: median(hub, k) for k in ("msg_per_s", "p50_ms", "p95_ms", "p99_ms")},
        "relay": {k: median(relay, k) for k in ("msg_per_s", "p50_ms", "p95_ms", "p99_ms")},
        "ratio_per_round": [round(x, 3) for x in ratios],
        "ratio_hub_over_relay": round(statistics.median(ratios), 3) if ratios else None,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    async with bench_env("bench-tp") as env:
        state_url = await state_url_for(env, args.state)
        hub = await start_hub(env, state_url, prefetch=args.prefetch,
                              log_level=args.hub_log_level)
        relay = await start_relay(env, prefetch=args.prefetch)
        try:
            factory = MessageFactory(env, args.recipients, args.body_size)
            async with Publishers(env, args.publishers) as publishers, Inboxes(env) as inboxes:
                if args.warmup:
                    warm = factory.batch(args.warmup, args.publishers)
                    for path in ("relay", "hub"):
                        await run_path(path, warm, publishers, inboxes, limit=args.timeout)
                message_sizes: dict[str, float] = {}
                for round_no in range(1, args.rounds + 1):
                    t = time.perf_counter()
                    lanes = factory.batch(args.count, args.publishers)
                    message_sizes = sizes(lanes)
                    print(f"round {round_no}: signed {args.count} messages in "
                          f"{time.perf_counter() - t:.1f}s (sizes {message_sizes})", flush=True)
                    for path in ("relay", "hub"):
                        proc = hub if path == "hub" else relay
                        meter = CpuMeter({"proc": proc.pid, "driver": os.getpid()})
                        result: RunResult = await run_path(path, lanes, publishers, inboxes,
                                                           limit=args.timeout, meter=meter)
                        row = {"round": round_no, **result.summary()}
                        results.append(row)
                        print(table([row], COLUMNS).splitlines()[-1], flush=True)
            dead = await queue_depth(env, names.DEAD_LETTER_QUEUE)
        finally:
            hub_rc = await hub.stop()
            await relay.stop()
        report: dict[str, Any] = {
            "benchmark": "throughput",
            "machine": machine(),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "references_per_agency": factory.n_refs,
            "message_bytes": message_sizes,
            "rounds": results,
            "summary": summarise(results),
            "dead_lettered": dead,
            "hub_exit_code": hub_rc,
        }
    print()
    print(table(results, COLUMNS))
    summary = report["summary"]
    print(f"\nmedian hub {summary['hub']['msg_per_s']} msg/s, relay "
          f"{summary['relay']['msg_per_s']} msg/s, ratio hub/relay "
          f"{summary['ratio_hub_over_relay']} (per round {summary['ratio_per_round']}); "
          f"message bytes {message_sizes}; dead-lettered {dead}")
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    asyncio.run(main(arguments().parse_args()))
