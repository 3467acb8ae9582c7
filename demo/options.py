"""The demo's options (from ``maatwerk-demo``'s flags) and its one error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.contract.errors import HubError

__all__ = ["DemoError", "DemoOptions"]


class DemoError(HubError):
    """The demo could not start or a step did not happen in time."""


@dataclass(frozen=True)
class DemoOptions:
    state_dir: Path
    passwords: Path
    http_port: int
    response_seconds: float
    receipt_seconds: float
    watch_seconds: float
    wait: bool
    management_url: str
    case_id: str | None = None

