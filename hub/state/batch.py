"""Group commit: the record steps of the messages in flight, coalesced into one transaction.

Each message the router handles ends with a *record step*: a few statements (its outcome, the
ledger's expectations, the audit records) that must commit before the message is acknowledged.
Committed one by one they cost a transaction each (on PostgreSQL a WAL flush each). A
:class:`GroupCommit` collects the steps of concurrent callers and runs up to ``max_items`` of them
in one transaction, waiting at most ``max_wait`` seconds after the first one for more
(``MAATWERK_BATCH_MAX``, ``MAATWERK_BATCH_MS``), and not at all when no other caller is at work
(``company``: under a light load a message is not kept waiting for others that are not there).

What a caller of :meth:`GroupCommit.run` is promised:

- it returns only after the transaction holding its step **committed**, with its step's result;
- when the batch fails because of the store (:class:`StoreUnavailableError`, an audit write
  included), **every** member gets that error: nothing of the batch was written, and each caller
  retries as it would alone;
- when a step itself fails (any other error: a bug, a constraint of one message), the batch is
  rolled back and its steps are run again one transaction each, so that only the failing step's
  caller gets its error and the others are not blamed (redelivered, and dead-lettered in the end)
  for someone else's poison message.

Steps must do nothing but statements on the ``Database`` they are given (they may be run twice:
once in the failed batch, once alone). Steps of one batch never depend on each other: an answer
is routed only after its original's record committed (``OriginalInProgressError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hub.state.database import Database, StoreUnavailableError

log = logging.getLogger("maatwerk.batch")
T = TypeVar("T")
Step = Callable[[Database], Awaitable[T]]
"""One caller's record step: statements on the transaction it is given; returns its result."""

BATCH_MAX, BATCH_MS = 64, 2.0
"""Defaults of ``MAATWERK_BATCH_MAX`` (steps per transaction) and ``MAATWERK_BATCH_MS``."""


@dataclass
class _Item:
    step: Step[Any]
    future: asyncio.Future[Any]
    queued_at: float = field(default=0.0)


class GroupCommit:
    """Runs record steps of concurrent callers in shared transactions; see the module doc.

    ``max_items`` 1 turns batching off (every step its own transaction, at once).
    ``workers`` is how many batches may be in flight at a time (1 for SQLite, whose writes
    serialise anyway; more lets PostgreSQL overlap one batch's round trips with another's commit).
    """

    def __init__(self, db: Database, *, max_items: int = BATCH_MAX, max_wait: float = BATCH_MS /
                 1000, workers: int = 1) -> None:
        if max_items < 1 or max_wait < 0 or workers < 1:
            raise ValueError("max_items and workers must be at least 1, max_wait not negative")
        self.db = db
        self.max_items = max_items
        self.max_wait = max_wait
        self.workers = workers
        self.batches = 0
        """Transactions committed or failed so far (for tests and metrics)."""
        self.company: Callable[[], int] | None = None
        """How many callers could join a batch at all (the router's deliveries in hand). When
        no more than are already waiting, the batch goes at once: waiting ``max_wait`` for
        company that cannot come only adds latency (at a steady 200 msg/s it was the hub's
        p50, 7 ms against 4). None: always wait (the old behaviour)."""
        self._pending: list[_Item] = []
        self._full = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()  # held, so that no task is collected
        self._workers = 0
        """Workers still in their loop. Counted by the worker itself, without an await between
        its last look at ``_pending`` and the count going down: a task's done-callback runs
        later, and a step queued in between would find no worker to take it (and wait for the
        next step to come along, which may never happen)."""

    async def run(self, step: Step[T]) -> T:
        """Run ``step`` in the next batch; return its result once its transaction committed."""
        if self.max_items == 1:
            async with self.db.transaction() as tx:
                result = await step(tx)
            self.batches += 1
            return result
        loop = asyncio.get_running_loop()
        item = _Item(step, loop.create_future(), loop.time())
        self._pending.append(item)
        if len(self._pending) >= self.max_items or not self._company_coming():
            self._full.set()  # full, or everyone who could come is in: go now
        if self._workers < self.workers:
            self._workers += 1
            task = asyncio.create_task(self._worker())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        done: T = await item.future
        return done

    async def _worker(self) -> None:
        try:
            await self._take_batches()
        finally:
            self._workers -= 1

    async def _take_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            wait = self._pending[0].queued_at + self.max_wait - loop.time()
            if len(self._pending) < self.max_items and wait > 0 and self._company_coming():
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), wait)
                continue  # look again: another worker may have taken them
            batch = self._pending[:self.max_items]
            del self._pending[:self.max_items]
            if len(self._pending) < self.max_items:
                self._full.clear()
            await self._commit(batch)

    def _company_coming(self) -> bool:
        return self.company is None or self.company() > len(self._pending)

    async def _commit(self, batch: list[_Item]) -> None:
        self.batches += 1
        try:
            async with self.db.transaction() as tx:
                results = [await item.step(tx) for item in batch]
        except StoreUnavailableError as exc:
            _fail(batch, exc)
        except asyncio.CancelledError as exc:
            _fail(batch, StoreUnavailableError(f"batch cancelled: {exc}"))
            raise
        except Exception as exc:  # a step's own failure: run each alone, blame only its own
            if len(batch) == 1:
                _fail(batch, exc)
                return
            log.warning("a record step failed its batch of %d; running them one by one: %s",
                        len(batch), exc)
            for item in batch:
                await self._commit([item])
        else:
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)


def _fail(batch: list[_Item], exc: BaseException) -> None:
    for item in batch:
        if not item.future.done():
            item.future.set_exception(exc)


def group_commit(db: Database, *, max_items: int = BATCH_MAX,
                 max_ms: float = BATCH_MS) -> GroupCommit:
    """The group commit for ``db``: one batch in flight at a time, on either backend.

    On PostgreSQL a second batch of the same replica would help little and could deadlock: a
    batch holds its replica's audit head (row lock) from its first append to its commit, and a
    step that answers a message locks that message's row; two batches of one replica that both
    answer the same message would wait for each other. (Across replicas the heads differ; two
    batches answering two same messages in opposite order can still deadlock: PostgreSQL aborts
    one, and its steps are run again one by one, as any failed step's are.)
    """
    return GroupCommit(db, max_items=max_items, max_wait=max_ms / 1000, workers=1)
