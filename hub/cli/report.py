"""``maatwerk-hub report knelpunten``: the LET's report of deviations and refused information."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from hub.config import Settings
from hub.state import deviations
from hub.state.database import open_database
from hub.state.deviations import KnelpuntenReport
from hub.state.migrations import migrate


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report", help="reports for the Landelijk Escalatie Team (no personal data)",
        description="Reads MAATWERK_STATE_URL.")
    reports = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    knelpunten = reports.add_parser(
        "knelpunten", help="deviations per rule or law and per organisation, with outcomes",
        description="Counts the register of deviations (afwijkingen) per law and article and "
                    "per organisation, with their outcomes, and information refused per rule. "
                    "Holds no BSN, no case id and no names.")
    knelpunten.add_argument("--json", action="store_true", help="print JSON instead")
    knelpunten.set_defaults(handler=_knelpunten)


async def load_report(settings: Settings) -> KnelpuntenReport:
    db = await open_database(settings.state_url)
    try:
        await migrate(db)
        return await deviations.knelpunten(db, datetime.now(UTC))
    finally:
        await db.close()


def _knelpunten(args: argparse.Namespace) -> int:
    report = asyncio.run(load_report(Settings.from_env()))
    print(report.model_dump_json(indent=2) if args.json else deviations.render(report))
    return 0
