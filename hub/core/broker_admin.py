"""Broker users and permissions through the RabbitMQ management HTTP API (least privilege).

Each participant's broker user may publish only to the inbound exchange (and to the dead-letter
exchange: an adapter's reject with its reason), read only its own inbox and configure nothing;
RabbitMQ enforces that, and checks that a published ``user_id`` property is
the connection's own user. The hub's user manages the ``maatwerk.*`` resources.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from hub.contract import names
from hub.contract.errors import HubError
from hub.contract.registry import Participant, Registry

DEFAULT_MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"
DEAD_LETTER_POLICY = "maatwerk-dead-letter-retention"


class BrokerAdminError(HubError):
    """The management API refused or could not be reached."""


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def permissions_for(participant: Participant) -> Permissions:
    if participant.kind == "hub":
        everything = r"^maatwerk\..*"
        return Permissions(configure=everything, write=everything, read=everything)
    return Permissions(
        configure="^$",
        write=f"^({re.escape(names.INBOUND_EXCHANGE)}|{re.escape(names.DEAD_LETTER_EXCHANGE)})$",
        read=f"^{re.escape(names.inbox(participant.id))}$",
    )


def load_passwords(path: Path, users: list[str]) -> dict[str, str]:
    """Read the broker passwords file; add a random password for each user that has none (0600)."""
    passwords: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [u for u in users if u not in passwords]
    if missing:
        passwords.update({u: secrets.token_urlsafe(18) for u in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(passwords, indent=2, sort_keys=True) + "\n")
    return passwords


class BrokerAdmin:
    def __init__(self, management_url: str = DEFAULT_MANAGEMENT_URL) -> None:
        parts = urlsplit(management_url)
        auth = (parts.username or "guest", parts.password or "guest")
        base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
        self._client = httpx.AsyncClient(base_url=base, auth=auth, timeout=10.0)

    async def __aenter__(self) -> BrokerAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, body: object | None = None) -> httpx.Response:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise BrokerAdminError(f"management API unreachable: {exc}") from exc
        if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
            raise BrokerAdminError(f"{method} {path}: HTTP {response.status_code} {response.text}")
        return response

    async def ensure_vhost(self, vhost: str) -> None:
        await self._request("PUT", f"/api/vhosts/{quote(vhost, safe='')}")

    async def delete_vhost(self, vhost: str) -> None:
        await self._request("DELETE", f"/api/vhosts/{quote(vhost, safe='')}")

    async def ensure_user(self, user: str, password: str | None) -> None:
        """Create or update ``user``; ``None``: no password (client-certificate logins only)."""
        body = {"password": password} if password is not None else {"password_hash": ""}
        await self._request("PUT", f"/api/users/{quote(user, safe='')}", {**body, "tags": ""})

    async def delete_user(self, user: str) -> None:
        await self._request("DELETE", f"/api/users/{quote(user, safe='')}")

    async def set_permissions(self, vhost: str, user: str, perms: Permissions) -> None:
        await self._request(
            "PUT", f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
            {"configure": perms.configure, "write": perms.write, "read": perms.read},
        )

    async def set_dead_letter_retention(self, vhost: str, days: float) -> None:
        """A policy giving the dead-letter queue a message TTL of ``days``: RabbitMQ drops older
        dead letters itself (quorum queues support message TTL since RabbitMQ 3.10)."""
        await self._request(
            "PUT", f"/api/policies/{quote(vhost, safe='')}/{DEAD_LETTER_POLICY}",
            {"pattern": f"^{re.escape(names.DEAD_LETTER_QUEUE)}$", "apply-to": "queues",
             "priority": 10, "definition": {"message-ttl": int(days * 86_400_000)}},
        )

    async def policy(self, vhost: str, name: str) -> dict[str, object] | None:
        response = await self._client.get(
            f"/api/policies/{quote(vhost, safe='')}/{quote(name, safe='')}")
        return response.json() if response.status_code == 200 else None

    async def apply_users(
        self, registry: Registry, vhost: str, passwords: dict[str, str]
    ) -> list[str]:
        """Create every participant's broker user with least-privilege permissions (idempotent).

        A user missing from ``passwords`` gets no password: it logs in with a client certificate
        (SASL EXTERNAL) only."""
        done = []
        for participant in registry.document.participants:
            await self.ensure_user(participant.broker_user,
                                   passwords.get(participant.broker_user))
            await self.set_permissions(vhost, participant.broker_user,
                                       permissions_for(participant))
            done.append(participant.broker_user)
        return done
