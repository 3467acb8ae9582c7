"""Loaded by ``python -m hub run`` when ``bench.latency --stalls`` puts this folder on
PYTHONPATH: every event-loop callback that runs longer than ``MAATWERK_BENCH_STALL_MS`` and every
garbage collection longer than 2 ms is written to ``MAATWERK_BENCH_STALL_LOG`` as
``epoch ms what``. Nothing here runs in any other process (the relay, the load driver)."""

import asyncio.events
import gc
import os
import sys
import time
from typing import Any

if os.environ.get("MAATWERK_BENCH_STALL_LOG") and sys.orig_argv[-2:] == ["hub", "run"]:
    _out = open(os.environ["MAATWERK_BENCH_STALL_LOG"], "a", buffering=1)  # noqa: SIM115
    _limit = float(os.environ.get("MAATWERK_BENCH_STALL_MS", "4")) / 1000
    _run = asyncio.events.Handle._run

    def _timed_run(self: asyncio.events.Handle) -> None:
        started = time.perf_counter()
        _run(self)
        took = time.perf_counter() - started
        if took > _limit:
            callback = getattr(self, "_callback", None)
            owner = getattr(callback, "__self__", None)
            coro = owner.get_coro() if isinstance(owner, asyncio.Task) else None
            what = getattr(coro, "__qualname__", None) or getattr(
                callback, "__qualname__", type(callback).__name__)
            _out.write(f"{time.time():.3f} {took * 1000:.2f} {what}\n")

    asyncio.events.Handle._run = _timed_run  # type: ignore[method-assign]
    _gc_started = [0.0]

    def _gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _gc_started[0] = time.perf_counter()
            return
        took = (time.perf_counter() - _gc_started[0]) * 1000
        if took > 2.0:
            _out.write(f"{time.time():.3f} {took:.2f} gc-generation-{info['generation']}\n")

    gc.callbacks.append(_gc)
