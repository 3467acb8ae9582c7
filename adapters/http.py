"""Run a Starlette app with uvicorn inside the adapter's event loop; token authentication."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import uvicorn
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.contract.tokens import TokenFile, challenge, require_auth_off_loopback


@dataclass
class RunningServer:
    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def start_server(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` on ``host:port`` (0: a free port); returns once it accepts connections."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    # The adapter handles SIGTERM/SIGINT itself (graceful shutdown); uvicorn must not take them.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError(f"HTTP server on {host}:{port} did not start")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(server=server, task=task, port=int(bound))


# -- authentication of the local API ----------------------------------------------------------

OPEN_PATHS = frozenset({"/healthz", "/openapi.json"})


def required_role(method: str, path: str) -> str | None:
    """The municipality API's roles (:mod:`hub.contract.tokens`): the health probe and the
    OpenAPI document are open; reading and the pre-check need ``viewer``; publishing (every other
    non-GET request) needs ``operator``."""
    if path in OPEN_PATHS:
        return None
    if method in ("GET", "HEAD") or (method == "POST" and path == "/precheck"):
        return "viewer"
    return "operator"


class TokenAuth:
    """ASGI middleware: 401 without a valid token, 403 with one of too small a role."""

    def __init__(self, app: ASGIApp, tokens: TokenFile) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        role = required_role(scope.get("method", ""), scope.get("path", ""))
        if scope["type"] != "http" or role is None:
            await self.app(scope, receive, send)
            return
        self.tokens = self.tokens.current()
        decision = self.tokens.decide(Headers(scope=scope).get("authorization"), role)
        if not decision.allowed:
            headers = {"WWW-Authenticate": challenge()} if decision.status == 401 else {}
            response = JSONResponse({"error": decision.error, "field": None},
                                    status_code=decision.status, headers=headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def protect(app: ASGIApp, host: str, tokens: TokenFile | None) -> ASGIApp:
    """``app`` behind :class:`TokenAuth`; without tokens only on loopback (else ConfigError)."""
    require_auth_off_loopback(host, tokens, "the municipality API",
                              "MAATWERK_ADAPTER_HTTP_TOKENS")
    return app if tokens is None else TokenAuth(app, tokens)
