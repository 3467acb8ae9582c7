"""Reporting: the machine a run was on (CPU, RAM, RabbitMQ, Python, kernel, git), result
tables and JSON files."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.environment import BROKER

__all__ = ["git_describe", "machine", "rabbitmq_version", "table", "write_json"]

REPO = Path(__file__).resolve().parent.parent


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(), "cpu_model": model, "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "rabbitmq": rabbitmq_version(), "python": platform.python_version(),
        "kernel": platform.release(), "git": git_describe(),
    }


def rabbitmq_version() -> str:
    import httpx

    try:
        response = httpx.get(_mgmt("/api/overview"), auth=_mgmt_auth(), timeout=5)
        data = response.json()
        return f"{data.get('rabbitmq_version')} (Erlang {data.get('erlang_version')})"
    except Exception:
        return "unknown"


def _mgmt(path: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(BROKER.management_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{path}"


def _mgmt_auth() -> tuple[str, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(BROKER.management_url)
    return (parts.username or "guest", parts.password or "guest")


def git_describe() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "hub", "adapters"], cwd=REPO,
                               capture_output=True, text=True, check=False).stdout.strip()
        return head + (" (hub/adapters modified in the working tree)" if dirty else "")
    except OSError:
        return "unknown"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    head = "  ".join(c.rjust(widths[c]) for c in columns)
    lines = [head, "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(_fmt(r.get(c)).rjust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"JSON written to {path}")
