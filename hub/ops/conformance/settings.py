"""The conformance kit's configuration: environment variables with documented defaults.

:data:`VARIABLES` is the one table; ``maatwerk-hub conformance --help`` and docs/conformance.md
show the same list. Command-line flags override the four timing variables. Nothing is read at
import time: call :meth:`KitSettings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hub.contract.errors import ConfigError
from hub.contract.tls import VARIABLES as TLS_VARIABLES
from hub.contract.tls import TlsSettings

VARIABLES: dict[str, tuple[str, str]] = {
    "AMQP_URL": ("amqp://guest:guest@127.0.0.1:5672/",
                 "broker URL (and vhost) of a user with the hub's permissions: write "
                 "maatwerk.deliver, read maatwerk.hub.inbound, configure maatwerk.*"),
    "MAATWERK_KEYS_DIR": ("keys", "public keys, and under private/ the keys of the hub and of "
                          "every sender the kit plays (never the adapter's own)"),
    "MAATWERK_REGISTRY": ("(embedded demo registry)", "participant registry YAML file"),
    "MAATWERK_POLICY": ("(embedded default policy)", "data-sharing policy YAML file"),
    "MAATWERK_AGREEMENTS": ("(embedded defaults)", "deadlines YAML file (caps the kit's waits)"),
    "MAATWERK_DELIVERY_LIMIT": ("5", "delivery limit of the quorum queues, if the kit declares "
                                "the topology"),
    "MAATWERK_CONFORMANCE_RECEIPT_SECONDS": ("10", "how long a receipt may take"),
    "MAATWERK_CONFORMANCE_ANSWER_SECONDS": ("30", "how long a business answer may take"),
    "MAATWERK_CONFORMANCE_SETTLE_SECONDS": ("2", "quiet time after the last expected message, "
                                            "to see what should not come"),
    "MAATWERK_CONFORMANCE_WAIT_SECONDS": ("30", "how long to wait for the adapter to consume "
                                          "its inbox before the run starts"),
    "MAATWERK_LOG_LEVEL": ("WARNING", "level of the kit's own JSON log lines on stderr"),
    **TLS_VARIABLES,
}


def describe_variables() -> str:
    """The environment table for ``--help`` output."""
    width = max(len(n) for n in VARIABLES)
    return "\n".join(f"  {n:<{width}}  {d}  (default: {v})" for n, (v, d) in VARIABLES.items())


def _seconds(env: Mapping[str, str], name: str, override: float | None) -> float:
    if override is not None:
        value: object = override
    else:
        value = env.get(name) or VARIABLES[name][0]
    try:
        number = float(str(value))
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: expected a number of seconds") from exc
    if number < 0:
        raise ConfigError(f"{name}={value!r}: must not be negative")
    return number


def _int(env: Mapping[str, str], name: str) -> int:
    value = env.get(name) or VARIABLES[name][0]
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: expected a whole number") from exc


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value) if value else None


@dataclass(frozen=True, kw_only=True)
class KitSettings:
    """What one conformance run needs."""

    participant: str
    amqp_url: str
    keys_dir: Path
    registry_path: Path | None = None
    policy_path: Path | None = None
    agreements_path: Path | None = None
    delivery_limit: int = 5
    receipt_seconds: float = 10.0
    answer_seconds: float = 30.0
    settle_seconds: float = 2.0
    wait_seconds: float = 30.0
    manual_answers: frozenset[str] = field(default_factory=frozenset)
    """Types whose answer a person writes: the kit does not wait for it (one that comes is
    still checked)."""
    tls: TlsSettings = field(default_factory=TlsSettings)
    log_level: str = "WARNING"

    @classmethod
    def from_env(
        cls, participant: str, env: Mapping[str, str] | None = None, *,
        receipt_seconds: float | None = None, answer_seconds: float | None = None,
        settle_seconds: float | None = None, wait_seconds: float | None = None,
        manual_answers: Iterable[str] = (),
    ) -> KitSettings:
        env = os.environ if env is None else env
        return cls(
            participant=participant,
            amqp_url=env.get("AMQP_URL") or VARIABLES["AMQP_URL"][0],
            keys_dir=Path(env.get("MAATWERK_KEYS_DIR") or "keys"),
            registry_path=_path(env, "MAATWERK_REGISTRY"),
            policy_path=_path(env, "MAATWERK_POLICY"),
            agreements_path=_path(env, "MAATWERK_AGREEMENTS"),
            delivery_limit=_int(env, "MAATWERK_DELIVERY_LIMIT"),
            receipt_seconds=_seconds(env, "MAATWERK_CONFORMANCE_RECEIPT_SECONDS",
                                     receipt_seconds),
            answer_seconds=_seconds(env, "MAATWERK_CONFORMANCE_ANSWER_SECONDS", answer_seconds),
            settle_seconds=_seconds(env, "MAATWERK_CONFORMANCE_SETTLE_SECONDS", settle_seconds),
            wait_seconds=_seconds(env, "MAATWERK_CONFORMANCE_WAIT_SECONDS", wait_seconds),
            manual_answers=frozenset(manual_answers),
            tls=TlsSettings.from_env(env),
            log_level=(env.get("MAATWERK_LOG_LEVEL") or "WARNING").upper(),
        )
