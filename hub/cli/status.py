"""``maatwerk-hub status CASE_ID``: a case's timeline from the hub's state."""

from __future__ import annotations

import argparse
import asyncio

from hub.config import Settings
from hub.ops.status import CaseStatus, case_status, render
from hub.state.database import open_database
from hub.state.migrations import migrate


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "status", help="a case's timeline: messages, receipts, responses, deadlines, time-outs",
        description="Reads MAATWERK_STATE_URL. Shows no personal data: the hub keeps none there.",
    )
    parser.add_argument("case_id", metavar="CASE_ID")
    parser.add_argument("--json", action="store_true", help="print JSON instead")
    parser.set_defaults(handler=_status)


async def load_case(settings: Settings, case_id: str) -> CaseStatus:
    db = await open_database(settings.state_url)
    try:
        await migrate(db)
        return await case_status(db, case_id)
    finally:
        await db.close()


def _status(args: argparse.Namespace) -> int:
    status = asyncio.run(load_case(Settings.from_env(), args.case_id))
    print(status.model_dump_json(indent=2) if args.json else render(status))
    return 0 if status.messages else 1
