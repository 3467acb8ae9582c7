"""A fake agency back office: the REST contract of docs/adapters/<agency>.md, on 127.0.0.1 (and
the loket's case system: ``POST /escalations`` takes the case).

Behaviour is set per test (``fake.mode = "partial"``, ``fake.fail_first = 2``...); every call is
counted by ``request_id`` so tests can assert "called once per message".
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.agencies.base import add_months
from adapters.http import RunningServer, start_server

PARTIAL = {"uwv": (["recovery"], ["running_deduction"], "lopende_verrekening")}


@dataclass
class Call:
    path: str
    payload: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeBackOffice:
    """``mode``: accept | partial | decline | error400 | error500 (always 500)."""

    agency: str
    mode: str = "accept"
    fail_first: int = 0
    """Answer 500 to the first N calls of each request id, then behave per ``mode``."""
    code: str = "other"
    """The refusal code of decline / error400 (the agency's own vocabulary)."""
    token: str | None = None
    delay: float = 0.05
    """Seconds before answering: a back office is never instant (and the hub records a routed
    request just after publishing it, see the report on the unknown_conversation race)."""
    calls: Counter[str] = field(default_factory=Counter)
    """Every call, by request_id (message id)."""
    effects: Counter[str] = field(default_factory=Counter)
    """Calls that had an effect: a repeated Idempotency-Key gets the first answer again."""
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    log: list[Call] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=lambda: {
        "debt_total_cents": 48_200, "debt_references": ["1234567890123456"],
        "collection_status": "in_collection", "recovery_status": "open",
        "monthly_income_cents": 131_000, "benefit_status": "paid",
        "arrangement_status": "broken"})
    """What POST /information answers, per asked field (issue 13)."""
    server: RunningServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "start() first"
        return f"http://127.0.0.1:{self.server.port}"

    def paths(self) -> list[str]:
        return [c.path for c in self.log]

    async def start(self) -> FakeBackOffice:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        self.server = await start_server(app)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()

    async def __aenter__(self) -> FakeBackOffice:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(self, request: Request) -> Response:
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"code": "unauthorised"}, status_code=401)
        payload = await request.json()
        request_id = str(payload.get("request_id"))
        self.calls[request_id] += 1
        self.log.append(Call("/" + request.path_params["path"], payload, dict(request.headers)))
        key = request.headers.get("idempotency-key")
        if key in self.answers:
            status, answer = self.answers[key]
            return JSONResponse(answer, status_code=status) if answer else Response(
                status_code=status)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "error500" or self.calls[request_id] <= self.fail_first:
            return JSONResponse({"detail": "internal error"}, status_code=500)
        if self.mode == "error400":
            return JSONResponse({"code": self.code, "detail": "request not understood"},
                                status_code=400)
        self.effects[request_id] += 1
        if isinstance(payload.get("fields"), list):  # an information request
            answer = {k: self.info[k] for k in payload["fields"] if k in self.info}
            self.answers[key or request_id] = (200, answer)
            return JSONResponse(answer, status_code=200)
        if request.path_params["path"] == "escalations":  # the loket's case system
            taken = {"outcome": "accepted", "loket_reference": f"LK-{request_id[:8]}",
                     "next_step": "bridging"}
            self.answers[key or request_id] = (201, taken)
            return JSONResponse(taken, status_code=201)
        if "start" not in payload and "months" not in payload:
            self.answers[key or request_id] = (204, None)
            return Response(status_code=204)  # lift, end, settlement: noted
        decision = self._decision(payload)
        self.answers[key or request_id] = (201, decision)
        return JSONResponse(decision, status_code=201)

    def _decision(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.mode == "decline":
            return {"decision": "refused", "code": self.code,
                    "explanation": f"{self.agency}: a different route applies"}
        start = date.fromisoformat(payload.get("start", date.today().isoformat()))
        answer: dict[str, Any] = {
            "decision": "granted", "from": start.isoformat(),
            "until": add_months(start, int(payload["months"])).isoformat(),
        }
        if payload.get("scope"):
            answer["paused"] = payload["scope"]
        if self.mode == "partial":
            paused, not_paused, code = PARTIAL.get(
                self.agency, (["collection"], ["set_off"], "other"))
            answer.update({"decision": "partially_granted", "paused": paused,
                           "not_paused": not_paused, "code": code,
                           "explanation": "recovery paused; the running deduction continues"})
        return answer
