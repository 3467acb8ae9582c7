"""Fresh PostgreSQL databases for one run, dropped afterwards (never the server's own)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["DEFAULT_PG_URL", "Databases", "PostgresUnavailable", "fresh_database", "pg_url"]

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class PostgresUnavailable(Exception):
    """The PostgreSQL server could not be reached to create a database."""


def pg_url() -> str:
    """The server to make databases on: ``MAATWERK_TEST_PG_URL`` or the local default."""
    return os.environ.get("MAATWERK_TEST_PG_URL") or DEFAULT_PG_URL


class Databases:
    """Creates databases ``<prefix>_<random hex>`` through ``admin_url``; drops them all at
    :meth:`drop_all`."""

    def __init__(self, admin_url: str, prefix: str = "maatwerk_t") -> None:
        self.admin_url, self.prefix = admin_url, prefix
        self.urls: list[str] = []

    async def create(self) -> str:
        import asyncpg

        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        try:
            admin = await asyncpg.connect(self.admin_url)
        except (OSError, asyncpg.PostgresError) as exc:
            raise PostgresUnavailable(f"PostgreSQL not reachable at {self.admin_url}: "
                                      f"{exc}") from exc
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = f"{self.admin_url.rsplit('/', 1)[0]}/{name}"
        self.urls.append(url)
        return url

    async def drop(self, url: str) -> None:
        import asyncpg

        name = url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        if url in self.urls:
            self.urls.remove(url)

    async def drop_all(self) -> None:
        for url in list(self.urls):
            await self.drop(url)


@asynccontextmanager
async def fresh_database(admin_url: str, prefix: str = "maatwerk_t") -> AsyncIterator[str]:
    """The URL of a new database, dropped when the block ends."""
    databases = Databases(admin_url, prefix)
    url = await databases.create()
    try:
        yield url
    finally:
        await databases.drop_all()
