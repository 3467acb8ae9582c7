"""The demo's stand-ins for the systems around the hub, on one loopback HTTP server:

- ``/backoffice/<agency>/...``: each agency's back office, answering the REST contract of
  docs/adapters/agency-contract.md the way the worked case needs (CJIB and Toeslagen grant, UWV
  grants in part, DUO refuses because another route applies, SVB takes the request into its work
  queue and does not decide while the demo runs); ``POST .../information`` answers the fields
  asked from ``information`` (the adapter asks only what the policy allows); a settlement is
  booked and repaid at once, or with ``repay_later`` booked only (the agency confirms later);
- ``/backoffice/loket/escalations``: the Maatwerkloket's case system (takes the escalation);
- ``/webhook/<participant>``: where the municipality and loket adapters POST what they receive.

Every call is handed to a listener so the demo can tell the story as it happens. The back offices
see the BSN (they need it); nothing here prints it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.agencies.base import add_months
from adapters.http import RunningServer, start_server


@dataclass(frozen=True)
class Decision:
    """How an agency's back office answers a pause request in the demo."""

    decision: str  # granted | partially_granted | refused | hold
    paused: tuple[str, ...] = ()
    not_paused: tuple[str, ...] = ()
    code: str | None = None
    explanation: str | None = None


@dataclass(frozen=True)
class BackOfficeCall:
    participant: str
    path: str
    payload: dict[str, Any]
    answer: dict[str, Any] | None
    status: int


@dataclass(frozen=True)
class WebhookCall:
    participant: str
    document: dict[str, Any]


Listener = Callable[[BackOfficeCall | WebhookCall], None]


@dataclass
class Offices:
    """The back offices and webhooks of one demo run."""

    decisions: dict[str, Decision]
    escalation_answer: dict[str, Any]
    listener: Listener
    information: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per agency: what ``POST /information`` answers, by field name."""
    repay_later: bool = False
    """Book a settlement without repaying it (the due date passes; the agency confirms later)."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    server: RunningServer | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _answered: dict[str, tuple[int, dict[str, Any] | None]] = field(default_factory=dict)
    _seen_hooks: set[str] = field(default_factory=set)
    held: int = 0

    @property
    def base(self) -> str:
        assert self.server is not None, "start() first"
        return f"http://127.0.0.1:{self.server.port}"

    def backoffice_url(self, participant: str) -> str:
        return f"{self.base}/backoffice/{participant}"

    def webhook_url(self, participant: str) -> str:
        return f"{self.base}/webhook/{participant}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Offices:
        app = Starlette(routes=[
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/backoffice/{participant}/{path:path}", self._backoffice, methods=["POST"]),
            Route("/webhook/{participant}", self._webhook, methods=["POST"]),
        ])
        self.server = await start_server(app, host, port)
        return self

    def release(self) -> None:
        """Let held requests go (on shutdown): they get a 503, so the adapter's give-up path
        answers and nothing stays in hand."""
        self._released.set()

    async def stop(self) -> None:
        self.release()
        if self.server is not None:
            await self.server.stop()
            self.server = None

    # -- handlers -------------------------------------------------------------------------------

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "held": self.held})

    def _authorised(self, request: Request) -> bool:
        """An empty ``token`` lets every caller in (a stand-alone demo back office without
        BACKOFFICE_TOKEN)."""
        return not self.token or request.headers.get("authorization") == f"Bearer {self.token}"

    async def _backoffice(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"code": "unauthorised"}, status_code=401)
        participant = request.path_params["participant"]
        path = "/" + request.path_params["path"]
        payload = await request.json()
        key = request.headers.get("idempotency-key") or str(payload.get("request_id"))
        if key in self._answered:  # a repeated call gets the first answer again
            status, answer = self._answered[key]
            return JSONResponse(answer, status_code=status) if answer else Response(
                status_code=status)
        if participant == "loket":
            status, answer = 201, dict(self.escalation_answer)
        elif "start" in payload and "months" in payload:
            decision = self.decisions.get(participant, Decision("granted"))
            if decision.decision == "hold":
                self.listener(BackOfficeCall(participant, path, payload, None, 202))
                self.held += 1
                try:
                    await self._released.wait()
                finally:
                    self.held -= 1
                return JSONResponse({"detail": "shutting down"}, status_code=503)
            status, answer = 201, self._pause_answer(decision, payload)
        elif isinstance(payload.get("fields"), list):  # an information request
            held = self.information.get(participant, {})
            status, answer = 200, {k: held[k] for k in payload["fields"] if k in held}
        elif "months" in payload:  # an extension: granted for the asked months
            start = date.today()
            status, answer = 201, {"decision": "granted", "from": start.isoformat(),
                                   "until": (add_months(start, int(payload["months"]))
                                             - timedelta(days=1)).isoformat()}
        elif "due_on" in payload:  # a settlement: booked, and repaid at once unless repay_later
            status, answer = 201, {"amount_cents": int(payload["amount_cents"])}
            if not self.repay_later:
                answer["repaid_on"] = date.today().isoformat()
        else:  # lift, end: noted
            status, answer = 204, None
        self._answered[key] = (status, answer)
        self.listener(BackOfficeCall(participant, path, payload, answer, status))
        return JSONResponse(answer, status_code=status) if answer else Response(status_code=status)

    @staticmethod
    def _pause_answer(decision: Decision, payload: dict[str, Any]) -> dict[str, Any]:
        if decision.decision == "refused":
            return {"decision": "refused", "code": decision.code or "other",
                    "explanation": decision.explanation or "another route applies"}
        start = date.fromisoformat(str(payload["start"]))
        until = add_months(start, int(payload["months"])) - timedelta(days=1)
        answer: dict[str, Any] = {"decision": decision.decision, "from": start.isoformat(),
                                  "until": until.isoformat(),
                                  "paused": list(decision.paused or payload.get("scope") or [])}
        if decision.not_paused:
            answer["not_paused"] = list(decision.not_paused)
        if decision.code:
            answer["code"] = decision.code
        if decision.explanation:
            answer["explanation"] = decision.explanation
        return answer

    async def _webhook(self, request: Request) -> Response:
        document = await request.json()
        key = request.headers.get("idempotency-key") or str(document.get("id"))
        if key not in self._seen_hooks:
            self._seen_hooks.add(key)
            self.listener(WebhookCall(request.path_params["participant"], document))
        return Response(status_code=204)
