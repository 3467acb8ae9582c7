"""Settings from environment variables, with documented defaults.

:class:`Settings` is a pydantic-settings model: each field names its variable (the alias), its
default and its meaning (the description), see :mod:`hub.contract.environment`.
``maatwerk-hub --help`` (:func:`describe_variables`) and README's configuration table
(:func:`readme_table`, checked by tests/unit/test_readme.py) are made from those fields, so a
variable cannot be added without being documented.

Nothing is read at import time, and nothing is read implicitly: :meth:`Settings.from_env` is the
one reader of the environment (the process's, or a mapping a test passes), so a test's mapping is
never mixed with the shell's variables. ``Settings()`` alone is the defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from hub.contract.environment import (
    config_error,
    markdown_table,
    replaced,
    variable,
    variables,
)
from hub.contract.errors import ConfigError
from hub.contract.tls import VARIABLES as TLS_VARIABLES
from hub.contract.tls import TlsSettings
from hub.state.database import StateTimeouts

DEV_HASH_KEY = "maatwerk-dev-hash-key"
MIN_HASH_KEY_CHARS = 16


def _empty_is_none(value: Any) -> Any:
    return value or None


def _stripped_empty_is_none(value: Any) -> Any:
    return (value.strip() or None) if isinstance(value, str) else value


OptionalPath = Annotated[Path | None, BeforeValidator(_empty_is_none)]
TlsPath = Annotated[Path | None, BeforeValidator(_stripped_empty_is_none)]


def _tls(name: str) -> Any:
    shown, meaning = TLS_VARIABLES[name]
    return variable(name, None, meaning, shown=shown)


class Environment(EnvSettingsSource):
    """pydantic-settings' environment source, reading ``environ`` instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env_vars = parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty,
                                       self.env_parse_none_str)


