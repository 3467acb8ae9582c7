"""``maatwerk-hub deadletters list|show|replay|purge`` (thin; hub.ops.deadletters does the work)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hub.config import Settings
from hub.contract.registry import load_registry
from hub.ops.deadletters import DeadLetterDesk
from hub.state.audit import AuditLog
from hub.state.database import open_database
from hub.state.migrations import migrate

T = TypeVar("T")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "deadletters", help="inspect, replay and purge the dead-letter queue",
        description="Works on maatwerk.dead-letter as the hub's broker user (AMQP_URL). Viewing "
        "a body, replaying and purging are recorded in the audit trail "
        "(MAATWERK_STATE_URL). Dead letters older than MAATWERK_DEADLETTER_RETENTION_DAYS are "
        "dropped by the broker once 'topology apply --users' has set the retention policy.")
    parser.add_argument("--scan", type=int, default=1000, metavar="N",
                        help="look at most at the first N dead letters (default 1000)")
    parser.add_argument("--operator", default=None,
                        help="who you are, for the audit trail (default: the login name)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="key, age, reason, source, sender, type; no body")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="headers and refusal detail of one dead letter",
                              description="Without --body nothing of the message's content is "
                              "printed. --body prints it and writes an audit record first.")
    show.add_argument("key", metavar="KEY", help="the key from 'deadletters list'")
    show.add_argument("--body", action="store_true", help="also print the body (audited)")
    show.set_defaults(handler=_show)
    replay = actions.add_parser(
        "replay", help="send the original bytes through the hub again, as its original sender",
        description="The hub runs the whole pipeline again with the user id the broker "
        "validated for the original (a message dead-lettered from an inbox is delivered to "
        "that inbox again, if the audit trail shows the hub routed exactly these bytes there). "
        "The identity comes from the dead letter only: a replay cannot send as anyone else.")
    replay.add_argument("key", metavar="KEY")
    replay.set_defaults(handler=_replay)
    purge = actions.add_parser("purge", help="remove dead letters (audited)")
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("key", metavar="KEY", nargs="?", help="one dead letter")
    which.add_argument("--older-than", type=float, metavar="DAYS",
                       help="every dead letter older than DAYS")
    which.add_argument("--all", action="store_true", help="every dead letter")
    purge.set_defaults(handler=_purge)


def _run(args: argparse.Namespace, work: Callable[[DeadLetterDesk], Awaitable[T]]) -> T:
    settings = Settings.from_env()
    registry = load_registry(settings.registry_path, settings.keys_dir)

    async def go() -> T:
        db = await open_database(settings.state_url)
        try:
            await migrate(db)
            desk = DeadLetterDesk(
                amqp_url=settings.amqp_url, tls=settings.tls, hash_key=settings.hash_key,
                registry=registry, audit=AuditLog(db, hash_key=settings.hash_key),
                operator=args.operator or getpass.getuser(), scan=args.scan)
            return await work(desk)
        finally:
            await db.close()

    return asyncio.run(go())


def _age(seconds: float) -> str:
    if seconds < 0:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _list(args: argparse.Namespace) -> int:
    letters = _run(args, lambda desk: desk.letters())
    if args.json:
        for letter in letters:
            print(json.dumps(letter.summary()))
        return 0
    print(f"{'KEY':<38} {'AGE':>5}  {'REASON':<26} {'SOURCE':<18} {'SENDER':<16} TYPE")
    for x in letters:
        print(f"{x.key:<38} {_age(x.age_seconds):>5}  {x.reason:<26} {x.source:<18} "
              f"{x.sender or '-':<16} {x.type or '-'}")
    print(f"{len(letters)} dead letters")
    return 0


def _show(args: argparse.Namespace) -> int:
    shown = _run(args, lambda desk: desk.show(args.key, body=args.body))
    info: dict[str, Any] = {**shown.letter.summary(), "message_id": shown.letter.message_id,
                            "detail": shown.letter.detail, "user_id": shown.letter.user_id,
                            "headers": shown.headers}
    print(json.dumps(info, indent=2, ensure_ascii=False))
    if shown.body is not None:
        print("-- body (this viewing is recorded in the audit trail) --", file=sys.stderr)
        sys.stdout.write(shown.body.decode(errors="replace") + "\n")
    return 0


def _replay(args: argparse.Namespace) -> int:
    plan = _run(args, lambda desk: desk.replay(args.key))
    how = (f"through the pipeline as {plan.user_id or '(no user id: it will be refused)'}"
           if plan.mode == "pipeline" else f"redelivered to {plan.target}'s inbox")
    print(f"{args.key}: sent back to the hub, {how}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    count = _run(args, lambda desk: desk.purge(key=args.key, older_than_days=args.older_than,
                                               everything=args.all))
    print(f"{count} dead letters removed")
    return 0
