"""``maatwerk-backoffice NAME``: one demo back office as a process of its own (the compose stack).

The same stand-in the demo runs in-process (:mod:`demo.offices`), answering the REST contract of
docs/adapters/agency-contract.md the way the worked case needs: CJIB and Toeslagen grant, UWV
grants in part, DUO refuses, SVB holds the request (``--decision`` overrides it); ``loket`` is
the Maatwerkloket's case system, which accepts escalations. It serves
``/backoffice/NAME/...`` and ``GET /healthz`` and logs one line per call without the payload (the
payload holds a BSN).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from demo import case
from demo.offices import BackOfficeCall, Decision, Offices, WebhookCall

NAMES: tuple[str, ...] = (*case.AGENCIES, "loket")
DECISIONS = ("granted", "partially_granted", "refused", "hold")
log = logging.getLogger("maatwerk.backoffice")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maatwerk-backoffice",
        description="Serves one demo back office (an agency's, or the loket's case system) on "
        "BACKOFFICE_HOST:BACKOFFICE_PORT until SIGTERM/SIGINT. The adapter's BACKOFFICE_URL is "
        "http://HOST:PORT/backoffice/NAME; calls need 'Authorization: Bearer BACKOFFICE_TOKEN' "
        "when that is set. GET /healthz answers 200 while it runs. Demo only: it decides every "
        "request the same way.")
    parser.add_argument("name", choices=NAMES, metavar="NAME", help=", ".join(NAMES))
    parser.add_argument("--host", default=os.environ.get("BACKOFFICE_HOST") or "127.0.0.1",
                        help="address to listen on (default: BACKOFFICE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("BACKOFFICE_PORT") or 8000),
                        help="port (default: BACKOFFICE_PORT or 8000)")
    parser.add_argument("--decision", choices=DECISIONS,
                        default=os.environ.get("BACKOFFICE_DECISION") or None,
                        help="how pause requests are answered (default: BACKOFFICE_DECISION or "
                        "the worked case's decision for NAME)")
    return parser


def offices_for(name: str, decision: str | None, token: str | None) -> Offices:
    decisions = dict(case.DECISIONS)
    if decision is not None and name in decisions and decision != decisions[name].decision:
        decisions[name] = Decision(decision)

    def listener(call: BackOfficeCall | WebhookCall) -> None:
        if isinstance(call, BackOfficeCall):
            log.info("%s %s -> %d", call.participant, call.path, call.status)

    offices = Offices(decisions=decisions, listener=listener,
                      escalation_answer=case.escalation_answer("ML-DEMO-0001"),
                      information=case.INFORMATION)
    offices.token = token or ""
    return offices


async def serve(name: str, host: str, port: int, decision: str | None,
                stop: asyncio.Event) -> None:
    offices = await offices_for(name, decision, os.environ.get("BACKOFFICE_TOKEN")).start(
        host, port)
    assert offices.server is not None
    log.info("back office %s on http://%s:%d/backoffice/%s", name, host, offices.server.port,
             name)
    try:
        await stop.wait()
    finally:
        await offices.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(args.name, args.host, args.port, args.decision, stop)

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"maatwerk-backoffice: cannot listen on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
