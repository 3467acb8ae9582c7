"""Adapter configuration from environment variables, with documented defaults.

:data:`VARIABLES` is the one table of variables; ``maatwerk-adapter --help`` and
``docs/adapters/README.md`` show the same list. Nothing is read at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hub.contract.errors import ConfigError

VARIABLES: dict[str, tuple[str, str]] = {
    "MAATWERK_PARTICIPANT": ("(the adapter name)", "participant id in the registry, e.g. cjib"),
    "AMQP_URL": ("amqp://guest:guest@127.0.0.1:5672/", "broker URL, as the participant's user"),
    "MAATWERK_KEYS_DIR": ("keys", "published public keys; own private key under private/"),
    "MAATWERK_REGISTRY": ("(embedded demo registry)", "participant registry YAML file"),
    "MAATWERK_ADAPTER_STATE": ("var/adapter-<participant>", "folder for handled ids and cases"),
    "MAATWERK_ADAPTER_PREFETCH": ("16", "unacknowledged inbox messages in hand at once"),
    "BACKOFFICE_URL": ("(none)", "base URL of the back office's REST API"),
    "BACKOFFICE_TOKEN": ("(none)", "bearer token sent to the back office"),
    "BACKOFFICE_TIMEOUT": ("10", "seconds per back-office call"),
    "BACKOFFICE_RETRIES": ("3", "in-process retries of a transient failure"),
    "BACKOFFICE_BACKOFF": ("0.5", "first retry delay in seconds; doubles per retry (max 30)"),
    "MAATWERK_WEBHOOK_URL": ("(none)", "municipality/loket: POST every received message here"),
    "MAATWERK_ADAPTER_HTTP_HOST": ("127.0.0.1", "municipality: address of the local HTTP API"),
    "MAATWERK_ADAPTER_HTTP_PORT": ("8090", "municipality: port of the local HTTP API (0: none)"),
    "MAATWERK_ADAPTER_HTTP_TOKENS": ("(unset: loopback only, no auth)",
                                     "municipality: token file of API clients (maatwerk-hub "
                                     "tokens add); required off loopback"),
    "MAATWERK_POLICY": ("(embedded default policy)",
                        "municipality: published policy for the API's pre-check"),
    "MAATWERK_LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING or ERROR"),
}


def describe_variables() -> str:
    width = max(len(name) for name in VARIABLES)
    return "\n".join(f"  {name:<{width}}  {meaning} (default: {default})"
                     for name, (default, meaning) in VARIABLES.items())


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> float:
    value = env.get(name) or VARIABLES[name][0]
    try:
        number = kind(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: expected a number") from exc
    if number < 0:
        raise ConfigError(f"{name}={value!r}: must not be negative")
    return number


@dataclass(frozen=True, kw_only=True)
class AdapterSettings:
    participant: str
    amqp_url: str
    keys_dir: Path
    registry_path: Path | None
    state_dir: Path
    prefetch: int
    backoffice_url: str | None
    backoffice_token: str | None
    backoffice_timeout: float
    retries: int
    backoff: float
    webhook_url: str | None
    http_host: str
    http_port: int
    http_tokens: Path | None
    policy_path: Path | None
    log_level: str

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.state_dir / 'handled.sqlite3'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 participant: str | None = None) -> AdapterSettings:
        """Settings from ``env`` (default: the process environment); ``participant`` is the
        fallback for MAATWERK_PARTICIPANT."""
        env = os.environ if env is None else env
        who = env.get("MAATWERK_PARTICIPANT") or participant
        if not who:
            raise ConfigError("MAATWERK_PARTICIPANT is not set")
        registry = env.get("MAATWERK_REGISTRY")
        return cls(
            participant=who,
            amqp_url=env.get("AMQP_URL") or VARIABLES["AMQP_URL"][0],
            keys_dir=Path(env.get("MAATWERK_KEYS_DIR") or "keys"),
            registry_path=Path(registry) if registry else None,
            state_dir=Path(env.get("MAATWERK_ADAPTER_STATE") or f"var/adapter-{who}"),
            prefetch=int(_number(env, "MAATWERK_ADAPTER_PREFETCH", int)),
            backoffice_url=env.get("BACKOFFICE_URL") or None,
            backoffice_token=env.get("BACKOFFICE_TOKEN") or None,
            backoffice_timeout=float(_number(env, "BACKOFFICE_TIMEOUT", float)),
            retries=int(_number(env, "BACKOFFICE_RETRIES", int)),
            backoff=float(_number(env, "BACKOFFICE_BACKOFF", float)),
            webhook_url=env.get("MAATWERK_WEBHOOK_URL") or None,
            http_host=env.get("MAATWERK_ADAPTER_HTTP_HOST") or "127.0.0.1",
            http_port=int(_number(env, "MAATWERK_ADAPTER_HTTP_PORT", int)),
            http_tokens=Path(env["MAATWERK_ADAPTER_HTTP_TOKENS"])
            if env.get("MAATWERK_ADAPTER_HTTP_TOKENS") else None,
            policy_path=Path(env["MAATWERK_POLICY"]) if env.get("MAATWERK_POLICY") else None,
            log_level=(env.get("MAATWERK_LOG_LEVEL") or "INFO").upper(),
        )
