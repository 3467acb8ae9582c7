"""``maatwerk-hub conformance PARTICIPANT``: test a live adapter through the broker (thin: the
kit is :mod:`hub.ops.conformance`)."""

from __future__ import annotations

import argparse
import asyncio
import textwrap
from pathlib import Path

from hub.contract.messages import MESSAGE_TYPES
from hub.ops.conformance import (
    CHECKS,
    KitSettings,
    describe_variables,
    junit_xml,
    render,
    run_conformance,
)
from hub.telemetry.logs import configure_logging

DESCRIPTION = textwrap.fill(
    "Tests the live adapter of PARTICIPANT, in any language, through the broker. The kit "
    "stands where the hub stands: it delivers signed messages of every type the registry says "
    "PARTICIPANT receives to maatwerk.inbox.PARTICIPANT (through maatwerk.deliver, as the hub "
    "would), plus tampered ones, a forged hub notice, an expired message and a duplicate, and "
    "consumes what the adapter publishes to maatwerk.inbound. It needs the hub's signing key "
    "and the private keys of the senders it plays (MAATWERK_KEYS_DIR/private/), and a broker "
    "user with the hub's permissions. RUN IT ON A VHOST WHERE NO HUB RUNS (a dedicated test "
    "vhost): it consumes maatwerk.hub.inbound itself, and refuses to start when another "
    "consumer reads it. Prints a pass/fail table; exit code 0 when every check passes, 1 when "
    "one fails, 2 on a configuration error. See docs/conformance.md.", width=90)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    checks = "\n".join(f"  {name:<17} {what}" for name, what in CHECKS.items())
    parser = sub.add_parser(
        "conformance", help="test a live adapter through the broker (run without a hub)",
        description=DESCRIPTION,
        epilog=f"checks:\n{checks}\n\nenvironment variables:\n{describe_variables()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("participant", metavar="PARTICIPANT",
                        help="the registry id of the adapter under test, e.g. cjib")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML here")
    parser.add_argument("--receipt-seconds", type=float,
                        help="how long a receipt may take (MAATWERK_CONFORMANCE_RECEIPT_SECONDS)")
    parser.add_argument("--answer-seconds", type=float,
                        help="how long an answer may take (MAATWERK_CONFORMANCE_ANSWER_SECONDS)")
    parser.add_argument("--settle-seconds", type=float,
                        help="quiet time at the end (MAATWERK_CONFORMANCE_SETTLE_SECONDS)")
    parser.add_argument("--wait", type=float, dest="wait_seconds",
                        help="how long to wait for the adapter to consume its inbox "
                        "(MAATWERK_CONFORMANCE_WAIT_SECONDS)")
    parser.add_argument("--manual-answer", action="append", default=[], metavar="TYPE",
                        choices=MESSAGE_TYPES,
                        help="a type whose answer a person writes: do not wait for it "
                        "(repeatable; an answer that comes is still checked)")
    parser.set_defaults(handler=_conformance)


def _conformance(args: argparse.Namespace) -> int:
    settings = KitSettings.from_env(
        args.participant, receipt_seconds=args.receipt_seconds,
        answer_seconds=args.answer_seconds, settle_seconds=args.settle_seconds,
        wait_seconds=args.wait_seconds, manual_answers=args.manual_answer)
    configure_logging(settings.log_level)
    report = asyncio.run(run_conformance(settings))
    print(render(report))
    if args.junit is not None:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_bytes(junit_xml(report))
    return 0 if report.ok else 1
