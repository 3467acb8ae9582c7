"""``maatwerk-adapter``: run a reference adapter, or publish a message as a participant.

Its own console script, so that the hub never imports ``adapters``; it needs only the contract.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.contract.errors import ConfigError, HubError


def build_parser() -> argparse.ArgumentParser:
    from adapters.runner import ADAPTERS
    from adapters.sdk.config import describe_variables

    epilog = "environment variables:\n" + describe_variables()
    group = argparse.ArgumentParser(
        prog="maatwerk-adapter",
        description="Reference adapters for Maatwerk Hub (docs/adapters/): run an agency, "
        "municipality or loket adapter; publish a message.", epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="run an adapter until SIGTERM/SIGINT",
        description="Connects as MAATWERK_PARTICIPANT (agencies and loket: their own id), "
        "consumes the inbox and calls the back office (agencies), keeps cases and serves the "
        "local HTTP API (municipality). SIGTERM or SIGINT: stop taking messages, finish the "
        "ones in hand, exit.", epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("name", choices=ADAPTERS, metavar="NAME", help=", ".join(ADAPTERS))
    run.set_defaults(handler=_run)

    send = actions.add_parser(
        "send", help="check, sign and publish one message as MAATWERK_PARTICIPANT",
        description="Publishes a message the registry lets MAATWERK_PARTICIPANT send (e.g. a "
        "municipality's timeout.request); prints its id. The body is a JSON file, '-' for "
        "stdin, or inline JSON.", epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument("--type", required=True, help="message type, e.g. timeout.request")
    send.add_argument("--recipient", required=True, help="participant id, e.g. cjib")
    send.add_argument("--case-id", required=True, help="the case id, e.g. ZW-2026-0042")
    send.add_argument("--body", required=True, help="JSON file, '-' or inline JSON object")
    send.add_argument("--in-reply-to", help="id of the message this one follows up")
    send.add_argument("--conversation-id", help="conversation of the message followed up")
    send.set_defaults(handler=_send)

    end = actions.add_parser(
        "end-pause", help="an agency ends or suspends a pause it granted (tells the municipality)",
        description="As MAATWERK_PARTICIPANT (an agency), with the state of its running adapter "
        "(MAATWERK_ADAPTER_STATE), send timeout.end_by_agency (or, with --suspend, "
        "timeout.suspend) for the pause PAUSE_ID (the back office's request_id) to the "
        "municipality that asked for it. Prints the message id.", epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    end.add_argument("pause_id", metavar="PAUSE_ID", help="the request_id of the pause")
    end.add_argument("--reason", required=True,
                     help="reason code, e.g. agreements_broken, new_debts, solution_found")
    end.add_argument("--on", help="date it ends or is suspended from (YYYY-MM-DD; default today)")
    end.add_argument("--suspend", action="store_true", help="suspend instead of end")
    end.add_argument("--resume-on", help="with --suspend: when the pause resumes (YYYY-MM-DD)")
    end.set_defaults(handler=_end_pause)
    return group


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except HubError as exc:
        print(f"maatwerk-adapter: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _run(args: argparse.Namespace) -> int:
    from adapters.runner import main

    return main(args.name)


def _read_body(source: str) -> Any:
    try:
        if source == "-":
            return json.load(sys.stdin)
        if source.lstrip().startswith("{"):
            return json.loads(source)
        return json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--body {source}: {exc}") from exc


def _send(args: argparse.Namespace) -> int:
    from adapters.cases import CaseAdapter, CaseStore, PublishError
    from adapters.sdk.client import HubClient
    from adapters.sdk.config import AdapterSettings

    settings = AdapterSettings.from_env()
    body = _read_body(args.body)

    async def send() -> str:
        client = HubClient.from_settings(settings)
        adapter = CaseAdapter(client, CaseStore(settings.state_dir / "cases"))
        await client.connect()
        try:
            message_id = await adapter.publish(
                type=args.type, recipient=args.recipient, case_id=args.case_id, body=body,
                in_reply_to=args.in_reply_to, conversation_id=args.conversation_id)
        finally:
            await client.close()
        return str(message_id)

    try:
        print(asyncio.run(send()))
    except PublishError as exc:
        print(f"maatwerk-adapter send: {exc.field}: {exc.detail}", file=sys.stderr)
        return 2
    return 0


def _end_pause(args: argparse.Namespace) -> int:
    from datetime import date

    from adapters.agencies.instruments import AgencyInstruments
    from adapters.sdk.client import HubClient
    from adapters.sdk.config import AdapterSettings
    from adapters.sdk.errors import AdapterError
    from hub.contract.instruments import AgencyPauseReason
    from hub.contract.policy import load_policy

    try:
        reason = AgencyPauseReason(args.reason).value
        on = date.fromisoformat(args.on) if args.on else None
        resume = date.fromisoformat(args.resume_on) if args.resume_on else None
    except ValueError as exc:
        raise ConfigError(f"end-pause: {exc}") from exc
    settings = AdapterSettings.from_env()

    async def send() -> str:
        client = HubClient.from_settings(settings)
        await client.connect()
        try:
            contact = client.participant.contact
            tools = AgencyInstruments(client, None, load_policy(), {
                "name": contact.contact_point, "email": contact.email, "phone": contact.phone})
            if args.suspend:
                sent = await tools.suspend_pause(args.pause_id, reason_code=reason,
                                                 suspended_from=on, resume_on=resume)
            else:
                sent = await tools.end_pause(args.pause_id, reason_code=reason, ended_on=on)
        finally:
            await client.close()
        return str(sent)

    try:
        print(asyncio.run(send()))
    except AdapterError as exc:
        print(f"maatwerk-adapter end-pause: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
