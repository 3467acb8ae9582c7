"""``maatwerk-hub reload``: ask every hub replica to reload its configuration files now."""

from __future__ import annotations

import argparse
import asyncio
import socket

from hub.config import Settings
from hub.contract.messages import utc_now
from hub.state import config_versions as cv
from hub.state.database import open_database
from hub.state.migrations import migrate


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "reload", help="make every replica reload registry, keys, policy and agreements",
        description="Writes a reload request to the shared state (MAATWERK_STATE_URL); each "
        "replica's reloader picks it up within MAATWERK_RELOAD_SECONDS, validates its files and "
        "commits a new version, or keeps the one in force and shows degraded in /readyz. "
        "Replicas also reload on their own when the files change. Prints the versions in force.",
    )
    parser.set_defaults(handler=_reload)


def _reload(args: argparse.Namespace) -> int:
    settings = Settings.from_env()

    async def run() -> tuple[int, cv.Committed | None]:
        db = await open_database(settings.state_url)
        try:
            await migrate(db)
            request = await cv.request_reload(db, now=utc_now(), by=f"cli@{socket.gethostname()}")
            head = await cv.head(db)
            return request, (await cv.get(db, head.generation) if head else None)
        finally:
            await db.close()

    request, committed = asyncio.run(run())
    print(f"reload request {request} written")
    if committed is not None:
        print(f"in force: generation {committed.generation} (registry {committed.registry_version}"
              f", policy {committed.policy_version}, agreements {committed.agreements_version}, "
              f"committed by {committed.committed_by})")
    return 0
