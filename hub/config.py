"""Settings from environment variables, with documented defaults.

Every variable, its default and its meaning is listed in :data:`VARIABLES`; ``maatwerk-hub --help``
and the README print the same table. Nothing is read at import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hub.contract.errors import ConfigError
from hub.contract.tls import VARIABLES as TLS_VARIABLES
from hub.contract.tls import TlsSettings

VARIABLES: dict[str, tuple[str, str]] = {
    "AMQP_URL": ("amqp://guest:guest@127.0.0.1:5672/", "broker URL the hub connects with"),
    "MAATWERK_REGISTRY": ("(embedded demo registry)", "participant registry YAML file"),
    "MAATWERK_POLICY": ("(embedded default policy)", "data-sharing policy YAML file"),
    "MAATWERK_KEYS_DIR": ("keys", "published public keys; private keys under private/"),
    "MAATWERK_STATE_URL": (
        "sqlite:///var/hub.sqlite3",
        "durable state: sqlite:///PATH or postgresql://user@host/db",
    ),
    "MAATWERK_MAX_MESSAGE_BYTES": ("262144", "largest accepted message (256 KiB)"),
    "MAATWERK_CLOCK_SKEW_SECONDS": ("300", "how far created_at may lie in the future"),
    "MAATWERK_HTTP_HOST": ("127.0.0.1", "address of /metrics, /healthz, /readyz"),
    "MAATWERK_HTTP_PORT": ("8080", "port of the HTTP endpoints (0: none)"),
    "MAATWERK_HTTP_TOKENS": (
        "(unset: loopback only, no auth)",
        "token file of HTTP clients (maatwerk-hub tokens add); required off loopback",
    ),
    "MAATWERK_PREFETCH": ("64", "unacknowledged inbound messages per hub replica"),
    "MAATWERK_DELIVERY_LIMIT": ("5", "deliveries of one message before the queue dead-letters it"),
    "MAATWERK_AGREEMENTS": ("(embedded defaults)", "deadlines and time-out rules YAML file"),
    "MAATWERK_WATCH_SECONDS": ("5", "how often the deadline watcher and outbox run"),
    "MAATWERK_DEADLETTER_RETENTION_DAYS": (
        "30", "dead letters older than this are dropped (policy set by topology apply --users)"),
    "MAATWERK_LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING or ERROR"),
    "MAATWERK_HASH_KEY": ("(dev key)", "secret for keyed hashes of personal data in logs"),
    **TLS_VARIABLES,
}


def _int(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, VARIABLES[name][0])
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: expected a whole number") from exc


def _float(env: Mapping[str, str], name: str) -> float:
    value = env.get(name, VARIABLES[name][0])
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: expected a number") from exc
    if number <= 0:
        raise ConfigError(f"{name}={value!r}: must be more than 0")
    return number


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value) if value else None


@dataclass(frozen=True, kw_only=True)
class Settings:
    amqp_url: str
    registry_path: Path | None
    policy_path: Path | None
    agreements_path: Path | None
    watch_seconds: float
    keys_dir: Path
    state_url: str
    max_message_bytes: int
    clock_skew_seconds: int
    http_host: str
    http_port: int
    http_tokens: Path | None
    prefetch: int
    delivery_limit: int
    log_level: str
    deadletter_retention_days: float
    hash_key: bytes
    tls: TlsSettings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            amqp_url=env.get("AMQP_URL", VARIABLES["AMQP_URL"][0]),
            registry_path=_path(env, "MAATWERK_REGISTRY"),
            policy_path=_path(env, "MAATWERK_POLICY"),
            agreements_path=_path(env, "MAATWERK_AGREEMENTS"),
            watch_seconds=float(env.get("MAATWERK_WATCH_SECONDS", "5")),
            keys_dir=Path(env.get("MAATWERK_KEYS_DIR", "keys")),
            state_url=env.get("MAATWERK_STATE_URL", VARIABLES["MAATWERK_STATE_URL"][0]),
            max_message_bytes=_int(env, "MAATWERK_MAX_MESSAGE_BYTES"),
            clock_skew_seconds=_int(env, "MAATWERK_CLOCK_SKEW_SECONDS"),
            http_host=env.get("MAATWERK_HTTP_HOST", "127.0.0.1"),
            http_port=_int(env, "MAATWERK_HTTP_PORT"),
            http_tokens=_path(env, "MAATWERK_HTTP_TOKENS"),
            prefetch=_int(env, "MAATWERK_PREFETCH"),
            delivery_limit=_int(env, "MAATWERK_DELIVERY_LIMIT"),
            log_level=env.get("MAATWERK_LOG_LEVEL", "INFO").upper(),
            deadletter_retention_days=_float(env, "MAATWERK_DEADLETTER_RETENTION_DAYS"),
            hash_key=env.get("MAATWERK_HASH_KEY", "maatwerk-dev-hash-key").encode(),
            tls=TlsSettings.from_env(env),
        )


def describe_variables() -> str:
    """The environment table for ``--help`` output."""
    width = max(len(n) for n in VARIABLES)
    return "\n".join(f"  {n:<{width}}  {d}  (default: {v})" for n, (v, d) in VARIABLES.items())
