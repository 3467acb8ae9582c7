"""Authentication of the hub's HTTP endpoints: a Starlette (ASGI) middleware over the token file.

Which endpoint needs which role (:func:`required_role`), deny by default:

| Path | Role |
| --- | --- |
| ``/healthz``, ``/readyz`` | none: for orchestrators; they tell only up/ready and check names |
| ``/metrics`` | ``metrics`` (Prometheus sends ``authorization: credentials_file``) |
| all else: ``/``, ``/console...``, ``/cases/...``, ``/overdue``, unknown paths | ``viewer`` |

Tokens, roles and the file format: :mod:`hub.contract.tokens`. Without a token file the hub
serves only on a loopback address (:func:`hub.contract.tokens.require_auth_off_loopback`, checked
by the service before it binds); with one, every request but the two probes is authenticated,
loopback or not. The console itself (:mod:`hub.ops.console`) knows nothing of this.
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.contract.tokens import TokenFile, challenge

log = logging.getLogger("maatwerk.http")

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def required_role(method: str, path: str) -> str | None:
    """The role a request needs; None for the open probes."""
    if path in OPEN_PATHS:
        return None
    if path == "/metrics":
        return "metrics"
    return "viewer"


class TokenAuth:
    """Let a request through only with a token of a sufficient role: 401 without, 403 below."""

    def __init__(self, app: ASGIApp, tokens: TokenFile) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        role = required_role(scope["method"], scope["path"])
        if role is None:
            await self.app(scope, receive, send)
            return
        self.tokens = self.tokens.current()
        decision = self.tokens.decide(Headers(scope=scope).get("authorization"), role)
        if not decision.allowed:
            log.info("http request refused", extra={
                "event": "http_refused", "status": decision.status, "path": scope["path"],
                "client": decision.client.id if decision.client else ""})
            headers = {"WWW-Authenticate": challenge()} if decision.status == 401 else {}
            response = JSONResponse({"error": decision.error}, status_code=decision.status,
                                    headers=headers)
            await response(scope, receive, send)
            return
        assert decision.client is not None
        scope.setdefault("state", {})["client"] = decision.client.id
        await self.app(scope, receive, send)
