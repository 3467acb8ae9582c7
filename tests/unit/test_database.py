"""The database seam (hub.state.database): a statement of one task never lands inside a
transaction another task holds open, on SQLite (one connection, a lock) as on PostgreSQL (a pool).
On SQLite it used to: a shared "in a transaction" flag let any task's statement run straight
through the open transaction, and be rolled back with it."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.cli.serve import freeze_startup_heap
from hub.contract.errors import HubError
from hub.state import ledger, wal_checkpoints
from hub.state.database import Database, SqliteDatabase, from_ms, open_database, to_ms
from hub.state.health import record_probe
from hub.state.migrations import migrate
from hub.state.wal_checkpoints import SAFETY_PAGES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def replicas(db: Database) -> set[str]:
    return {r["replica"] for r in await db.fetch("SELECT replica FROM hub_health")}


async def test_another_tasks_write_survives_a_transaction_rolled_back_meanwhile(
        db: Database) -> None:
    opened, written = asyncio.Event(), asyncio.Event()

    async def rolled_back() -> None:
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await record_probe(tx, "inside", NOW)
                opened.set()
                await asyncio.sleep(0.3)  # the other task writes now, or waits its turn
                raise RuntimeError("roll back")

    async def outside() -> None:
        await opened.wait()
        await record_probe(db, "outside", NOW)
        written.set()

    await asyncio.wait_for(asyncio.gather(rolled_back(), outside()), 30)
    assert written.is_set()
    assert await replicas(db) == {"outside"}


async def test_the_owner_runs_its_own_statements_through_the_transaction(db: Database) -> None:
    async with db.transaction():
        await record_probe(db, "mine", NOW)  # the same task, on the outer handle: no deadlock
        assert await replicas(db) == {"mine"}
    assert await replicas(db) == {"mine"}


async def test_a_nested_transaction_is_refused_not_deadlocked(
        db: Database, state_url: str) -> None:
    if not state_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's outer handle opens a new connection per transaction")
    async with db.transaction():
        with pytest.raises(HubError, match="nested"):
            async with asyncio.timeout(5), db.transaction():
                pass


async def test_overdue_answers_page_by_key_on_either_backend(db: Database) -> None:
    """Keyset paging of the overdue list (``/overdue``): deadline, then message id, then awaited;
    equal deadlines split across pages are neither lost nor repeated."""
    for i in range(5):
        await db.execute(
            "INSERT INTO expectations (message_id, awaited, message_type, case_id, "
            "conversation_id, sender, recipient, routed_at, deadline, grace_ms, escalated_at) "
            "VALUES ($1, 'response', 'timeout.request', $2, 'c', 'gm0193', 'uwv', 0, $3, 0, 1)",
            f"m{i}", f"ZW-{i}", 1000 + i // 2)
    seen: list[str] = []
    page = await ledger.overdue(db, limit=2)
    for _ in range(5):
        seen += [e.message_id for e in page]
        if len(page) < 2:
            break
        page = await ledger.overdue(db, limit=2, after=ledger.overdue_key(page[-1]))
    assert seen == ["m0", "m1", "m2", "m3", "m4"]


def test_a_stored_time_read_back_is_the_same_millisecond() -> None:
    """``to_ms(from_ms(ms)) == ms`` for every millisecond (in floating point 1,001 came back as
    1,000), and a moment between two milliseconds is stored as the earlier one."""
    for ms in [*range(0, 5000), 1_796_000_000_001, 1_796_000_000_999, 4_102_444_800_123]:
        moment = from_ms(ms)
        assert moment is not None and to_ms(moment) == ms
    assert to_ms(datetime(2026, 12, 1, 12, 0, 0, 999_999, tzinfo=UTC)) % 1000 == 999
    assert from_ms(None) is None


async def test_the_hubs_sqlite_store_is_checkpointed_by_a_thread_not_by_its_commits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``background_checkpoints``: the writer's own auto-checkpoint is only a safety net (its
    commits on the event loop used to copy the log back and fsync every 1,000 pages); a
    thread copies the log back and stops when the store closes."""
    monkeypatch.setattr(wal_checkpoints, "RESTART_FRAMES", 1)  # restart the log every time
    db = await open_database(f"sqlite:///{tmp_path / 'hub.sqlite3'}",
                             background_checkpoints=True)
    assert isinstance(db, SqliteDatabase) and db.checkpoints is not None
    try:
        await migrate(db)
        assert (await db.fetch("PRAGMA wal_autocheckpoint"))[0]["wal_autocheckpoint"] == \
            SAFETY_PAGES
        for i in range(50):
            await record_probe(db, f"r{i}", NOW)
        checkpoints = db.checkpoints
        for _ in range(100):
            last = checkpoints.last
            if last is not None and last[1] > 0 and last[2] == last[1]:
                break
            await asyncio.sleep(0.05)
        assert last is not None and last[1] > 0 and last[2] == last[1]  # all copied back
        assert checkpoints.restarts > 0  # and the log begun anew, so it stays short
        assert checkpoints._thread.is_alive()
    finally:
        await db.close()
    assert not checkpoints._thread.is_alive()
    plain = await open_database(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    assert isinstance(plain, SqliteDatabase) and plain.checkpoints is None
    await plain.close()


def test_the_run_process_freezes_its_startup_heap() -> None:
    """``hub run`` moves what the start made out of the collector's reach (full collections
    paused routing for 28 to 43 ms)."""
    gc.unfreeze()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
