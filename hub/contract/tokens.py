"""HTTP clients and their bearer tokens: one file, tokens stored only as hashes.

Shared by the hub's HTTP endpoints (:mod:`hub.ops.auth`) and the municipality adapter's local
API (:mod:`adapters.http`), which may import only the contract; the Starlette middlewares there
are thin shims over :meth:`TokenFile.decide`. No HTTP library is imported here.

The file (YAML; ``maatwerk-hub tokens add CLIENT --role ROLE`` writes it, mode 0600)::

    clients:
      - id: prometheus
        role: metrics
        token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        created: '2026-12-01T20:00:00Z'

Why SHA-256 and not scrypt: a token is 32 random bytes (256 bits) from :mod:`secrets`, so there is
nothing to guess and nothing for a slow hash to protect; a password-hashing function would cost
tens of milliseconds on *every* request. What matters is that the file holds no token: whoever
reads it (a backup, a config repository) cannot call the API. Comparison is constant-time.

Roles, each including the ones before it:

- ``metrics``: ``/metrics`` only (a Prometheus scrape job);
- ``viewer``: read-only: the console, ``/cases``, ``/overdue``; on the municipality API the
  ``GET`` endpoints and the pre-check;
- ``operator``: also what changes something: publishing on the municipality API.

A request without (valid) credentials gets 401, a valid token of too small a role 403. Accepted
credentials: ``Authorization: Bearer TOKEN``, or HTTP Basic with the client id as user name and
the token as password (what a browser can send for the console).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from hub.contract.errors import ConfigError

ROLES: tuple[str, ...] = ("metrics", "viewer", "operator")
TOKEN_PREFIX = "mwt_"
REALM = "maatwerk"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def role_allows(role: str, required: str) -> bool:
    """Whether ``role`` includes ``required`` (operator > viewer > metrics)."""
    return ROLES.index(role) >= ROLES.index(required)


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_auth_off_loopback(host: str, tokens: TokenFile | None, what: str,
                              variable: str) -> None:
    """Refuse to serve ``what`` on a non-loopback address without a token file."""
    if tokens is None and not is_loopback(host):
        raise ConfigError(
            f"{what} would listen on {host}, which is not a loopback address, without "
            f"authentication: set {variable} to a token file (maatwerk-hub tokens add CLIENT "
            f"--role viewer --file FILE) or bind it to 127.0.0.1")


@dataclass(frozen=True)
class Client:
    id: str
    role: str
    token_sha256: str
    created: str


@dataclass(frozen=True)
class Decision:
    """The answer to one request: ``status`` 200 (go on), 401 or 403; ``client`` when known."""

    status: int
    client: Client | None = None
    error: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class TokenFile:
    path: Path
    clients: tuple[Client, ...] = ()
    mtime_ns: int = 0

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = False) -> TokenFile:
        try:
            mtime_ns = path.stat().st_mtime_ns
            text = path.read_text()
        except FileNotFoundError:
            if missing_ok:
                return cls(path)
            raise ConfigError(f"{path}: token file not found") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not YAML: {exc}") from exc
        entries = data.get("clients") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ConfigError(f"{path}: expected a mapping with a list 'clients'")
        clients = []
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or "token" in entry:
                raise ConfigError(f"{path}: clients[{n}]: expected id, role, token_sha256 "
                                  f"(a token in clear is not accepted)")
            client = Client(id=str(entry.get("id", "")), role=str(entry.get("role", "")),
                            token_sha256=str(entry.get("token_sha256", "")),
                            created=str(entry.get("created", "")))
            if not client.id or client.role not in ROLES or len(client.token_sha256) != 64:
                raise ConfigError(f"{path}: clients[{n}]: needs an id, a role "
                                  f"({', '.join(ROLES)}) and a 64-hex token_sha256")
            clients.append(client)
        ids = [c.id for c in clients]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"{path}: a client id appears twice")
        return cls(path, tuple(clients), mtime_ns)

    def current(self) -> TokenFile:
        """This file as it is on disk now: reloaded when it changed (a token added or removed
        takes effect without a restart); an unreadable or broken file keeps the last good one."""
        try:
            if self.path.stat().st_mtime_ns == self.mtime_ns:
                return self
            return TokenFile.load(self.path)
        except (OSError, ConfigError):
            return self

    def save(self) -> None:
        """Write the file atomically, readable by its owner only."""
        data = {"clients": [{"id": c.id, "role": c.role, "token_sha256": c.token_sha256,
                             "created": c.created} for c in self.clients]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("# HTTP clients of Maatwerk Hub: tokens are stored as SHA-256 only\n")
            yaml.safe_dump(data, handle, sort_keys=False)
        os.replace(temporary, self.path)

    def add(self, client_id: str, role: str, now: datetime | None = None) -> tuple[TokenFile, str]:
        """A new token for ``client_id`` (replacing its old one); returns (file, token)."""
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        if not client_id or not client_id.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"client id {client_id!r}: letters, digits, - and _ only")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        client = Client(client_id, role, hash_token(token), created)
        others = tuple(c for c in self.clients if c.id != client_id)
        return replace(self, clients=(*others, client)), token

    def remove(self, client_id: str) -> TokenFile:
        if all(c.id != client_id for c in self.clients):
            raise ConfigError(f"no client {client_id!r} in {self.path}")
        return replace(self, clients=tuple(c for c in self.clients if c.id != client_id))

    def authenticate(self, token: str) -> Client | None:
        """The client whose token this is (constant-time over all clients), or None."""
        digest = hash_token(token)
        found = None
        for client in self.clients:
            if hmac.compare_digest(digest, client.token_sha256):
                found = client
        return found

    def decide(self, authorization: str | None, required: str) -> Decision:
        """Decide a request from its ``Authorization`` header and the role it needs."""
        token, claimed_id = _credentials(authorization)
        if token is None:
            return Decision(401, error="authentication required (Authorization: Bearer TOKEN)")
        client = self.authenticate(token)
        if client is None or (claimed_id is not None and claimed_id != client.id):
            return Decision(401, error="invalid token")
        if not role_allows(client.role, required):
            return Decision(403, client, f"client {client.id} has role {client.role}; "
                                         f"this needs {required}")
        return Decision(200, client)


def _credentials(header: str | None) -> tuple[str | None, str | None]:
    """(token, client id claimed by Basic) from an Authorization header."""
    if not header:
        return None, None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value, None
    if scheme.lower() == "basic" and value:
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        if sep and password:
            return password, user
    return None, None


def challenge() -> str:
    """The ``WWW-Authenticate`` value of a 401."""
    return f'Bearer realm="{REALM}", Basic realm="{REALM}"'
