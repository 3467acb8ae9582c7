"""SQLite's WAL checkpoints in a thread of their own, off the event loop.

In WAL mode every commit appends its pages to the write-ahead log, and by default the committing
connection copies the log back into the database every 1,000 pages (4 MB), fsyncs, and only then
returns from its commit. The hub commits on the event loop's thread, so each of those
checkpoints paused routing: at a steady 200 msg/s about four a second, 7 ms each and up to 86 ms
(``bench.latency``), which was most of the hub's tail latency.

:class:`Checkpoints` runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds on its
own connection in a daemon thread (sqlite3 releases the GIL while it copies and syncs). A
passive checkpoint never waits for, nor blocks, the writer; but while the writer keeps committing
it never lets the log start again from its beginning either, so once the log is longer than
``RESTART_FRAMES`` the thread asks for a ``RESTART`` checkpoint, which waits for the writer's
current transaction and holds the next one back only while it copies the few frames left. The
writer's own auto-checkpoint stays as a safety net at ``SAFETY_PAGES`` (if this thread died, the
log stays bounded).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("maatwerk.state")

INTERVAL = 0.25
"""Seconds between two checkpoints."""
SAFETY_PAGES = 16_000
"""The writer's own auto-checkpoint, in pages (64 MB of log), should this thread fall behind."""
RESTART_FRAMES = 2_000
"""When the log holds more frames than this after a passive checkpoint, the next one restarts
it (``RESTART``: waits for the writer's transaction to end, copies the few frames left, and
lets the writer begin the log anew). Passive checkpoints alone never restart the log while the
writer keeps committing: it grew to 53 MB in a 20 s run."""


class Checkpoints:
    """A daemon thread checkpointing ``path``'s WAL every ``interval`` seconds until stopped."""

    def __init__(self, path: Path, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.runs = 0
        """Checkpoints done (for tests)."""
        self.restarts = 0
        """Of which the log was restarted."""
        self.last: tuple[int, int, int] | None = None
        """The last checkpoint's (busy, frames in the log, frames copied back)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"wal-checkpoints {path.name}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=1.0)
        except sqlite3.Error as exc:
            log.warning("no background WAL checkpoints (the writer does them): %s", exc)
            return
        try:
            while not self._stop.wait(self.interval):
                self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """A passive checkpoint (the copying and the fsync, the writer carries on), then, when
        the log has grown long, a restart that finds almost nothing left to copy."""
        try:
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if int(row[1]) > RESTART_FRAMES:
                row = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                self.restarts += 1
        except sqlite3.Error as exc:  # the next one tries again; the safety net holds meanwhile
            log.warning("WAL checkpoint failed: %s", exc)
            return
        self.last = (int(row[0]), int(row[1]), int(row[2]))
        self.runs += 1
