"""Latency at a fixed steady rate: hub and bare relay, same messages, same run.

Publishers release message k at ``start + k / rate`` (spread over ``--publishers`` connections,
confirms awaited as the participants do); latency is publish (just before) to arrival at the
recipient's plain consumer. For each rate in ``--rate``: relay first, then hub, ``--seconds`` each.

    .venv/bin/python -m bench.latency --rate 100 200 --seconds 20 --json out.json

``--stalls MS`` also times every callback of the hub's event loop (``bench/stallhook``) and
reports, per coroutine, those that held the loop longer than MS during the measured runs: what
the hub's tail latency is made of.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench.environment import bench_env, state_url_for
from bench.load import Inboxes, Publishers, add_load_arguments, run_path
from bench.measure import CpuMeter
from bench.messages import MessageFactory
from bench.processes import queue_depth, start_hub, start_relay
from bench.report import machine, table, write_json
from hub.contract import names

COLUMNS = ("rate", "path", "count", "delivered", "msg_per_s", "p50_ms", "p95_ms", "p99_ms",
           "max_ms", "proc_cpu_pct", "machine_busy_pct")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    async with bench_env("bench-lat") as env:
        state_url = await state_url_for(env, args.state)
        stall_log = env.root / "stalls.log"
        if args.stalls:
            os.environ.update(MAATWERK_BENCH_STALL_LOG=str(stall_log),
                              MAATWERK_BENCH_STALL_MS=str(args.stalls),
                              PYTHONPATH=os.pathsep.join(filter(None, [
                                  str(STALL_HOOK), os.environ.get("PYTHONPATH")])))
        hub = await start_hub(env, state_url, log_level=args.hub_log_level)
        measured: list[tuple[float, float]] = []
        relay = await start_relay(env)
        try:
            factory = MessageFactory(env, args.recipients, args.body_size)
            async with Publishers(env, args.publishers) as publishers, Inboxes(env) as inboxes:
                warm = factory.batch(200, args.publishers)
                for path in ("relay", "hub"):
                    await run_path(path, warm, publishers, inboxes)
                for rate in args.rate:
                    lanes = factory.batch(int(rate * args.seconds), args.publishers)
                    for path in ("relay", "hub"):
                        proc = hub if path == "hub" else relay
                        meter = CpuMeter({"proc": proc.pid})
                        began = time.time()
                        result = await run_path(path, lanes, publishers, inboxes, rate=rate,
                                                meter=meter)
                        if path == "hub":
                            measured.append((began, time.time()))
                        row = {"rate": rate, **result.summary()}
                        rows.append(row)
                        print(table([row], COLUMNS).splitlines()[-1], flush=True)
            dead = await queue_depth(env, names.DEAD_LETTER_QUEUE)
        finally:
            await hub.stop()
            await relay.stop()
        report = {
            "benchmark": "latency",
            "machine": machine(),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "runs": rows,
            "dead_lettered": dead,
        }
        if args.stalls:
            report["stalls"] = held = stalls(stall_log, measured)
            print(table(held, STALL_COLUMNS))
    print()
    print(table(rows, COLUMNS))
    write_json(args.json, report)
    return report


STALL_HOOK = Path(__file__).resolve().parent / "stallhook"
STALL_COLUMNS = ("what", "count", "mean_ms", "max_ms", "total_ms")


def stalls(log: Path, windows: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """The stall log's lines inside the measured hub runs, summed per coroutine (or GC)."""
    per: dict[str, list[float]] = {}
    lines = log.read_text().splitlines() if log.exists() else []
    for line in lines:
        at, took, what = line.split(" ", 2)
        if any(start <= float(at) <= end for start, end in windows):
            per.setdefault(what, []).append(float(took))
    return sorted(({"what": what, "count": len(t), "mean_ms": round(sum(t) / len(t), 2),
                    "max_ms": max(t), "total_ms": round(sum(t), 1)} for what, t in per.items()),
                  key=lambda row: -float(row["total_ms"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[200.0], help="msg/s, offered")
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate and path")
    parser.add_argument("--stalls", type=float, default=0.0, metavar="MS",
                        help="report the hub's event-loop callbacks longer than MS (0: off)")
    add_load_arguments(parser)
    asyncio.run(main(parser.parse_args()))
