"""The hub's HTTP endpoints (Starlette, served by uvicorn): metrics and health for operators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.contract.tokens import TokenFile
from hub.ops.auth import TokenAuth
from hub.ops.console import Console
from hub.ops.status import CaseStatus
from hub.state.deviations import KnelpuntenReport
from hub.state.ledger import OVERDUE_PAGE, OVERDUE_PAGE_MAX, Expectation, OverdueKey, overdue_key
from hub.telemetry.metrics import HubMetrics


class Views(Protocol):
    """What the HTTP endpoints read from the hub's state."""

    async def case(self, case_id: str) -> CaseStatus: ...

    async def overdue(self, *, limit: int, after: OverdueKey | None) -> list[Expectation]: ...

    async def knelpunten(self) -> KnelpuntenReport: ...
    @property
    def broker_node(self) -> str | None:
        """``host:port`` of the broker node this replica is connected to, None when none."""


def build_app(metrics: HubMetrics, readiness: Callable[[], dict[str, bool]],
              views: Views, console: Console | None = None,
              tokens: TokenFile | None = None,
              details: Callable[[], dict[str, object]] | None = None,
              trust_file: Path | None = None) -> Starlette:
    """``/metrics``, ``/healthz`` (the process lives), ``/readyz`` (every check is green),
    ``/cases/{case_id}`` (a case's timeline as JSON) and ``/overdue``; ``details`` adds to
    ``/readyz`` what is not a pass/fail check (configuration versions, degraded, notes);
    ``/trust`` serves the signed trust document; with ``console`` also the operators' page at
    ``/`` and ``/console`` (:mod:`hub.ops.console`). With ``tokens`` every request but the two
    probes needs a token of the right role (:mod:`hub.ops.auth`)."""

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = readiness()
        ok = all(checks.values())
        extra = details() if details is not None else {}
        return JSONResponse({"ready": ok, "checks": checks, "broker_node": views.broker_node,
                             **extra},
                            status_code=200 if ok else 503)

    async def trust(request: Request) -> Response:
        """The signed trust document as the authority signed it (readers verify it)."""
        try:
            body = await asyncio.to_thread(trust_file.read_bytes) if trust_file else None
        except OSError:
            body = None
        if body is None:
            return JSONResponse({"error": "no trust document published"}, status_code=404)
        return Response(body, media_type="application/json",
                        headers={"Cache-Control": "no-cache"})

    async def case(request: Request) -> Response:
        status = await views.case(request.path_params["case_id"])
        code = 200 if status.messages else 404
        return Response(status.model_dump_json(), status_code=code,
                        media_type="application/json")

    async def overdue(request: Request) -> Response:
        """One page, earliest deadline first: ``?limit=`` (default 100, at most 1000) and
        ``?after=`` the ``next`` of the page before; ``next`` is null on the last page."""
        try:
            limit, after = page_of(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        page = await views.overdue(limit=limit, after=after)
        items = [{"message_id": i.message_id, "message_type": i.message_type,
                  "case_id": i.case_id, "awaited": i.awaited, "late_participant": i.recipient,
                  "sender": i.sender, "deadline": i.deadline.isoformat(),
                  "escalated_at": i.escalated_at.isoformat() if i.escalated_at else None}
                 for i in page]
        more = len(page) == limit
        return JSONResponse({"overdue": items,
                             "next": cursor(overdue_key(page[-1])) if more else None})

    async def knelpunten(request: Request) -> Response:
        """The LET's knelpunten report: counts per rule and organisation, no personal data."""
        report = await views.knelpunten()
        return Response(report.model_dump_json(), media_type="application/json")

    middleware = [Middleware(TokenAuth, tokens=tokens)] if tokens is not None else []
    return Starlette(middleware=middleware, routes=[
        Route("/metrics", metrics_endpoint),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/trust", trust),
        Route("/cases/{case_id}", case),
        Route("/overdue", overdue),
        Route("/reports/knelpunten", knelpunten),
        *(console.routes() if console is not None else []),
    ])


def page_of(request: Request) -> tuple[int, OverdueKey | None]:
    """``limit`` and ``after`` of a paged request; ValueError saying what is wrong."""
    raw = request.query_params.get("limit", str(OVERDUE_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= OVERDUE_PAGE_MAX:
        raise ValueError(f"limit must be a whole number from 1 to {OVERDUE_PAGE_MAX}")
    after = request.query_params.get("after")
    return int(raw), (parse_cursor(after) if after else None)


def cursor(key: OverdueKey) -> str:
    """A page's end as ``next``: ``DEADLINE_MS:MESSAGE_ID:AWAITED``."""
    return ":".join(str(part) for part in key)


def parse_cursor(text: str) -> OverdueKey:
    deadline, _, rest = text.partition(":")
    message_id, _, awaited = rest.partition(":")
    if not deadline.isdigit() or not message_id or not awaited:
        raise ValueError("after must be the 'next' of the page before")
    return int(deadline), message_id, awaited
