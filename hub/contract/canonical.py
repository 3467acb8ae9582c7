"""Canonical JSON (RFC 8785, JCS) and the strict JSON reader the hub uses for untrusted bytes.

Canonicalisation is delegated to ``rfc8785`` (Trail of Bits): number formatting per ECMAScript and
UTF-16 key ordering are easy to get subtly wrong, and a team in another language checks its own
implementation against the test vectors in ``schemas/test-vectors``.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785


class JsonError(ValueError):
    """Bytes that are not acceptable JSON for a message (the message says why)."""


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise JsonError(f"cannot canonicalise: {exc}") from exc


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise JsonError(f"{name} is not allowed in a message (RFC 8785 has no representation for it)")


def loads_strict(raw: bytes) -> Any:
    """Parse untrusted bytes: UTF-8 only, no duplicate keys, no NaN or Infinity."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except JsonError:
        raise
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, and also an integer literal beyond Python's digit limit
        raise JsonError(f"not valid JSON: {exc}") from exc
