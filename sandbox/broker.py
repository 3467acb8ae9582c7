"""The real broker the sandbox builds on: where it is, AMQP URLs per user and vhost, and the
management API calls that make and remove private vhosts and least-privilege users.

Everything goes through :class:`hub.core.broker_admin.BrokerAdmin` (the hub's own management
client), so a sandbox's users get exactly the permissions ``maatwerk-hub topology apply --users``
gives in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from hub.contract.registry import Registry
from hub.core.broker_admin import (
    DEFAULT_MANAGEMENT_URL,
    BrokerAdmin,
    BrokerAdminError,
    Permissions,
)

__all__ = ["DEFAULT_AMQP_HOST", "Broker", "BrokerAdminError", "Permissions", "with_user"]

DEFAULT_AMQP_HOST = "127.0.0.1:5672"
EVERYTHING = Permissions(configure=".*", write=".*", read=".*")


def with_user(amqp_url: str, user: str, password: str) -> str:
    """``amqp_url`` with ``user:password`` as its credentials (scheme, host, port, vhost kept)."""
    parts = urlsplit(amqp_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True)
class Broker:
    """A RabbitMQ broker: its AMQP ``host:port`` and its management API URL (with credentials)."""

    amqp_host: str = DEFAULT_AMQP_HOST
    management_url: str = DEFAULT_MANAGEMENT_URL

    @classmethod
    def from_env(cls, host_variable: str) -> Broker:
        """The broker named by ``MAATWERK_MANAGEMENT_URL`` and ``host_variable`` (``host:port``
        of AMQP), each defaulting to the local broker."""
        return cls(amqp_host=os.environ.get(host_variable) or DEFAULT_AMQP_HOST,
                   management_url=os.environ.get("MAATWERK_MANAGEMENT_URL")
                   or DEFAULT_MANAGEMENT_URL)

    @property
    def hosts(self) -> list[str]:
        """Every ``host:port`` of ``amqp_host`` (comma-separated: the nodes of a cluster)."""
        return [h.strip() for h in self.amqp_host.split(",") if h.strip()]

    def amqp_url(self, user: str, password: str, vhost: str, *,
                 every_node: bool = False) -> str:
        """The URL on the first node; with ``every_node`` one URL per node, comma-separated
        (what the hub's and the SDK's ``AMQP_URL`` accept)."""
        hosts = self.hosts if every_node else self.hosts[:1]
        return ",".join(f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}/"
                        f"{quote(vhost, safe='')}" for host in hosts)

    def admin(self) -> BrokerAdmin:
        return BrokerAdmin(self.management_url)

    async def create_vhost(self, prefix: str) -> str:
        """A new vhost ``<prefix>-<random hex>``; guest may do anything in it (the tests and
        benchmarks declare topology and drain queues as guest)."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        async with self.admin() as admin:
            await admin.ensure_vhost(name)
            await admin.set_permissions(name, "guest", EVERYTHING)
        return name

    async def delete_vhost(self, vhost: str) -> None:
        async with self.admin() as admin:
            await admin.delete_vhost(vhost)

    async def create_users(self, registry: Registry, vhost: str,
                           passwords: dict[str, str]) -> list[str]:
        """Every participant's broker user, with least-privilege permissions on ``vhost``
        (idempotent: an existing user gets its password and permissions set again)."""
        async with self.admin() as admin:
            return await admin.apply_users(registry, vhost, passwords)

    async def grant(self, vhost: str, user: str, permissions: Permissions) -> None:
        """Replace ``user``'s permissions on ``vhost``."""
        async with self.admin() as admin:
            await admin.set_permissions(vhost, user, permissions)

    async def delete_users(self, users: Iterable[str]) -> None:
        async with self.admin() as admin:
            for user in users:
                await admin.delete_user(user)
