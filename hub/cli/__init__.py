"""The ``maatwerk-hub`` command. Each command group lives in its own module with ``add_parser``.

Every command has ``--help``; an expected error (bad file, bad key, unknown participant) exits
non-zero with one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

from hub.config import describe_variables
from hub.contract.errors import HubError


class _Group(Protocol):
    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


def _groups() -> list[_Group]:
    from hub.cli import (
        audit,
        conformance,
        contract,
        deadletters,
        keys,
        participant,
        policy,
        register,
        reload,
        report,
        serve,
        status,
        tokens,
        trust,
    )

    return [serve, status, reload, keys, participant, trust, register, contract, policy,
            audit, conformance, tokens, deadletters, report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maatwerk-hub",
        description="Maatwerk Hub: signed, minimal case messages over RabbitMQ.",
        epilog="environment variables:\n" + describe_variables(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _groups():
        group.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except HubError as exc:
        print(f"maatwerk-hub: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
