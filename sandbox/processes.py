"""Child processes of a sandbox (hubs, adapters, relays): started with their output in a log
file, told to stop with SIGTERM, killed only when they do not stop in time.

Each child runs in its own process group (a terminal's Ctrl-C reaches the parent only, which then
stops its children in order) and, on Linux, gets ``PR_SET_PDEATHSIG`` = SIGTERM: even a parent
killed with SIGKILL leaves no orphans. (The signal follows the *thread* that started the child:
start children from the event loop's thread, not from a worker thread.)
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "Child",
    "adapter_command",
    "child_env",
    "hub_command",
    "hub_env",
    "spawn",
    "stop_all",
]

PR_SET_PDEATHSIG = 1


@cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up in the parent (never between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    prctl: Callable[..., int] = libc.prctl
    return prctl


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    prctl = _prctl()
    if prctl is not None:
        with contextlib.suppress(Exception):
            prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def terminate(self) -> None:
        """SIGTERM: the graceful stop (finish the messages in hand, then exit 0)."""
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
        """SIGKILL (no graceful stop at all) and reap it."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait(timeout=10)

    async def stop(self, grace: float = 30.0) -> int:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; the exit code (negative: the
        signal that ended it)."""
        self.terminate()
        if not await self.wait(grace):
            self.kill()
        code = self.process.wait()
        return code


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path,
          cwd: Path | None = None) -> Child:
    """Start ``argv`` with exactly ``env``; stdout and stderr are appended to ``log``."""
    _prctl()  # look it up before forking
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,  # a terminal's Ctrl-C reaches the parent only; it stops the children
            preexec_fn=_die_with_parent,  # only prctl, looked up before the fork
        )
    return Child(name=name, process=process, log=log)


async def stop_all(children: Sequence[Child], within: float = 15.0) -> list[str]:
    """SIGTERM every child, wait for all, SIGKILL those still running; return their names."""
    for child in children:
        child.terminate()
    killed = []
    for child in children:
        if not await child.wait(within):
            child.kill()
            killed.append(child.name)
    return killed


def hub_command(*args: str) -> list[str]:
    """How to run ``maatwerk-hub ARGS`` with this interpreter (no console script needed)."""
    return [sys.executable, "-m", "hub", *args]


def adapter_command(*args: str) -> list[str]:
    """How to run ``maatwerk-adapter ARGS`` with this interpreter (no console script needed)."""
    return [sys.executable, "-m", "adapters.cli", *args]


def child_env(base: Mapping[str, str] | None = None, /, **extra: str) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``extra`` set."""
    env = dict(os.environ if base is None else base)
    env.update(extra)
    return env


def hub_env(*, amqp_url: str, keys_dir: Path, state_url: str, registry_file: Path | None = None,
            http_port: int = 0, log_level: str = "WARNING", **extra: str) -> dict[str, str]:
    """The variables of a hub in a sandbox (``extra``: more ``MAATWERK_*`` settings by name)."""
    env = {
        "AMQP_URL": amqp_url,
        "MAATWERK_KEYS_DIR": str(keys_dir),
        "MAATWERK_STATE_URL": state_url,
        "MAATWERK_HTTP_PORT": str(http_port),
        "MAATWERK_LOG_LEVEL": log_level,
        # outside --dev-keys the hub needs its own key: this run's, or the caller's
        "MAATWERK_HASH_KEY": os.environ.get("MAATWERK_HASH_KEY") or "sandbox-hash-key-of-this-run",
        **extra,
    }
    if registry_file is not None:
        env["MAATWERK_REGISTRY"] = str(registry_file)
    return env
