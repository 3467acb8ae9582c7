"""The demo's stage: dev keys, the broker users on the configured vhost, the topology, and the
hub and the seven reference adapters as child processes (through :mod:`sandbox`), with the fake
back offices of :mod:`demo.offices`; waiting until they are ready, and stopping them in order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from datetime import date
from urllib.parse import urlsplit

import aio_pika
import httpx
import yaml

from adapters.sdk.backoffice import BackOffice
from adapters.sdk.client import HubClient
from demo import case
from demo.offices import Offices
from demo.options import DemoError, DemoOptions
from demo.story import Story
from hub.config import Settings
from hub.contract.agreements import (
    Agreements,
    BridgingTerms,
    DeadlineTable,
    Duration,
    load_agreements,
)
from hub.contract.names import inbox
from hub.contract.registry import Registry, load_registry
from hub.contract.tls import connect_kwargs
from hub.core import topology
from hub.ops.console import queue_depths, vhost_of
from sandbox import (
    Broker,
    BrokerAdminError,
    Child,
    adapter_command,
    child_env,
    dev_keys,
    free_port,
    hub_command,
    load_passwords,
    private_key,
    spawn,
    stop_all,
    with_user,
)

__all__ = ["Stage", "free_port", "port_free"]


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class Stage:
    """The processes and connections of one demo run (the case itself: :mod:`demo.play`)."""

    def __init__(self, options: DemoOptions, settings: Settings, story: Story) -> None:
        self.options = options
        self.settings = settings
        self.story = story
        self.state = options.state_dir
        self.children: list[Child] = []
        self.clients: list[HubClient] = []
        self.backoffices: list[BackOffice] = []
        self.offices: Offices | None = None
        self.registry: Registry | None = None
        self.passwords: dict[str, str] = {}
        self.production: Agreements | None = None  # as configured (the demo's hub: seconds)
        self.loket_reference = f"ML-{date.today().year}-{secrets.token_hex(2).upper()}"
        self.hub_base = f"http://{settings.http_host}:{options.http_port}"
        self.gm_port = 0

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
        made = dev_keys(settings.keys_dir, registry_path=settings.registry_path)
        if made:
            self.story.note(f"generated dev keys in {settings.keys_dir} for {', '.join(made)}")
        self.registry = load_registry(settings.registry_path, settings.keys_dir)
        self.production = load_agreements(settings.agreements_path)
        agreements = self.production.model_copy(update={
            "deadlines": DeadlineTable(receipt=Duration(seconds=options.receipt_seconds),
                                       response=Duration(seconds=options.response_seconds)),
            "bridging": BridgingTerms(overdue_after=Duration(seconds=options.response_seconds))})
        self.agreements_file = self.state / "agreements.yaml"
        self.agreements_file.write_text(
            "# Written by maatwerk-demo: the default agreements with deadlines (and the\n"
            "# repayment's overdue period) in seconds.\n"
            + yaml.safe_dump(agreements.model_dump(mode="json", exclude_none=True),
                             sort_keys=False))
        users = [p.broker_user for p in self.registry.document.participants]
        self.passwords = load_passwords(options.passwords, users)
        vhost = vhost_of(settings.amqp_url)
        try:
            broker = Broker(management_url=options.management_url)
            done = await broker.create_users(self.registry, vhost, self.passwords)
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

    def _hash_key(self) -> str:
        """MAATWERK_HASH_KEY if set, else the demo's own random one (kept in the state folder,
        so the data-subject hashes of one demo installation stay comparable)."""
        if os.environ.get("MAATWERK_HASH_KEY"):
            return os.environ["MAATWERK_HASH_KEY"]
        path = self.state / "hash-key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip()

    def _env(self, **env: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("BACKOFFICE_", "MAATWERK_ADAPTER_", "MAATWERK_WEBHOOK"))
                and k != "MAATWERK_PARTICIPANT"}
        common = {"MAATWERK_KEYS_DIR": str(self.settings.keys_dir),
                  "MAATWERK_LOG_LEVEL": self.settings.log_level}
        if self.settings.registry_path:
            common["MAATWERK_REGISTRY"] = str(self.settings.registry_path)
        return child_env(base, **common, **env)

    def _spawn(self, name: str, args: list[str], **env: str) -> Child:
        command = hub_command(*args) if name == "hub" else adapter_command(*args)
        child = spawn(name, command, self._env(**env), self.state / "logs" / f"{name}.log")
        self.children.append(child)
        return child

    async def adapter_command(self, participant: str, *args: str) -> str:
        """``maatwerk-adapter ARGS`` as ``participant``, with the state of its running adapter
        (as its operator would run it); its output, or :class:`DemoError`."""
        process = await asyncio.create_subprocess_exec(
            *adapter_command(*args), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._env(
                MAATWERK_PARTICIPANT=participant, AMQP_URL=self._url(participant),
                MAATWERK_ADAPTER_STATE=str(self.state / "adapters" / participant)))
        try:
            out, err = await asyncio.wait_for(process.communicate(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise DemoError(f"maatwerk-adapter {args[0]} as {participant} did not finish in "
                            "60 s") from None
        if process.returncode != 0:
            raise DemoError(f"maatwerk-adapter {args[0]} as {participant} failed "
                            f"({process.returncode}): {err.decode(errors='replace')[-2000:]}")
        return out.decode().strip()

    async def start_processes(self) -> None:
        self.offices = await Offices(
            decisions=case.DECISIONS, listener=self.story.on_office,
            escalation_answer=case.escalation_answer(self.loket_reference),
            information=case.INFORMATION, repay_later=True).start()
        hub = self._spawn(
            "hub", ["run"], AMQP_URL=self._url("hub"),
            MAATWERK_STATE_URL=self.settings.state_url,
            MAATWERK_AGREEMENTS=str(self.agreements_file),
            MAATWERK_WATCH_SECONDS=str(self.options.watch_seconds),
            MAATWERK_HTTP_PORT=str(self.options.http_port),
            MAATWERK_HTTP_HOST=self.settings.http_host, MAATWERK_HASH_KEY=self._hash_key())
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

    def _client(self, participant: str, folder: str) -> HubClient:
        assert self.registry is not None
        (self.state / folder).mkdir(parents=True, exist_ok=True)
        client = HubClient(
            participant, amqp_url=self._url(participant), registry=self.registry,
            key=private_key(self.settings.keys_dir, participant),
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
        for backoffice in self.backoffices:
            with contextlib.suppress(Exception):
                await backoffice.aclose()
        killed = await stop_all(adapters)
        killed += await stop_all(hubs)
        if self.offices is not None:
            await self.offices.stop()
        if killed:
            self.story.note(f"had to kill: {', '.join(killed)}")