class Settings(BaseSettings):
    """The hub's settings; one field per environment variable."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, validate_by_name=True,
                                      extra="forbid")

    amqp_url: str = variable("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/",
                             "broker URL; a comma-separated list for a cluster's nodes, tried in "
                             "turn (a bare host:port takes user, password and vhost from the "
                             "first)")
    quorum_size: int = variable("MAATWERK_QUORUM_SIZE", 3, "initial members of each quorum "
                                "queue the hub declares (RabbitMQ caps it at the nodes)", ge=1)
    state_timeout_seconds: float = variable("MAATWERK_STATE_TIMEOUT_SECONDS", 30.0,
                                            "PostgreSQL statement timeout", gt=0)
    state_pool_timeout_seconds: float = variable(
        "MAATWERK_STATE_POOL_TIMEOUT_SECONDS", 30.0,
        "PostgreSQL: the longest wait for a pool connection", gt=0)
    state_lock_timeout_seconds: float = variable("MAATWERK_STATE_LOCK_TIMEOUT_SECONDS", 15.0,
                                                 "PostgreSQL lock wait timeout", gt=0)
    sqlite_busy_ms: int = variable("MAATWERK_SQLITE_BUSY_MS", 1000,
                                   "SQLite busy timeout (a locked database)", ge=0)
    registry_path: OptionalPath = variable("MAATWERK_REGISTRY", None,
                                           "participant registry YAML file",
                                           shown="(embedded demo registry)")
    policy_path: OptionalPath = variable("MAATWERK_POLICY", None, "data-sharing policy YAML file",
                                         shown="(embedded default policy)")
    keys_dir: Path = variable("MAATWERK_KEYS_DIR", Path("keys"),
                              "published public keys; private keys under private/")
    state_url: str = variable("MAATWERK_STATE_URL", "sqlite:///var/hub.sqlite3",
                              "durable state: sqlite:///PATH or postgresql://user@host/db")
    max_message_bytes: int = variable("MAATWERK_MAX_MESSAGE_BYTES", 262144,
                                      "largest accepted message (256 KiB)")
    clock_skew_seconds: int = variable("MAATWERK_CLOCK_SKEW_SECONDS", 300,
                                       "how far created_at may lie in the future")
    http_host: str = variable("MAATWERK_HTTP_HOST", "127.0.0.1",
                              "address of /metrics, /healthz, /readyz")
    http_port: int = variable("MAATWERK_HTTP_PORT", 8080, "port of the HTTP endpoints (0: none)")
    http_tokens: OptionalPath = variable(
        "MAATWERK_HTTP_TOKENS", None,
        "token file of HTTP clients (maatwerk-hub tokens add); required off loopback",
        shown="(unset: loopback only, no auth)")
    prefetch: int = variable("MAATWERK_PREFETCH", 64,
                             "unacknowledged inbound messages per hub replica")
    batch_max: int = variable("MAATWERK_BATCH_MAX", 64,
                              "claims, and record steps (outcome, ledger, audit), committed in one "
                              "transaction (1: each message its own)", ge=1)
    batch_ms: float = variable("MAATWERK_BATCH_MS", 2.0,
                               "how long a batch waits for more steps after its first (ms), "
                               "only while other messages are in hand", ge=0)
    delivery_limit: int = variable("MAATWERK_DELIVERY_LIMIT", 5,
                                   "deliveries of one message before the queue dead-letters it")
    agreements_path: OptionalPath = variable("MAATWERK_AGREEMENTS", None,
                                             "deadlines and time-out rules YAML file",
                                             shown="(embedded defaults)")
    watch_seconds: float = variable("MAATWERK_WATCH_SECONDS", 5.0,
                                    "how often the deadline watcher and outbox run")
    deadletter_retention_days: float = variable(
        "MAATWERK_DEADLETTER_RETENTION_DAYS", 30.0,
        "dead letters older than this are dropped (policy set by topology apply --users)")
    reload_seconds: float = variable(
        "MAATWERK_RELOAD_SECONDS", 2.0, "how often each replica checks the registry, keys, "
        "policy and agreements files and the shared state for a new version", gt=0)
    trust_file: Path = variable("MAATWERK_TRUST_FILE", Path("var/trust.json"),
                                "signed trust document (maatwerk-hub trust sign), served at "
                                "/trust")
    log_level: str = variable("MAATWERK_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR")
    hash_key: bytes = variable("MAATWERK_HASH_KEY", DEV_HASH_KEY.encode(),
                               "secret for keyed hashes of personal data in logs and audit",
                               shown="(dev key; required outside --dev-keys)")
    tls_ca: TlsPath = _tls("MAATWERK_TLS_CA")
    tls_cert: TlsPath = _tls("MAATWERK_TLS_CERT")
    tls_key: TlsPath = _tls("MAATWERK_TLS_KEY")

    @field_validator("deadletter_retention_days")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # from_env is the one reader of the environment

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``env`` (default: the process environment) and the defaults."""
        values = Environment(cls, os.environ if env is None else env)()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise config_error(exc) from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (field names), validated like the environment's values."""
        return replaced(self, changes)

    @property
    def tls(self) -> TlsSettings:
        return TlsSettings(ca=self.tls_ca, cert=self.tls_cert, key=self.tls_key)

    @property
    def state_timeouts(self) -> StateTimeouts:
        return StateTimeouts(statement=self.state_timeout_seconds,
                             lock=self.state_lock_timeout_seconds,
                             sqlite_busy_ms=self.sqlite_busy_ms,
                             pool=self.state_pool_timeout_seconds)


VARIABLES: dict[str, tuple[str, str]] = variables(Settings)


def require_own_hash_key(settings: Settings) -> None:
    """Outside the dev mode the hub needs its own MAATWERK_HASH_KEY (a ConfigError otherwise)."""
    key = settings.hash_key.decode(errors="replace")
    if key == DEV_HASH_KEY:
        raise ConfigError("MAATWERK_HASH_KEY is not set: the hub refuses to hash personal data "
                          "with the public dev key; set a long random secret (e.g. openssl rand "
                          "-hex 32) or run with --dev-keys for development")
    if len(key) < MIN_HASH_KEY_CHARS:
        raise ConfigError(f"MAATWERK_HASH_KEY is {len(key)} characters: use at least "
                          f"{MIN_HASH_KEY_CHARS} (a long random secret)")


def readme_table() -> str:
    """README's configuration table."""
    return markdown_table(VARIABLES)


def describe_variables() -> str:
    """The environment table for ``--help`` output."""
    width = max(len(n) for n in VARIABLES)
    return "\n".join(f"  {n:<{width}}  {d}  (default: {v})" for n, (v, d) in VARIABLES.items())
