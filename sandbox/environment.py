"""A sandbox: the run's participants on a private vhost of the real broker, and its clean-up.

Two lifetimes, so the tests can share users across a session and still get a fresh vhost per
test: :class:`~sandbox.participants.Participants` (keys, registry, passwords) live as long as
their run; :func:`fresh_vhost` makes a vhost, creates the participants' users on it and deletes
the vhost afterwards. :func:`open_sandbox` is both at once, for one-shot runs (the benchmarks),
and removes everything it made: vhost, users, databases, files.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hub.contract.registry import Registry
from sandbox.broker import Broker
from sandbox.participants import Participants
from sandbox.postgres import Databases, pg_url

__all__ = ["Sandbox", "fresh_vhost", "local_sandbox", "open_sandbox"]


@dataclass
class Sandbox:
    """Participants on ``vhost`` of ``broker`` (``vhost`` empty until one is made)."""

    broker: Broker
    participants: Participants
    vhost: str = ""
    databases: Databases = field(default_factory=lambda: Databases(pg_url()))

    @property
    def root(self) -> Path:
        return self.participants.root

    @property
    def keys_dir(self) -> Path:
        return self.participants.keys_dir

    @property
    def registry(self) -> Registry:
        return self.participants.registry

    @property
    def registry_file(self) -> Path:
        return self.participants.registry_file

    @property
    def passwords(self) -> dict[str, str]:
        return self.participants.passwords

    def url_of(self, participant_id: str) -> str:
        """The AMQP URL of a participant: its own broker user on this vhost."""
        return self.broker.amqp_url(self.participants.user(participant_id),
                                    self.participants.password(participant_id), self.vhost)

    @property
    def guest_url(self) -> str:
        return self.broker.amqp_url("guest", "guest", self.vhost)

    @property
    def hub_url(self) -> str:
        """The hub's AMQP_URL: every node when the broker lists several (a cluster)."""
        return self.broker.amqp_url(self.participants.user("hub"),
                                    self.participants.password("hub"), self.vhost,
                                    every_node=True)


@asynccontextmanager
async def fresh_vhost(broker: Broker, participants: Participants,
                      prefix: str = "maatwerk-test") -> AsyncIterator[Sandbox]:
    """A new vhost ``<prefix>-<hex>`` with the participants' least-privilege users on it (guest
    may do anything there); the vhost is deleted afterwards, the users are not."""
    vhost = await broker.create_vhost(prefix)
    try:
        await broker.create_users(participants.registry, vhost, participants.passwords)
        yield Sandbox(broker, participants, vhost)
    finally:
        await broker.delete_vhost(vhost)


def local_sandbox(broker: Broker, tag: str = "sandbox") -> Sandbox:
    """Participants in a new temp directory (users suffixed ``-b<hex>``); nothing on the broker
    yet. The caller removes ``root`` (:func:`open_sandbox` does)."""
    suffix = uuid.uuid4().hex[:6]
    root = Path(tempfile.mkdtemp(prefix=f"maatwerk-{tag}-", suffix=f"-{suffix}"))
    return Sandbox(broker, Participants.create(root, f"b{suffix}"))


@asynccontextmanager
async def open_sandbox(broker: Broker, tag: str = "sandbox") -> AsyncIterator[Sandbox]:
    """A whole sandbox (files, vhost ``maatwerk-<tag>-<hex>``, users); afterwards its vhost,
    users, databases (``sandbox.databases``) and files are all removed."""
    sandbox = local_sandbox(broker, tag)
    try:
        async with fresh_vhost(broker, sandbox.participants, f"maatwerk-{tag}") as made:
            sandbox.vhost = made.vhost
            yield sandbox
    finally:
        try:
            await broker.delete_users(sandbox.participants.users)
            await sandbox.databases.drop_all()
        finally:
            shutil.rmtree(sandbox.root, ignore_errors=True)
