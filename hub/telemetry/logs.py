"""Structured JSON logs. Personal data is never logged in clear: use :func:`keyed_hash`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def keyed_hash(secret: bytes, value: str) -> str:
    """HMAC-SHA256 of a personal value (a BSN, say), short enough to read, useless to reverse."""
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aio_pika").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiormq").setLevel(max(logging.WARNING, root.level))
