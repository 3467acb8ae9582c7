"""The hub's HTTP endpoints (Starlette, served by uvicorn): metrics and health for operators."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.metrics import HubMetrics


def build_app(metrics: HubMetrics, readiness: Callable[[], dict[str, bool]]) -> Starlette:
    """``/metrics``, ``/healthz`` (the process lives) and ``/readyz`` (every check is green)."""

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = readiness()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    return Starlette(routes=[
        Route("/metrics", metrics_endpoint),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ])
