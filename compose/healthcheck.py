#!/usr/bin/env python3
"""Container health checks of the compose stack (standard library only; copied into the image).

    healthcheck.py http URL          exit 0 when URL answers 200 within 3 s
    healthcheck.py amqp [PORT] [--pid PID]
                                     exit 0 when process PID (default 1, the container's main
                                     process) holds an established TCP connection to PORT
                                     (default 5672, AMQP; 5671 for AMQPS)

The agency and loket adapters serve no HTTP: ``amqp`` tells whether the adapter is connected to
the broker, by matching the process's socket inodes against /proc/PID/net/tcp and tcp6.
Anything else exits 1 with one line saying why.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

ESTABLISHED = "01"


def check_http(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310 (http only)
            status = int(answer.status)
    except (OSError, urllib.error.URLError) as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    folder = f"/proc/{pid}/fd"
    for fd in os.listdir(folder):
        try:
            target = os.readlink(os.path.join(folder, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def connected(pid: int, port: int) -> bool:
    """True when ``pid`` has an ESTABLISHED TCP connection whose remote port is ``port``."""
    inodes = socket_inodes(pid)
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote, state, inode = fields[2], fields[3], fields[9]
            if state == ESTABLISHED and inode in inodes and int(remote.rsplit(":", 1)[1],
                                                                16) == port:
                return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="healthcheck.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="check", required=True)
    http = sub.add_parser("http", help="GET URL answers 200")
    http.add_argument("url")
    amqp = sub.add_parser("amqp", help="the process is connected to the broker")
    amqp.add_argument("port", nargs="?", type=int, default=5672)
    amqp.add_argument("--pid", type=int, default=1)
    args = parser.parse_args(argv)
    if args.check == "http":
        problem = check_http(args.url)
    else:
        try:
            problem = None if connected(args.pid, args.port) else (
                f"process {args.pid} has no connection to port {args.port}")
        except OSError as exc:
            problem = f"process {args.pid}: {exc}"
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
