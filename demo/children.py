"""The demo's child processes: started in their own process group with their output in a log
file, told to stop with SIGTERM, killed only when they do not stop in time.

On Linux each child also gets ``PR_SET_PDEATHSIG`` = SIGTERM, so even a demo that is killed with
SIGKILL leaves no orphans behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def terminate(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    async def wait(self, within: float) -> bool:
        """Wait up to ``within`` seconds for the child to exit; True when it did."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.running:
                return True
            await asyncio.sleep(0.05)
        return not self.running

    def kill(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()


def spawn(name: str, argv: list[str], env: dict[str, str], log: Path) -> Child:
    """Start ``argv`` with ``env``; stdout and stderr go to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            process_group=0,  # a terminal's Ctrl-C reaches the demo only; it stops the children
            preexec_fn=_die_with_parent,  # before exec: the child has no other threads
        )
    return Child(name=name, process=process, log=log)


async def stop_all(children: list[Child], within: float = 15.0) -> list[str]:
    """SIGTERM every child, wait for all, SIGKILL those still running; return their names."""
    for child in children:
        child.terminate()
    killed = []
    for child in children:
        if not await child.wait(within):
            child.kill()
            killed.append(child.name)
    return killed


def maatwerk_hub_command() -> list[str]:
    """How to run ``maatwerk-hub`` with this interpreter (works without the console script)."""
    return [sys.executable, "-m", "hub"]


def maatwerk_adapter_command() -> list[str]:
    """How to run ``maatwerk-adapter`` with this interpreter (works without the console script)."""
    return [sys.executable, "-m", "adapters.cli"]


def child_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(extra)
    return env
