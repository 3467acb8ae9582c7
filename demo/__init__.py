"""``maatwerk-demo``: the whole system on one machine, playing the worked case.

Processes (each one as it runs in production, as a child process of the demo):

- the hub: ``maatwerk-hub run`` as broker user ``maatwerk-hub`` (short demo deadlines from an
  agreements file the demo writes, a 1-second watcher);
- the five agency adapters, the municipality adapter (gm0193, with its local HTTP API) and the
  Maatwerkloket adapter: ``maatwerk-adapter run NAME``, each as its own least-privilege
  broker user.

In the demo process itself (asyncio): the agencies' and the loket's back offices and the
webhooks of the municipality and the loket (:mod:`demo.offices`), and the people: the
maatwerkfunctionaris (through the municipality adapter's HTTP API, as a case system would), the
loket's staff (the loket adapter's Python API) and the Landelijk Escalatie Team (an SDK client;
there is no LET reference adapter).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import httpx
import yaml

from adapters.cases import CaseStore
from adapters.loket import LoketAdapter
from adapters.sdk.client import Delivery, HubClient, Reply
from demo import case
from demo.children import (
    Child,
    child_env,
    maatwerk_adapter_command,
    maatwerk_hub_command,
    spawn,
    stop_all,
)
from demo.offices import Offices
from demo.story import Story, euro
from hub.config import Settings
from hub.contract.agreements import DeadlineTable, Duration, load_agreements
from hub.contract.errors import HubError
from hub.contract.keys import ensure_dev_keys, load_private_key, private_key_path
from hub.contract.names import inbox
from hub.contract.registry import Registry, load_registry
from hub.contract.tls import connect_kwargs
from hub.core import topology
from hub.core.broker_admin import BrokerAdmin, BrokerAdminError, load_passwords
from hub.ops.console import queue_depths, vhost_of
from hub.ops.status import CaseStatus, render

__all__ = ["DemoError", "DemoOptions", "run_demo"]


class DemoError(HubError):
    """The demo could not start or a step did not happen in time."""


@dataclass(frozen=True)
class DemoOptions:
    state_dir: Path
    passwords: Path
    http_port: int
    response_seconds: float
    receipt_seconds: float
    watch_seconds: float
    wait: bool
    management_url: str
    case_id: str | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def with_user(amqp_url: str, user: str, password: str) -> str:
    """``amqp_url`` with ``user:password`` as its credentials (host, port, vhost kept)."""
    parts = urlsplit(amqp_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class Demo:
    def __init__(self, options: DemoOptions, settings: Settings, story: Story) -> None:
        self.options = options
        self.settings = settings
        self.story = story
        self.state = options.state_dir
        self.children: list[Child] = []
        self.clients: list[HubClient] = []
        self.offices: Offices | None = None
        self.registry: Registry | None = None
        self.passwords: dict[str, str] = {}
        self.case_id = options.case_id or f"ZW-{date.today().year}-{secrets.token_hex(3).upper()}"
        self.loket_reference = f"ML-{date.today().year}-{secrets.token_hex(2).upper()}"
        self.hub_base = f"http://{settings.http_host}:{options.http_port}"
        self.gm_port = 0
        self.loket: LoketAdapter | None = None

    # -- setting up -----------------------------------------------------------------------------

    def _url(self, participant: str) -> str:
        assert self.registry is not None
        found = self.registry.get(participant)
        if found is None:
            raise DemoError(f"{participant} is not in the registry")
        user = found.broker_user
        return with_user(self.settings.amqp_url, user, self.passwords[user])

    async def setup(self) -> None:
        settings, options = self.settings, self.options
        self.state.mkdir(parents=True, exist_ok=True)
        if not 0 < options.http_port < 65536:
            raise DemoError(f"--http-port {options.http_port}: the console needs a real port")
        if not port_free(settings.http_host, options.http_port):
            raise DemoError(f"port {options.http_port} on {settings.http_host} is in use "
                            "(another hub or demo?): choose one with --http-port")
        ids = [p.id for p in load_registry(settings.registry_path).document.participants]
        made = ensure_dev_keys(settings.keys_dir, ids)
        if made:
            self.story.note(f"generated dev keys in {settings.keys_dir} for {', '.join(made)}")
        self.registry = load_registry(settings.registry_path, settings.keys_dir)
        agreements = load_agreements(settings.agreements_path)
        agreements = agreements.model_copy(update={"deadlines": DeadlineTable(
            receipt=Duration(seconds=options.receipt_seconds),
            response=Duration(seconds=options.response_seconds))})
        self.agreements_file = self.state / "agreements.yaml"
        self.agreements_file.write_text(
            "# Written by maatwerk-demo: the default agreements with deadlines in seconds.\n"
            + yaml.safe_dump(agreements.model_dump(mode="json", exclude_none=True),
                             sort_keys=False))
        users = [p.broker_user for p in self.registry.document.participants]
        self.passwords = load_passwords(options.passwords, users)
        vhost = vhost_of(settings.amqp_url)
        try:
            async with BrokerAdmin(options.management_url) as admin:
                done = await admin.apply_users(self.registry, vhost, self.passwords)
        except BrokerAdminError as exc:
            raise DemoError(f"cannot create the broker users through the management API "
                            f"({exc}); is the management plugin on? Set "
                            "MAATWERK_MANAGEMENT_URL if it is not at "
                            "http://guest:guest@127.0.0.1:15672") from exc
        try:
            connection = await aio_pika.connect(
                settings.amqp_url, **connect_kwargs(settings.amqp_url, settings.tls))
            async with connection:
                await topology.declare(await connection.channel(), self.registry,
                                       settings.delivery_limit)
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            host = urlsplit(settings.amqp_url).hostname
            raise DemoError(f"cannot declare the topology at {host} (AMQP_URL): {exc!r}") from exc
        self.story.note(f"topology declared; broker users with least-privilege permissions on "
                        f"vhost {vhost!r}: {', '.join(done)}")

    def _spawn(self, name: str, args: list[str], **env: str) -> Child:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("BACKOFFICE_", "MAATWERK_ADAPTER_", "MAATWERK_WEBHOOK"))
                and k != "MAATWERK_PARTICIPANT"}
        common = {"MAATWERK_KEYS_DIR": str(self.settings.keys_dir),
                  "MAATWERK_LOG_LEVEL": self.settings.log_level}
        if self.settings.registry_path:
            common["MAATWERK_REGISTRY"] = str(self.settings.registry_path)
        command = maatwerk_hub_command() if name == "hub" else maatwerk_adapter_command()
        child = spawn(name, [*command, *args],
                      child_env(base, **common, **env), self.state / "logs" / f"{name}.log")
        self.children.append(child)
        return child

    async def start_processes(self) -> None:
        self.offices = await Offices(
            decisions=case.DECISIONS, listener=self.story.on_office,
            escalation_answer=case.escalation_answer(self.loket_reference)).start()
        hub = self._spawn(
            "hub", ["run"], AMQP_URL=self._url("hub"),
            MAATWERK_STATE_URL=self.settings.state_url,
            MAATWERK_AGREEMENTS=str(self.agreements_file),
            MAATWERK_WATCH_SECONDS=str(self.options.watch_seconds),
            MAATWERK_HTTP_PORT=str(self.options.http_port),
            MAATWERK_HTTP_HOST=self.settings.http_host)
        offices = self.offices
        for agency in case.AGENCIES:
            silent = case.DECISIONS[agency].decision == "hold"
            self._spawn(
                agency, ["run", agency], MAATWERK_PARTICIPANT=agency,
                AMQP_URL=self._url(agency),
                MAATWERK_ADAPTER_STATE=str(self.state / "adapters" / agency),
                BACKOFFICE_URL=offices.backoffice_url(agency), BACKOFFICE_TOKEN=offices.token,
                # SVB's back office holds the request: wait for it, do not time out and decline.
                BACKOFFICE_TIMEOUT="86400" if silent else "10",
                BACKOFFICE_RETRIES="0" if silent else "2", BACKOFFICE_BACKOFF="0.2")
        self.gm_port = free_port()
        gm = self._spawn(
            "municipality", ["run", "municipality"],
            MAATWERK_PARTICIPANT=case.MUNICIPALITY, AMQP_URL=self._url(case.MUNICIPALITY),
            MAATWERK_ADAPTER_STATE=str(self.state / "adapters" / case.MUNICIPALITY),
            MAATWERK_WEBHOOK_URL=offices.webhook_url(case.MUNICIPALITY),
            MAATWERK_ADAPTER_HTTP_PORT=str(self.gm_port))
        self._spawn(
            "loket", ["run", "loket"], MAATWERK_PARTICIPANT="loket",
            AMQP_URL=self._url("loket"),
            MAATWERK_ADAPTER_STATE=str(self.state / "adapters" / "loket"),
            BACKOFFICE_URL=offices.backoffice_url("loket"), BACKOFFICE_TOKEN=offices.token,
            MAATWERK_WEBHOOK_URL=offices.webhook_url("loket"))
        await self._wait_http(hub, f"{self.hub_base}/readyz", 60)
        self.story.note(f"hub running (pid {hub.pid}), ready at {self.hub_base}/readyz")
        await self._wait_http(gm, f"http://127.0.0.1:{self.gm_port}/healthz", 60)
        await self._wait_consumers([*case.AGENCIES, case.MUNICIPALITY, "loket"], 60)
        self.story.note("adapters running: " + ", ".join(
            f"{c.name} (pid {c.pid})" for c in self.children if c.name != "hub"))

        # The people: the loket's staff publish through the loket adapter's Python API, the LET
        # answers referrals through an SDK client of its own.
        loket_client = self._client("loket", "desk-loket")
        await loket_client.connect()
        self.loket = LoketAdapter(loket_client, CaseStore(self.state / "desk-loket" / "cases"))
        let = self._client("let", "let")
        let.on("let.referral")(self._let_decides)
        await let.connect()
        await let.consume()

    def _client(self, participant: str, folder: str) -> HubClient:
        assert self.registry is not None
        (self.state / folder).mkdir(parents=True, exist_ok=True)
        client = HubClient(
            participant, amqp_url=self._url(participant), registry=self.registry,
            key=load_private_key(private_key_path(self.settings.keys_dir, participant)),
            state_url=f"sqlite:///{self.state / folder / 'handled.sqlite3'}",
            tls=self.settings.tls)
        self.clients.append(client)
        return client

    def check_children(self) -> None:
        for child in self.children:
            if not child.running:
                raise DemoError(f"{child.name} exited with code {child.process.returncode}; "
                                f"the end of {child.log}:\n{child.tail()}")

    async def _wait_http(self, child: Child, url: str, within: float) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                self.check_children()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise DemoError(f"{child.name} did not answer {url} within {within:.0f} s; "
                                    f"the end of {child.log}:\n{child.tail()}")
                await asyncio.sleep(0.2)

    async def _wait_consumers(self, participants: list[str], within: float) -> None:
        """Wait until every adapter consumes its inbox (when the management API answers)."""
        deadline = time.monotonic() + within
        vhost = vhost_of(self.settings.amqp_url)
        wanted = {inbox(p) for p in participants}
        while True:
            self.check_children()
            try:
                queues = await queue_depths(self.options.management_url, vhost)
            except httpx.HTTPError:
                return  # cannot tell: messages wait in the durable inboxes anyway
            missing = wanted - {q.name for q in queues if q.consumers > 0}
            if not missing:
                return
            if time.monotonic() > deadline:
                raise DemoError(f"no consumer on {', '.join(sorted(missing))} after "
                                f"{within:.0f} s; see {self.state / 'logs'}")
            await asyncio.sleep(0.2)

    # -- the people ----------------------------------------------------------------------------

    async def _let_decides(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        self.story.line(delivery.envelope.sender, "let", "let.referral",
                        f"{getattr(body, 'question', '')} (bridging "
                        f"{euro(getattr(body, 'bridging_amount_cents', 0) or 0)})")
        await asyncio.sleep(1.0)  # the LET meets
        return delivery.reply("let.decision", {
            "loket_reference": getattr(body, "loket_reference", self.loket_reference),
            "decision": "responsible_party_named", "responsible_party": case.RESPONSIBLE,
            "explanation": case.LET_EXPLANATION})

    async def municipality_sends(self, http: httpx.AsyncClient, type_name: str, recipient: str,
                                 body: dict[str, Any], summary: str,
                                 **extra: str) -> str:
        """The maatwerkfunctionaris's case system posts to the municipality adapter's API."""
        self.check_children()
        answer = await http.post("/messages", json={
            "type": type_name, "recipient": recipient, "case_id": self.case_id, "body": body,
            **extra})
        if answer.status_code != 202:
            raise DemoError(f"the municipality adapter did not take the {type_name}: "
                            f"{answer.status_code} {answer.text}")
        message_id = str(answer.json()["id"])
        self.story.sent(message_id, type_name, case.MUNICIPALITY, recipient, summary)
        return message_id

    async def until(self, what: str, predicate: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            self.check_children()
            if time.monotonic() > deadline:
                raise DemoError(f"waited {within:.0f} s for {what}; logs in "
                                f"{self.state / 'logs'}")
            await asyncio.sleep(0.1)

    # -- the case ------------------------------------------------------------------------------

    async def play(self) -> None:
        story, gm, cid = self.story, case.MUNICIPALITY, self.case_id
        assert self.loket is not None
        loket = self.loket
        story.say()
        story.say(case.HOUSEHOLD)
        story.say()
        story.say(f"Case id: {cid} (opaque: no BSN in it). Deadlines in this demo: receipt "
                  f"{self.options.receipt_seconds:g} s, answer {self.options.response_seconds:g} s "
                  "(normally 15 minutes and 2 working days).")
        today = date.today()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.gm_port}",
                                     timeout=10.0) as http:
            story.step(1, "The maatwerkfunctionaris looks up the agencies' contact points in "
                          "the Maatwerkregister (maatwerk-hub register list)")
            assert self.registry is not None
            for p in self.registry.of_kind("agency"):
                story.note(f"{p.id:<16} {p.contact.contact_point} <{p.contact.email}> "
                           f"{p.contact.phone}")

            story.step(2, "A first time-out request to DUO also carries the situation summary: "
                          "the hub refuses it, DUO never sees it")
            await self.municipality_sends(http, "timeout.request", "duo",
                                          case.oversharing_request(today),
                                          "with the situation summary (too much for DUO)")
            await self.until("the refusal", lambda: bool(story.got(gm, "notice.refused")), 20)

            story.step(3, "Time-out requests to the five agencies, each with only what that "
                          "agency needs (BSN, its own references, period, reason)")
            requests: dict[str, str] = {}
            for agency in case.AGENCIES:
                requests[agency] = await self.municipality_sends(
                    http, "timeout.request", agency, case.timeout_request(agency, today),
                    f"{case.REQUESTED_MONTHS} months from {today}, "
                    f"{', '.join(case.SCOPES[agency])}; reason {case.REASONS[agency]}")
            svb_sent = time.monotonic()
            await self.until("the agencies' answers", lambda: len(story.got(
                gm, "timeout.response")) >= 4 and len(story.got(gm, "receipt")) >= 5, 40)

            story.step(4, "The rent arrears cannot wait: escalation to the Landelijk "
                          "Maatwerkloket")
            escalation = case.escalation()
            await self.municipality_sends(
                http, "escalation.request", "loket", escalation,
                story.summary({"type": "escalation.request", "body": escalation}))
            await self.until("the loket's answer", lambda: bool(
                story.got(gm, "escalation.response")), 30)
            answer = story.got(gm, "escalation.response")[0]
            thread = {"recipient": gm, "case_id": cid, "in_reply_to": answer["in_reply_to"],
                      "conversation_id": answer["conversation_id"]}
            await loket.publish(type="escalation.progress", **thread, body={
                "loket_reference": self.loket_reference, "step": "bridging"})
            await self.until("the loket's progress", lambda: bool(
                story.got(gm, "escalation.progress")), 30)

            story.step(5, "Overbruggingsprocedure: the loket prefinances the rent arrears now")
            decision_id = await loket.decide_bridging(
                cid, gm, loket_reference=self.loket_reference, decision="prefinance",
                amount_cents=case.RENT_ARREARS_CENTS, creditor_kind="housing_corporation",
                referred_to_let=True)
            story.sent(str(decision_id), "bridging.decision", "loket", gm,
                       f"prefinance {euro(case.RENT_ARREARS_CENTS)} of rent arrears to the "
                       "housing corporation; referred to the LET")
            await self.until("the bridging decision", lambda: bool(
                story.got(gm, "bridging.decision")), 30)

            story.step(6, "The loket refers the case to the Landelijk Escalatie Team (LET): "
                          "who carries the cost?")
            referral_id = await loket.refer_to_let(
                cid, loket_reference=self.loket_reference,
                agencies_involved=[case.RESPONSIBLE, "belastingdienst"],
                problem_areas=["housing", "benefits"], question=case.LET_QUESTION,
                bridging_amount_cents=case.RENT_ARREARS_CENTS)
            story.types[str(referral_id)] = "let.referral"
            await self.until("the LET's decision, at the loket and (the hub's copy) at the "
                             "municipality", lambda: bool(story.got("loket", "let.decision")
                                                          and story.got(gm, "let.decision")), 30)

            story.step(7, "Settlement: the party the LET named repays the prefinanced amount; "
                          "the loket closes the escalation")
            due = today + timedelta(days=60)
            settlement_id = await loket.settle(
                cid, case.RESPONSIBLE, loket_reference=self.loket_reference,
                amount_cents=case.RENT_ARREARS_CENTS, due_on=due)
            story.sent(str(settlement_id), "bridging.settlement", "loket", case.RESPONSIBLE,
                       f"repay {euro(case.RENT_ARREARS_CENTS)} by {due}")
            await self.until("the settlement at UWV", lambda: any(
                c.participant == case.RESPONSIBLE and "amount_cents" in c.payload
                for c in story.calls), 30)
            await self.until("UWV's repayment", lambda: bool(
                story.got("loket", "bridging.repaid")), 30)
            await loket.publish(type="escalation.closed", **thread, body={
                "loket_reference": self.loket_reference, "outcome": "let_decided"})
            await self.until("the escalation closed", lambda: bool(
                story.got(gm, "escalation.closed")), 30)

            story.step(8, "SVB sent a receipt but no answer: the hub reminds SVB, then tells "
                          "the loket it is overdue")
            waited = time.monotonic() - svb_sent
            left = max(0.0, 2 * self.options.response_seconds - waited)
            story.note(f"SVB's answer was due {self.options.response_seconds:g} s after the "
                       f"request; overdue about {left:.0f} s from now")
            grace = 2 * self.options.response_seconds + 10 * self.options.watch_seconds + 30
            await self.until("the reminder to SVB", lambda: bool(
                story.got(gm, "notice.reminder")), grace)
            await self.until("the overdue notice to the loket", lambda: bool(
                story.got("loket", "notice.overdue")), grace)

            story.step(9, "Later, the household is stable: the municipality lifts the "
                          "Toeslagen time-out; the hub ends it and tells both sides")
            sent = json.loads((await http.get(f"/cases/{cid}")).text)["messages"]
            request = next(e["message"] for e in sent
                           if e["message"]["id"] == requests["belastingdienst"])
            await self.municipality_sends(
                http, "timeout.lift", "belastingdienst",
                {"lift_on": today.isoformat(), "reason_code": "household_stable"},
                f"lift on {today}: household stable", in_reply_to=request["id"],
                conversation_id=request["conversation_id"])
            await self.until("the end of the Toeslagen time-out", lambda: bool(
                story.got(gm, "timeout.ended")), 30 + 10 * self.options.watch_seconds)

    async def final_status(self) -> CaseStatus:
        async with httpx.AsyncClient(timeout=10.0) as http:
            answer = await http.get(f"{self.hub_base}/cases/{quote(self.case_id, safe='')}")
        answer.raise_for_status()
        return CaseStatus.model_validate_json(answer.text)

    def print_end(self, status: CaseStatus) -> None:
        story = self.story
        story.say()
        story.say("=" * 100)
        story.say("The case as the hub recorded it (maatwerk-hub status "
                  f"{self.case_id}; no personal data is stored):")
        story.say()
        story.say(render(status))
        story.say()
        story.say("=" * 100)
        quoted = quote(self.case_id, safe="")
        story.say(f"Console:           {self.hub_base}/console")
        story.say(f"This case:         {self.hub_base}/console/cases/{quoted}  "
                  f"(JSON: {self.hub_base}/cases/{quoted})")
        story.say(f"Metrics:           {self.hub_base}/metrics")
        story.say(f"Municipality API:  http://127.0.0.1:{self.gm_port}/cases/{quoted}")
        story.say(f"RabbitMQ:          {urlsplit(self.options.management_url).hostname}:"
                  f"{urlsplit(self.options.management_url).port or 15672} (management UI)")
        story.say(f"Logs:              {self.state / 'logs'}/")

    # -- stopping ------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        adapters = [c for c in self.children if c.name != "hub"]
        hubs = [c for c in self.children if c.name == "hub"]
        for child in adapters:
            child.terminate()
        if self.offices is not None and self.offices.held:
            self.story.note("SVB's back office lets go of the request it held; the SVB adapter "
                            "answers as its contract says (declined: back_office_unavailable)")
        if self.offices is not None:
            self.offices.release()
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()
        killed = await stop_all(adapters)
        killed += await stop_all(hubs)
        if self.offices is not None:
            await self.offices.stop()
        if killed:
            self.story.note(f"had to kill: {', '.join(killed)}")


async def run_demo(options: DemoOptions, settings: Settings | None = None,
                   story: Story | None = None) -> int:
    settings = settings or Settings.from_env()
    story = story or Story()
    demo = Demo(options, settings, story)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    async def main() -> None:
        story.say(f"Maatwerk Hub demo: state {settings.state_url}, keys {settings.keys_dir}, "
                  f"work files in {options.state_dir}")
        await demo.setup()
        await demo.start_processes()
        await demo.play()
        demo.print_end(await demo.final_status())

    code = 0
    work = asyncio.create_task(main())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            work.result()
            if options.wait and not stop.is_set():
                story.say()
                story.say("Everything keeps running. Press Ctrl-C to stop it all.")
                while not stop.is_set():
                    demo.check_children()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
        else:
            story.say()
            story.say("Interrupted.")
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            code = 130
    except DemoError as exc:
        story.say()
        story.say(f"DEMO FAILED: {exc}")
        code = 1
    except Exception as exc:
        story.say()
        story.say(f"DEMO FAILED (unexpected): {exc!r}")
        traceback.print_exc()
        code = 1
    finally:
        stopper.cancel()
        story.say()
        story.say("Stopping: adapters first (they finish the messages in hand), then the hub.")
        await demo.shutdown()
        story.say("Stopped.")
    return code
