"""A back office's REST API, called with httpx: bearer auth, timeouts, and failures classified.

:meth:`BackOffice.post` returns a :class:`BackOfficeAnswer` for every *answer* of the back office,
2xx or 4xx (a 4xx is the back office's verdict: the reference is unknown, the request incomplete).
It raises :class:`~adapters.sdk.errors.TransientError` when there is no usable answer -- a timeout,
a connect or other transport error, a 5xx, or 401/403/408/429 (our credentials or its load; a
configuration fault must not decline a household's request) -- so that the SDK retries with
backoff. Every call carries ``Idempotency-Key: <message id>`` so that a back office that honours
it can also drop the one call a crash at the wrong moment may repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.sdk.errors import TransientError

RETRYABLE_STATUS = frozenset({401, 403, 408, 429})


@dataclass(frozen=True)
class BackOfficeAnswer:
    """A back office's answer: its HTTP status and its JSON object (empty when it sent none)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackOfficeAnswer:
        return cls(status=int(data["status"]), body=dict(data["body"]))


class BackOffice:
    """An agency's (or the loket's) back-office REST API."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers,
                                       timeout=httpx.Timeout(timeout), transport=transport)

    async def post(self, path: str, payload: dict[str, Any], *,
                   idempotency_key: str) -> BackOfficeAnswer:
        try:
            response = await self._http.post(path, json=payload,
                                             headers={"Idempotency-Key": idempotency_key})
        except httpx.TimeoutException as exc:
            raise TransientError(f"back office timed out on POST {path}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"back office unreachable on POST {path}: {exc!r}") from exc
        status = response.status_code
        if status >= 500 or status in RETRYABLE_STATUS:
            raise TransientError(f"back office answered {status} on POST {path}")
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        return BackOfficeAnswer(status=status, body=body if isinstance(body, dict) else {})

    async def aclose(self) -> None:
        await self._http.aclose()
