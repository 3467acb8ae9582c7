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


_SAFE_INT = 2 ** 53
_DEPTH = 64


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether JCS writes ``value`` exactly as ``json.dumps`` does (see :func:`canonicalize`):
    objects with ASCII keys, arrays, strings, booleans, null and integers a double holds
    exactly; no float (JCS writes ``4.0`` as ``4``), no big integer, no non-ASCII key."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INT < value < _SAFE_INT
    if depth > _DEPTH:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v, depth + 1)
                   for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return False


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    For plain values (:func:`_plain`: what messages and audit records almost always are) JCS is
    exactly ``json.dumps`` with sorted keys, no spaces and no ASCII escaping: both escape ``"``,
    ``\\`` and the control characters alike (``\\n`` or lower-case ``\\u00xx``) and nothing
    else, and ASCII keys sort the same by UTF-16 units and by code points. That takes a fifth of
    the time; anything else (a float, a big integer, a non-ASCII key, a lone surrogate) goes
    through ``rfc8785``. ``tests/unit/test_canonical.py`` holds the two to the same bytes.
    """
    if _plain(value):
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: let JCS refuse or handle it
            pass
    return _jcs(value)


def _jcs(value: Any) -> bytes:
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
