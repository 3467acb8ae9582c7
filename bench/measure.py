"""What the benchmarks measure besides time: memory (VmRSS) and CPU of a process, how busy the
machine is, the result of one batch through a path, and percentiles."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CpuMeter", "RunResult", "cpu_seconds", "pct", "rss_kib", "system_busy"]


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU use of some processes and of the whole machine between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.system = (0.0, 0.0)
        self.started = 0.0

    def start(self) -> None:
        self.before = {n: cpu_seconds(p) for n, p in self.pids.items()}
        self.system = system_busy()
        self.started = time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        busy, total = system_busy()
        result = {f"{n}_cpu_pct": round(100 * (cpu_seconds(p) - self.before[n]) / wall, 1)
                  for n, p in self.pids.items()} if wall > 0 else {}
        if total > self.system[1]:
            result["machine_busy_pct"] = round(
                100 * (busy - self.system[0]) / (total - self.system[1]), 1)
        return result


@dataclass
class RunResult:
    path: str
    count: int
    delivered: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    cpu: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list, repr=False)  # ids sent, never arrived

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "path": self.path, "count": self.count, "delivered": self.delivered,
            "seconds": round(self.seconds, 3), "msg_per_s": round(self.rate, 1),
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
            "max_ms": round(lat[-1], 2) if lat else None,
            **self.cpu,
        }


def pct(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))
    return round(sorted_values[int(rank) - 1], 2)
