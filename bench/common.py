"""Shared machinery of the benchmarks: a throw-away broker vhost with its own users, pre-signed
messages, a hub (``python -m hub run``) or bare relay (``python -m bench.relay``) subprocess,
publishers with confirms, plain inbox consumers, and the figures (rate, percentiles, RSS).

Every run gets a fresh vhost and fresh broker users (suffix ``-b<hex>``), both deleted afterwards,
so a benchmark never touches anybody else's queues on a shared broker.

Message size is controlled by the number of *references* in each ``timeout.request`` body: every
agency gets only its own reference list (the one its policy rule allows), so every message passes
the policy. ``--body-size BYTES`` adds references until the signed message reaches that size or the
schema's cap for the agency's list (CJIB 50 payment references, the others 20; Belastingdienst
20 assessments + 20 years). The sizes reached are printed with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import yaml
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)

from adapters.sdk import HubClient
from hub.contract import names
from hub.contract.keys import ensure_dev_keys, load_private_key, private_key_path
from hub.contract.registry import Registry, RegistryDocument, load_registry
from hub.core import topology
from hub.core.broker_admin import BrokerAdmin, Permissions

MANAGEMENT_URL = os.environ.get("MAATWERK_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
AMQP_HOST = os.environ.get("MAATWERK_BENCH_AMQP_HOST", "127.0.0.1:5672")
PG_URL = os.environ.get("MAATWERK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent

AGENCIES = ("cjib", "duo", "uwv", "svb", "belastingdienst")
MUNICIPALITIES = ("gm0193", "gm0363")
DELIVERY_LIMIT = 5

RELAY_INBOUND = "bench.relay.inbound"
RELAY_DELIVER = "bench.relay.deliver"
RELAY_INBOX_PREFIX = "bench.relay.inbox."
RECIPIENT_HEADER = "x-bench-recipient"
BSN = "123456782"  # passes the elfproef; fictional (the same as the tests use)


def amqp_url(user: str, password: str, vhost: str, *, every_node: bool = False) -> str:
    """The URL on the first of ``AMQP_HOST`` (comma-separated ``host:port``); with
    ``every_node`` one URL per host, comma-separated (what the hub's ``AMQP_URL`` accepts)."""
    hosts = [h.strip() for h in AMQP_HOST.split(",") if h.strip()]
    return ",".join(f"amqp://{quote(user)}:{quote(password)}@{host}/{quote(vhost, safe='')}"
                    for host in (hosts if every_node else hosts[:1]))


def relay_inbox(agency: str) -> str:
    return f"{RELAY_INBOX_PREFIX}{agency}"


# -- the environment: vhost, users, keys, registry ---------------------------------------------

@dataclass
class BenchEnv:
    vhost: str
    tmp: Path
    keys_dir: Path
    registry: Registry
    registry_file: Path
    passwords: dict[str, str]
    pg_urls: list[str] = field(default_factory=list)

    def url_of(self, participant_id: str) -> str:
        participant = self.registry.get(participant_id)
        assert participant is not None
        user = participant.broker_user
        return amqp_url(user, self.passwords[user], self.vhost)

    @property
    def guest_url(self) -> str:
        return amqp_url("guest", "guest", self.vhost)

    @property
    def hub_url(self) -> str:
        """The hub's AMQP_URL: every node when ``AMQP_HOST`` lists several (a cluster)."""
        participant = self.registry.get("hub")
        assert participant is not None
        user = participant.broker_user
        return amqp_url(user, self.passwords[user], self.vhost, every_node=True)


def local_env(tag: str = "bench") -> BenchEnv:
    """Keys, a registry with suffixed broker users (``-b<hex>``) and passwords; no broker yet."""
    suffix = uuid.uuid4().hex[:6]
    tmp = Path(tempfile.mkdtemp(prefix=f"maatwerk-{tag}-", suffix=f"-{suffix}"))
    keys_dir = tmp / "keys"
    demo_ids = [p.id for p in load_registry().document.participants]
    ensure_dev_keys(keys_dir, demo_ids)
    demo = load_registry(None, keys_dir)
    participants = [p.model_copy(update={"broker_user": f"{p.broker_user}-b{suffix}"})
                    for p in demo.document.participants]
    registry = Registry(RegistryDocument(version=demo.version, participants=participants))
    registry_file = tmp / "registry.yaml"
    registry_file.write_text(yaml.safe_dump(registry.document.model_dump(mode="json"),
                                            sort_keys=False))
    passwords = {p.broker_user: secrets.token_urlsafe(18) for p in participants}
    return BenchEnv(vhost="", tmp=tmp, keys_dir=keys_dir, registry=registry,
                    registry_file=registry_file, passwords=passwords)


@contextlib.asynccontextmanager
async def bench_env(tag: str = "bench") -> AsyncIterator[BenchEnv]:
    """A fresh vhost with the participants' least-privilege users, keys and registry file."""
    env = local_env(tag)
    suffix = env.tmp.name.rsplit("-", 1)[-1]
    registry, tmp, passwords = env.registry, env.tmp, env.passwords
    participants = registry.document.participants
    vhost = env.vhost = f"maatwerk-{tag}-{suffix}"
    try:
        async with BrokerAdmin(MANAGEMENT_URL) as admin:
            await admin.ensure_vhost(vhost)
            await admin.set_permissions(vhost, "guest", Permissions(".*", ".*", ".*"))
            await admin.apply_users(registry, vhost, passwords)
            # The municipalities may also publish to the relay's inbound exchange (this vhost
            # only), so both paths are fed by the same users with the same properties.
            for municipality in MUNICIPALITIES:
                participant = registry.get(municipality)
                assert participant is not None
                await admin.set_permissions(vhost, participant.broker_user, Permissions(
                    configure="^$",
                    write=rf"^({names.INBOUND_EXCHANGE}|{RELAY_INBOUND})$".replace(".", r"\."),
                    read=f"^{names.inbox(municipality)}$".replace(".", r"\."),
                ))
        await declare_topology(env)
        yield env
    finally:
        async with BrokerAdmin(MANAGEMENT_URL) as admin:
            await admin.delete_vhost(vhost)
            for participant in participants:
                await admin.delete_user(participant.broker_user)
        for url in env.pg_urls:
            await drop_pg_database(url)
        shutil.rmtree(tmp, ignore_errors=True)


async def declare_topology(env: BenchEnv) -> None:
    """The hub's topology (so inbox consumers can attach first) and the relay's twin of it."""
    connection = await aio_pika.connect(env.guest_url)
    async with connection:
        channel = await connection.channel()
        await topology.declare(channel, env.registry, DELIVERY_LIMIT)
        inbound = await channel.declare_exchange(RELAY_INBOUND, aio_pika.ExchangeType.DIRECT,
                                                 durable=True)
        queue = await channel.declare_queue(
            RELAY_INBOUND, durable=True, arguments=topology.quorum_arguments(DELIVERY_LIMIT))
        await queue.bind(inbound, routing_key=names.INBOUND_ROUTING_KEY)
        deliver = await channel.declare_exchange(RELAY_DELIVER, aio_pika.ExchangeType.DIRECT,
                                                 durable=True)
        for agency in AGENCIES:
            inbox = await channel.declare_queue(
                relay_inbox(agency), durable=True,
                arguments=topology.quorum_arguments(DELIVERY_LIMIT))
            await inbox.bind(deliver, routing_key=agency)


async def create_pg_database(env: BenchEnv) -> str:
    import asyncpg

    name = f"maatwerk_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    env.pg_urls.append(url)
    return url


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def state_url_for(env: BenchEnv, state: str) -> str:
    if state == "postgresql":
        return await create_pg_database(env)
    return f"sqlite:///{env.tmp / 'hub.sqlite3'}"


# -- the processes under test ----------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_kib(self) -> int:
        return rss_kib(self.popen.pid)

    async def stop(self, grace: float = 30.0) -> int:
        """SIGTERM, wait up to ``grace`` seconds for the graceful stop, then SIGKILL."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.popen.wait, grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                await asyncio.to_thread(self.popen.wait)
        return self.popen.returncode


def _spawn(name: str, argv: list[str], env_vars: dict[str, str], log: Path) -> Proc:
    handle = log.open("ab")
    popen = subprocess.Popen(argv, env={**os.environ, **env_vars}, stdout=handle,
                             stderr=subprocess.STDOUT, cwd=REPO)
    handle.close()
    return Proc(name=name, popen=popen, log=log)


def hub_environment(env: BenchEnv, state_url: str, *, prefetch: int = 64,
                    log_level: str = "INFO") -> dict[str, str]:
    return {
        "AMQP_URL": env.hub_url,
        "MAATWERK_REGISTRY": str(env.registry_file),
        "MAATWERK_KEYS_DIR": str(env.keys_dir),
        "MAATWERK_STATE_URL": state_url,
        "MAATWERK_HTTP_PORT": "0",
        "MAATWERK_PREFETCH": str(prefetch),
        "MAATWERK_LOG_LEVEL": log_level,
        "MAATWERK_DELIVERY_LIMIT": str(DELIVERY_LIMIT),
    }


async def start_hub(env: BenchEnv, state_url: str, *, name: str = "hub", prefetch: int = 64,
                    log_level: str = "INFO", argv: Sequence[str] | None = None,
                    expect_consumers: int = 1) -> Proc:
    """``python -m hub run`` in its own process (its own core, as in production)."""
    command = list(argv) if argv else [sys.executable, "-m", "hub", "run"]
    proc = _spawn(name, command, hub_environment(env, state_url, prefetch=prefetch,
                                                 log_level=log_level),
                  env.tmp / f"{name}.log")
    await wait_consumers(env, names.HUB_QUEUE, expect_consumers, proc)
    return proc


async def start_relay(env: BenchEnv, *, prefetch: int = 64) -> Proc:
    proc = _spawn("relay", [sys.executable, "-m", "bench.relay", "--prefetch", str(prefetch)],
                  {"AMQP_URL": env.guest_url}, env.tmp / "relay.log")
    await wait_consumers(env, RELAY_INBOUND, 1, proc)
    return proc


async def wait_consumers(env: BenchEnv, queue: str, count: int, proc: Proc,
                         limit: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    connection = await aio_pika.connect(env.guest_url)
    async with connection:
        channel = await connection.channel()
        while True:
            q = await channel.declare_queue(queue, passive=True)
            assert q.declaration_result is not None
            if q.declaration_result.consumer_count >= count:
                return
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited: see {proc.log}\n"
                                   + proc.log.read_text()[-3000:])
            if loop.time() > deadline:
                raise RuntimeError(f"{proc.name} did not start consuming in {limit}s")
            await asyncio.sleep(0.2)


async def queue_depth(env: BenchEnv, queue: str) -> int:
    connection = await aio_pika.connect(env.guest_url)
    async with connection:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, passive=True)
        assert q.declaration_result is not None
        return int(q.declaration_result.message_count)


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU use of some processes and of the whole machine between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.system = (0.0, 0.0)
        self.started = 0.0

    def start(self) -> None:
        self.before = {n: cpu_seconds(p) for n, p in self.pids.items()}
        self.system = system_busy()
        self.started = time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        busy, total = system_busy()
        result = {f"{n}_cpu_pct": round(100 * (cpu_seconds(p) - self.before[n]) / wall, 1)
                  for n, p in self.pids.items()} if wall > 0 else {}
        if total > self.system[1]:
            result["machine_busy_pct"] = round(
                100 * (busy - self.system[0]) / (total - self.system[1]), 1)
        return result


# -- messages ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prepared:
    id: str
    sender: str
    recipient: str
    body: bytes


def references(agency: str, n: int) -> dict[str, Any]:
    """``n`` of the agency's own references (capped at the schema's maximum)."""
    if agency == "cjib":
        return {"cjib_payment_references": [f"{1234567890120000 + k}" for k in range(min(n, 50))]}
    if agency == "belastingdienst":
        return _belastingdienst(n)
    n = min(max(n, 1), 20)
    if agency == "duo":
        return {"duo_debt_numbers": [f"DUO-{77341 + k}" for k in range(n)]}
    if agency == "uwv":
        return {"uwv_recovery_decisions": [f"UWV-TV-2026-{k:04d}" for k in range(n)]}
    if agency == "svb":
        return {"svb_benefit_references": [f"SVB-KB-{5521 + k}" for k in range(n)]}
    raise ValueError(agency)


def _belastingdienst(n: int) -> dict[str, Any]:
    years = [2024 - k for k in range(min(n, 20))]
    refs: dict[str, Any] = {"toeslagen_years": years}
    if n > 1:
        refs["belastingdienst_assessments"] = [f"BD-{k:06d}" for k in range(min(n - 1, 20))]
    return refs


def timeout_request_body(agency: str, n_refs: int) -> dict[str, Any]:
    return {
        "bsn": BSN,
        "references": references(agency, n_refs),
        "requested_from": "2026-12-01",
        "requested_months": 4,
        "reason_code": "livelihood_threatened",
        "scope": ["collection", "surcharges"],
    }


class MessageFactory:
    """Signs ``timeout.request`` messages as the municipalities would, with the SDK's own
    ``HubClient.message()`` and ``HubClient.sign()`` (no broker connection needed)."""

    def __init__(self, env: BenchEnv, recipients: int, body_size: int) -> None:
        self.agencies = AGENCIES[:max(1, min(recipients, len(AGENCIES)))]
        self.clients = {
            m: HubClient(m, amqp_url=env.url_of(m), registry=env.registry,
                         key=load_private_key(private_key_path(env.keys_dir, m)),
                         state_url=f"sqlite:///{env.tmp / f'sdk-{m}.sqlite3'}")
            for m in MUNICIPALITIES
        }
        self.tag = uuid.uuid4().hex[:6]
        self.serial = 0
        self.n_refs = {a: self._refs_for(a, body_size) for a in self.agencies}

    def _refs_for(self, agency: str, body_size: int) -> int:
        n = 1
        while n < 50 and len(self._sign("gm0193", agency, n).body) < body_size:
            n += 1
        return n

    def _sign(self, sender: str, agency: str, n_refs: int) -> Prepared:
        client = self.clients[sender]
        self.serial += 1
        document = client.message(type="timeout.request", recipient=agency,
                                  case_id=f"b{self.tag}-c{self.serial}",
                                  body=timeout_request_body(agency, n_refs))
        return Prepared(id=document["id"], sender=sender, recipient=agency,
                        body=client.sign(document))

    def make(self, sender: str, index: int) -> Prepared:
        agency = self.agencies[index % len(self.agencies)]
        return self._sign(sender, agency, self.n_refs[agency])

    def batch(self, count: int, publishers: int) -> list[list[Prepared]]:
        """``count`` messages split over ``publishers`` (publisher p sends as municipality p%2)."""
        lanes: list[list[Prepared]] = [[] for _ in range(publishers)]
        for i in range(count):
            p = i % publishers
            lanes[p].append(self.make(MUNICIPALITIES[p % 2], i))
        return lanes


def sizes(lanes: Iterable[Iterable[Prepared]]) -> dict[str, float]:
    lengths = sorted(len(m.body) for lane in lanes for m in lane)
    return {"min": lengths[0], "mean": round(sum(lengths) / len(lengths), 1),
            "max": lengths[-1]} if lengths else {}


# -- publishing and consuming -----------------------------------------------------------------

class Publishers:
    """One connection per publisher, as the municipality (confirms on, like the SDK)."""

    def __init__(self, env: BenchEnv, count: int) -> None:
        self.env = env
        self.count = count
        self.connections: list[AbstractConnection] = []
        self.exchanges: list[dict[str, AbstractExchange]] = []

    async def __aenter__(self) -> Publishers:
        for p in range(self.count):
            connection = await aio_pika.connect(self.env.url_of(MUNICIPALITIES[p % 2]))
            channel = await connection.channel(publisher_confirms=True)
            self.connections.append(connection)
            self.exchanges.append({
                "hub": await channel.get_exchange(names.INBOUND_EXCHANGE, ensure=False),
                "relay": await channel.get_exchange(RELAY_INBOUND, ensure=False),
            })
        return self

    async def __aexit__(self, *exc: object) -> None:
        for connection in self.connections:
            await connection.close()

    async def run(self, path: str, lanes: list[list[Prepared]], sent: dict[str, float],
                  rate: float | None = None) -> None:
        """Publish every lane on its own connection; at ``rate`` msg/s overall when given."""
        start = time.perf_counter()
        publishers = len(lanes)

        async def lane(p: int) -> None:
            exchange = self.exchanges[p][path]
            for k, prepared in enumerate(lanes[p]):
                if rate:
                    due = start + (k * publishers + p) / rate
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                message = aio_pika.Message(
                    prepared.body, message_id=prepared.id, content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    user_id=self.env.registry.get(prepared.sender).broker_user,  # type: ignore[union-attr]
                    headers={RECIPIENT_HEADER: prepared.recipient},
                )
                sent[prepared.id] = time.perf_counter()
                await exchange.publish(message, routing_key=names.INBOUND_ROUTING_KEY)

        await asyncio.gather(*(lane(p) for p in range(publishers)))


class Inboxes:
    """Plain aio-pika consumers of the recipients' inboxes (no verification, no receipts), as
    guest; records the arrival time of every message id."""

    def __init__(self, env: BenchEnv, prefetch: int = 256) -> None:
        self.env = env
        self.prefetch = prefetch
        self.arrived: dict[str, float] = {}
        self.expected = 0
        self.done = asyncio.Event()
        self.connection: AbstractConnection | None = None
        self.channels: list[AbstractChannel] = []

    async def __aenter__(self) -> Inboxes:
        self.connection = await aio_pika.connect(self.env.guest_url)
        queues = [names.inbox(a) for a in AGENCIES] + [relay_inbox(a) for a in AGENCIES]
        for queue_name in queues:
            channel = await self.connection.channel()
            await channel.set_qos(prefetch_count=self.prefetch)
            queue = await channel.get_queue(queue_name, ensure=False)
            await queue.consume(self._on_message)
            self.channels.append(channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        now = time.perf_counter()
        if message.message_id is not None:
            self.arrived[message.message_id] = now
        await message.ack()
        if self.expected and len(self.arrived) >= self.expected:
            self.done.set()

    def expect(self, count: int) -> None:
        self.arrived = {}
        self.expected = count
        self.done = asyncio.Event()


@dataclass
class RunResult:
    path: str
    count: int
    delivered: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "path": self.path, "count": self.count, "delivered": self.delivered,
            "seconds": round(self.seconds, 3), "msg_per_s": round(self.rate, 1),
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
            "max_ms": round(lat[-1], 2) if lat else None,
            **self.cpu,
        }


def pct(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))
    return round(sorted_values[int(rank) - 1], 2)


async def run_path(path: str, lanes: list[list[Prepared]], publishers: Publishers,
                   inboxes: Inboxes, *, rate: float | None = None,
                   limit: float = 300.0, meter: CpuMeter | None = None) -> RunResult:
    """Push one batch through ``path`` ("hub" or "relay") and wait for every arrival."""
    count = sum(len(lane) for lane in lanes)
    sent: dict[str, float] = {}
    inboxes.expect(count)
    meter = meter or CpuMeter({})
    meter.start()
    start = time.perf_counter()
    await publishers.run(path, lanes, sent, rate=rate)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(inboxes.done.wait(), limit)
    arrived = dict(inboxes.arrived)
    cpu = meter.stop()
    end = max(arrived.values()) if arrived else time.perf_counter()
    latencies = [(arrived[i] - t) * 1000 for i, t in sent.items() if i in arrived]
    inboxes.expect(0)
    return RunResult(path=path, count=count, delivered=len(latencies), seconds=end - start,
                     latencies_ms=latencies, cpu=cpu)


# -- reporting --------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(), "cpu_model": model, "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "rabbitmq": rabbitmq_version(), "python": platform.python_version(),
        "kernel": platform.release(), "git": git_describe(),
    }


def rabbitmq_version() -> str:
    import httpx

    try:
        response = httpx.get(_mgmt("/api/overview"), auth=_mgmt_auth(), timeout=5)
        data = response.json()
        return f"{data.get('rabbitmq_version')} (Erlang {data.get('erlang_version')})"
    except Exception:
        return "unknown"


def _mgmt(path: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(MANAGEMENT_URL)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{path}"


def _mgmt_auth() -> tuple[str, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(MANAGEMENT_URL)
    return (parts.username or "guest", parts.password or "guest")


def git_describe() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "hub", "adapters"], cwd=REPO,
                               capture_output=True, text=True, check=False).stdout.strip()
        return head + (" (hub/adapters modified in the working tree)" if dirty else "")
    except OSError:
        return "unknown"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    head = "  ".join(c.rjust(widths[c]) for c in columns)
    lines = [head, "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(_fmt(r.get(c)).rjust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"JSON written to {path}")


def add_load_arguments(parser: argparse.ArgumentParser, *, state: bool = True) -> None:
    """The flags every load-driving benchmark shares: who publishes what, and where to report."""
    parser.add_argument("--publishers", type=int, default=8,
                        help="publisher connections (alternately gm0193 and gm0363)")
    parser.add_argument("--body-size", type=int, default=0,
                        help="target size of a signed message in bytes: the agency's own "
                             "references are added until it is reached (or the schema's cap)")
    parser.add_argument("--recipients", type=int, default=5,
                        help="agencies the messages are spread over (1-5)")
    if state:
        parser.add_argument("--state", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--hub-log-level", default="INFO", help="the hub's MAATWERK_LOG_LEVEL")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
