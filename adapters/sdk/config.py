"""Adapter configuration from environment variables, with documented defaults.

:class:`AdapterSettings` is a pydantic-settings model: each field names its variable, its default
and its meaning (see :mod:`hub.contract.environment`). ``maatwerk-adapter --help``
(:func:`describe_variables`) and the table in ``docs/adapters/README.md`` (:func:`docs_table`,
checked by tests/unit/test_readme.py) are made from those fields. An empty variable counts as
unset. Nothing is read at import time, and only :meth:`AdapterSettings.from_env` reads the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
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


class Environment(EnvSettingsSource):
    """pydantic-settings' environment source, reading ``environ`` instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env_vars = parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty,
                                       self.env_parse_none_str)


class AdapterSettings(BaseSettings):
    """One adapter's settings; one field per environment variable."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, validate_by_name=True,
                                      extra="forbid", env_ignore_empty=True)

    participant: str = variable(
        "MAATWERK_PARTICIPANT", ..., "participant id in the registry (a municipality: e.g. "
        "gm0193)", shown="(the adapter name)", min_length=1)
    amqp_url: str = variable("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/",
                             "broker URL, as the participant's own broker user; a "
                             "comma-separated list for a cluster's nodes, tried in turn")
    keys_dir: Path = variable("MAATWERK_KEYS_DIR", Path("keys"),
                              "published public keys; the own private key under private/")
    registry_path: Path | None = variable("MAATWERK_REGISTRY", None,
                                          "participant registry YAML file",
                                          shown="(embedded demo registry)")
    adapter_state: Path | None = variable(
        "MAATWERK_ADAPTER_STATE", None,
        "handled ids and back-office results (SQLite), case store",
        shown="var/adapter-<participant>")
    prefetch: int = variable("MAATWERK_ADAPTER_PREFETCH", 16, "inbox messages in hand at once",
                             ge=0)
    backoffice_url: str | None = variable("BACKOFFICE_URL", None,
                                          "base URL of the back office's REST API",
                                          shown="(none; agencies: required)")
    backoffice_token: str | None = variable("BACKOFFICE_TOKEN", None,
                                            "sent as Authorization: Bearer ...", shown="(none)")
    backoffice_timeout: float = variable("BACKOFFICE_TIMEOUT", 10.0,
                                         "seconds per back-office call", ge=0)
    retries: int = variable("BACKOFFICE_RETRIES", 3, "in-process retries of a transient failure",
                            ge=0)
    publish_patience: float = variable(
        "MAATWERK_PUBLISH_PATIENCE", 60.0, "seconds send() keeps publishing the same bytes "
        "while the broker does not confirm them (a node lost; then it raises)", gt=0)
    backoff: float = variable("BACKOFFICE_BACKOFF", 0.5,
                              "first retry delay (s); doubles each retry, at most 30 s", ge=0)
    webhook_url: str | None = variable(
        "MAATWERK_WEBHOOK_URL", None, "municipality/loket: every received message is POSTed "
        "here", shown="(none)")
    http_host: str = variable("MAATWERK_ADAPTER_HTTP_HOST", "127.0.0.1",
                              "municipality: address of the local HTTP API")
    http_port: int = variable("MAATWERK_ADAPTER_HTTP_PORT", 8090,
                              "municipality: port of the local HTTP API (0: none)", ge=0)
    http_tokens: Path | None = variable(
        "MAATWERK_ADAPTER_HTTP_TOKENS", None, "municipality: token file of API clients "
        "(maatwerk-hub tokens add); required off loopback",
        shown="(unset: loopback only, no auth)")
    policy_path: Path | None = variable(
        "MAATWERK_POLICY", None, "municipality: published policy for the API's pre-check",
        shown="(embedded default policy)")
    trust_authority: str | None = variable(
        "MAATWERK_TRUST_AUTHORITY", None, "registry authority public key (base64url): verify, "
        "store and use the signed trust document (trust.update, trust.query, the URL or file)",
        shown="(unset: no trust document; the registry file and keys)")
    trust_url: str | None = variable(
        "MAATWERK_TRUST_URL", None, "the hub's /trust URL, fetched every MAATWERK_TRUST_SECONDS",
        shown="(none: trust.update messages only)")
    trust_file: Path | None = variable(
        "MAATWERK_TRUST_FILE", None, "a published trust document file (shared volume), read "
        "every MAATWERK_TRUST_SECONDS", shown="(none)")
    trust_seconds: float = variable("MAATWERK_TRUST_SECONDS", 60.0,
                                    "how often the trust URL or file is read", gt=0)
    log_level: str = variable("MAATWERK_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR")

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
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 participant: str | None = None) -> AdapterSettings:
        """Settings from ``env`` (default: the process environment); ``participant`` is the
        fallback for MAATWERK_PARTICIPANT."""
        values: dict[str, Any] = Environment(cls, os.environ if env is None else env)()
        if participant and "MAATWERK_PARTICIPANT" not in values:
            values["MAATWERK_PARTICIPANT"] = participant
        try:
            return cls(**values)
        except ValidationError as exc:
            raise config_error(exc) from None

    def replace(self, **changes: Any) -> AdapterSettings:
        """A copy with ``changes`` (field names), validated like the environment's values."""
        return replaced(self, changes)

    @property
    def state_dir(self) -> Path:
        """MAATWERK_ADAPTER_STATE, or ``var/adapter-<participant>``."""
        return self.adapter_state or Path(f"var/adapter-{self.participant}")

    @property
    def trust_store(self) -> Path:
        """Where the last good trust document is kept: ``<state dir>/trust.json``."""
        return self.state_dir / "trust.json"

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.state_dir / 'handled.sqlite3'}"


VARIABLES: dict[str, tuple[str, str]] = variables(AdapterSettings)


def docs_table() -> str:
    """The table of docs/adapters/README.md."""
    return markdown_table(VARIABLES)


def describe_variables() -> str:
    width = max(len(name) for name in VARIABLES)
    return "\n".join(f"  {name:<{width}}  {meaning} (default: {default})"
                     for name, (default, meaning) in VARIABLES.items())
