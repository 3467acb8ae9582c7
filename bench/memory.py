"""Hub memory over a long run: VmRSS of the ``python -m hub run`` subprocess, sampled every second.

Messages are signed in chunks while the run goes on (a million pre-signed messages would not fit
the driver's memory), each chunk is pushed through the full hub path and drained by the recipients'
consumers. The run stops at ``--count`` messages or after ``--max-seconds``, whichever comes first.
Reports RSS at start (hub started and idle), peak and end (after the last chunk), plus the series.

    .venv/bin/python -m bench.memory --count 1000000 --max-seconds 600 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from bench.environment import BROKER, BenchEnv, bench_env, state_url_for
from bench.load import Inboxes, Publishers, add_load_arguments, run_path
from bench.measure import rss_kib
from bench.messages import MessageFactory
from bench.processes import account_for, queue_depth, start_hub
from bench.report import machine, write_json
from hub.contract import names
from sandbox import Child


async def drive(args: argparse.Namespace, env: BenchEnv, factory: MessageFactory, hub: Child,
                state_url: str, t0: float, progress: list[int]) -> None:
    sent = 0
    async with Publishers(env, args.publishers) as publishers, Inboxes(env) as inboxes:
        while sent < args.count and time.perf_counter() - t0 < args.max_seconds:
            chunk = min(args.chunk, args.count - sent)
            result = await run_path("hub", factory.batch(chunk, args.publishers),
                                    publishers, inboxes, limit=args.chunk_limit)
            sent += result.delivered
            progress[0] = sent
            progress[1] = inboxes.others
            elapsed = time.perf_counter() - t0
            print(f"{elapsed:7.1f}s  {sent:9d} messages  rss {rss_kib(hub.pid) / 1024:7.1f}"
                  f" MiB  chunk {result.rate:6.1f} msg/s", flush=True)
            if result.delivered < chunk:
                print("chunk incomplete; stopping")
                print(await account_for(env, hub, state_url, result.missing,
                                        BROKER.management_url), flush=True)
                break


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with bench_env("bench-mem") as env:
        state_url = await state_url_for(env, args.state)
        hub = await start_hub(env, state_url, log_level=args.hub_log_level)
        samples: list[tuple[float, int]] = []
        t0 = time.perf_counter()
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                samples.append((round(time.perf_counter() - t0, 1), rss_kib(hub.pid)))
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample())
        await asyncio.sleep(2.0)
        start_kib = rss_kib(hub.pid)
        sent = 0
        interrupted = ""
        try:
            factory = MessageFactory(env, args.recipients, args.body_size)
            progress = [0, 0]  # messages delivered, other arrivals (reminders)
            try:
                await drive(args, env, factory, hub, state_url, t0, progress)
            except Exception as exc:  # the broker went away (restart by someone else?)
                interrupted = f"{type(exc).__name__}: {exc}"
                print(f"interrupted: {interrupted}; reporting what was measured")
            sent = progress[0]
            await asyncio.sleep(2.0)
            end_kib = rss_kib(hub.pid)
            dead = await queue_depth(env, names.DEAD_LETTER_QUEUE) if not interrupted else -1
            db_bytes = sum(f.stat().st_size for f in env.root.glob("hub.sqlite3*"))
        finally:
            stop.set()
            await sampler
            await hub.stop()
        seconds = time.perf_counter() - t0
        peak_kib = max(kib for _, kib in samples)
        rss = {"start": round(start_kib / 1024, 1), "peak": round(peak_kib / 1024, 1),
               "end": round(end_kib / 1024, 1)}
        report: dict[str, Any] = {
            "benchmark": "memory",
            "machine": machine(),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "messages": sent,
            "seconds": round(seconds, 1),
            "msg_per_s": round(sent / seconds, 1),
            "rss_mib": rss,
            "sqlite_bytes": db_bytes,
            "dead_lettered": dead,
            "other_arrivals": progress[1],
            "interrupted": interrupted,
            "samples_s_kib": samples,
        }
    print(f"\n{sent} messages in {seconds:.0f}s ({report['msg_per_s']} msg/s); hub RSS start "
          f"{rss['start']} MiB, peak {rss['peak']} MiB, end {rss['end']} MiB; state "
          f"{db_bytes / 1e6:.1f} MB; dead-lettered {dead}; other arrivals (reminders) "
          f"{report['other_arrivals']}")
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--chunk", type=int, default=5000, help="messages signed per chunk")
    parser.add_argument("--chunk-limit", type=float, default=300.0,
                        help="seconds to wait for a chunk's last arrival before the run stops "
                             "and accounts for the messages still missing")
    add_load_arguments(parser)
    asyncio.run(main(parser.parse_args()))
