"""``maatwerk-demo``: start the hub and the reference adapters, play the worked case.

Its own console script: the demo sits outside the ``hub`` package, which never imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    demo = argparse.ArgumentParser(
        prog="maatwerk-demo",
        description="Runs the hub, the agency, municipality and loket adapters and plays a case. "
        "Creates the broker users (RabbitMQ management API), generates dev keys "
        "when missing, starts the hub and the seven reference adapters as child processes with "
        "fake back offices, and plays the worked case: a register lookup and update, a refused "
        "request, information asked of CJIB (answered, and refused naming the rule), time-out "
        "requests to five agencies (CJIB and Toeslagen accept, UWV partially, DUO declines, SVB "
        "stays silent: reminder, then overdue to the loket), an escalation to the "
        "Maatwerkloket, a bridging decision, a LET referral and decision, two deviations, the "
        "settlement (its due date passes: reminder, overdue, repaid), CJIB ending its noodstop "
        "for broken agreements, and a lifted time-out. Prints the timeline, the case status "
        "and the knelpunten report, then keeps running (the console at /console) until Ctrl-C. "
        "Uses AMQP_URL (host, port and vhost), "
        "MAATWERK_STATE_URL, MAATWERK_KEYS_DIR, MAATWERK_REGISTRY and MAATWERK_MANAGEMENT_URL "
        "from the environment. See docs/demo.md.",
    )
    demo.add_argument("--no-wait", dest="wait", action="store_false",
                      help="stop everything and exit once the case has played (for tests)")
    demo.add_argument("--http-port", type=int,
                      default=int(os.environ.get("MAATWERK_HTTP_PORT") or 8080),
                      help="port of the hub's console, /metrics and /cases (default: "
                      "MAATWERK_HTTP_PORT or 8080)")
    demo.add_argument("--state-dir", type=Path, default=Path("var/demo"),
                      help="agreements file, adapter state and logs (default: var/demo)")
    demo.add_argument("--passwords", type=Path, default=Path("var/broker-passwords.json"),
                      help="broker passwords JSON, shared with 'topology apply --users' "
                      "(missing users get a random one)")
    demo.add_argument("--response-seconds", type=float, default=20.0,
                      help="answer deadline in this demo (default 20; normally 2 working days)")
    demo.add_argument("--receipt-seconds", type=float, default=10.0,
                      help="receipt deadline in this demo (default 10; normally 15 minutes)")
    demo.add_argument("--watch-seconds", type=float, default=1.0,
                      help="how often the hub's deadline watcher runs (default 1)")
    demo.add_argument("--case-id", help="case id to use (default: a new ZW-YYYY-XXXXXX)")
    return demo


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _demo(args)
    except KeyboardInterrupt:
        return 130


def _demo(args: argparse.Namespace) -> int:
    from demo import DemoOptions, run_demo
    from hub.core.broker_admin import DEFAULT_MANAGEMENT_URL

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = DemoOptions(
        state_dir=args.state_dir, passwords=args.passwords, http_port=args.http_port,
        response_seconds=args.response_seconds, receipt_seconds=args.receipt_seconds,
        watch_seconds=args.watch_seconds, wait=args.wait, case_id=args.case_id,
        management_url=os.environ.get("MAATWERK_MANAGEMENT_URL") or DEFAULT_MANAGEMENT_URL)
    return asyncio.run(run_demo(options))


if __name__ == "__main__":
    sys.exit(main())
