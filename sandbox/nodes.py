"""Extra RabbitMQ nodes on this machine, for tests: a single node, or a cluster of three.

Each node has its own node name (``mw-<role>-<random>@localhost``), AMQP, distribution
(``RABBITMQ_DIST_PORT``) and management ports (free ports the OS hands out), its own config, data
and log directories under one temporary directory, and is stopped and removed afterwards. The
default node (``rabbit@<host>``, port 5672) is never addressed: every ``rabbitmqctl`` call names
``-n`` explicitly, and the nodes share a cookie of their own, written to ``$HOME/.erlang.cookie``
of a home directory made for them, so a stray CLI call could not even authenticate to the default
node. (``rabbitmq-env`` reads ``RABBITMQ_*`` variables before ``/etc/rabbitmq/rabbitmq-env.conf``;
we point ``RABBITMQ_CONF_ENV_FILE`` at an empty file so the default ``NODENAME`` is not read at
all.)

A cluster is formed by peer discovery from the configuration (``classic_config``, as the compose
profile does): the first node boots, then the others boot blank with the first as their peer and
join it (``Node.join`` does the same by hand with ``rabbitmqctl join_cluster``). Readiness is
polled on the ports, not with ``rabbitmqctl`` (each CLI call boots an Erlang VM: seconds on a
loaded machine). Starting three nodes takes tens of seconds here, so the tests share one cluster
per session (``tests/cluster/conftest.py``).

    with Cluster.start(3) as cluster:
        url = cluster.nodes[0].amqp_url()
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from sandbox.ports import free_port

# RabbitMQ's own scripts (the Debian/Ubuntu package keeps them here; /usr/sbin has wrappers that
# switch to the rabbitmq user and would drop our HOME, hence our cookie).
SBIN = Path(os.environ.get("MAATWERK_RABBITMQ_SBIN", "/usr/lib/rabbitmq/bin"))
DEFAULT_NODE_PORT = 5672
HOST = "localhost"


class NodeError(RuntimeError):
    """A sandbox node did not start, stop or join as asked."""


def tool(name: str) -> str:
    """The path of a RabbitMQ command (``MAATWERK_RABBITMQ_SBIN``, else the PATH)."""
    path = SBIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        raise NodeError(f"{name} not found (set MAATWERK_RABBITMQ_SBIN to RabbitMQ's bin dir)")
    return found


def available() -> str | None:
    """None when sandbox nodes can run here, else the reason why not (for a skip)."""
    try:
        tool("rabbitmq-server")
        tool("rabbitmqctl")
    except NodeError as exc:
        return str(exc)
    return None


@dataclass
class Node:
    """One RabbitMQ node of the sandbox (not started until :meth:`launch`)."""

    name: str
    base: Path
    cookie: str
    amqp_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    management: bool = True
    peers: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None

    # -- files and environment ------------------------------------------------------------------

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def log_file(self) -> Path:
        return self.base / "log" / f"{self.name}.log"

    def env(self) -> dict[str, str]:
        """The environment of this node's server and of every CLI call aimed at it."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "HOME": str(self.home),  # $HOME/.erlang.cookie: the sandbox's own cookie
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "data"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1} +S 1:1 +A 8",
        }

    def write_files(self) -> None:
        for sub in ("home", "data", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        lines = [
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}",
            "loopback_users = none",
            "disk_free_limit.absolute = 50MB",
            "vm_memory_high_watermark.relative = 0.2",
            "log.file.level = info",
            "log.console = false",
        ]
        if self.peers:  # join these at first boot (peer discovery from the configuration)
            lines += ["cluster_formation.peer_discovery_backend = classic_config",
                      "cluster_formation.randomized_startup_delay_range.min = 0",
                      "cluster_formation.randomized_startup_delay_range.max = 1"]
            lines += [f"cluster_formation.classic_config.nodes.{i} = {peer}"
                      for i, peer in enumerate(self.peers, 1)]
        if self.management:
            lines += [f"management.tcp.port = {self.management_port}",
                      "management.tcp.ip = 127.0.0.1"]
        (self.base / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        (self.base / "advanced.config").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("# sandbox node: no defaults\n")
        plugins = "[rabbitmq_management]." if self.management else "[]."
        (self.base / "enabled_plugins").write_text(plugins + "\n")

    # -- control --------------------------------------------------------------------------------

    def ctl(self, *args: str, timeout: float = 120, command_name: str = "rabbitmqctl",
            check: bool = True) -> str:
        """``rabbitmqctl -n THIS_NODE ARGS`` (never without ``-n``)."""
        if self.name.startswith("rabbit@"):
            raise NodeError("the sandbox never addresses the default node")
        command = [tool(command_name), "-n", self.name, *args]
        done = subprocess.run(command, env=self.env(), capture_output=True, timeout=timeout,
                              check=False)
        if check and done.returncode != 0:
            raise NodeError(f"{' '.join(command[1:])}: exit {done.returncode}: "
                            f"{done.stderr.decode(errors='replace')[-2000:]}"
                            f"{done.stdout.decode(errors='replace')[-1000:]}")
        return done.stdout.decode(errors="replace")

    def launch(self) -> None:
        """Start the server process (returns at once; :meth:`wait_started` waits for it)."""
        self.write_files()
        with (self.base / "server.out").open("ab") as out:
            self.process = subprocess.Popen(
                [tool("rabbitmq-server")], env=self.env(), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)

    def wait_started(self, timeout: float = 240) -> None:
        """Wait until the node accepts AMQP connections (and answers its management API).

        Polls the ports rather than ``rabbitmqctl await_startup``: every CLI call boots an Erlang
        VM, seconds each on a loaded machine.
        """
        deadline = time.monotonic() + timeout
        while not self.listening():
            if self.process is not None and self.process.poll() is not None:
                raise NodeError(f"{self.name} exited ({self.process.returncode}): "
                                f"{self.tail()}")
            if time.monotonic() > deadline:
                raise NodeError(f"{self.name} did not start in {timeout:.0f} s: {self.tail()}")
            time.sleep(0.25)
        if self.management:
            self.wait_management(max(10.0, deadline - time.monotonic()))

    def listening(self) -> bool:
        """The AMQP listener accepts connections (the last step of a node's boot)."""
        try:
            with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=1):
                return True
        except OSError:
            return False

    def tail(self, chars: int = 3000) -> str:
        text = ""
        for path in (self.base / "server.out", self.log_file):
            if path.exists():
                text += path.read_text(errors="replace")[-chars:]
        return text

    def stop_app(self) -> None:
        """The node leaves: its connections drop, its queue replicas go (the process lives)."""
        self.ctl("stop_app")

    def start_app(self, timeout: float = 120) -> None:
        self.ctl("start_app", timeout=timeout)
        self.wait_started(timeout)

    def join(self, other: Node) -> None:
        """Join ``other``'s cluster by hand (``stop_app``, ``join_cluster``, ``start_app``)."""
        self.ctl("stop_app")
        self.ctl("join_cluster", other.name)
        self.start_app()

    def shutdown(self) -> None:
        """Stop the whole node (Erlang VM included) and reap the server process."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with suppress(subprocess.TimeoutExpired):
                self.ctl("shutdown", timeout=60, check=False)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    # -- addresses ------------------------------------------------------------------------------

    def amqp_url(self, user: str = "guest", password: str = "guest", vhost: str = "/") -> str:
        return (f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{self.amqp_port}/"
                f"{quote(vhost, safe='')}")

    def management_url(self, user: str = "guest", password: str = "guest") -> str:
        return f"http://{quote(user)}:{quote(password)}@127.0.0.1:{self.management_port}"

    def api(self, path: str, timeout: float = 30, method: str = "GET",
            body: object | None = None) -> object:
        """``/api/PATH`` on this node's management plugin, as guest (JSON in, JSON out)."""
        import json

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.management_port}/api/{path}",
                                         data=data, method=method)
        request.add_header("Authorization", "Basic " + b64encode(b"guest:guest").decode())
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            text = response.read()
        return json.loads(text) if text else None

    def wait_management(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("overview")
                return
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


class Cluster:
    """``n`` sandbox nodes; with ``n > 1`` joined into one RabbitMQ cluster."""

    def __init__(self, size: int = 3, *, role: str = "c", management: bool = True,
                 root: Path | None = None) -> None:
        self.tag = secrets.token_hex(3)
        self.root = Path(tempfile.mkdtemp(prefix=f"mw-{role}-{self.tag}-", dir=root))
        cookie = secrets.token_hex(20).upper()
        used: list[int] = []
        self.nodes: list[Node] = []
        for i in range(1, size + 1):
            ports = [free_port(used) for _ in range(3)]
            used += ports
            self.nodes.append(Node(
                name=f"mw-{role}{i}-{self.tag}@{HOST}", base=self.root / f"n{i}", cookie=cookie,
                amqp_port=ports[0], dist_port=ports[1], management_port=ports[2],
                management=management))
        self.started_in = 0.0

    @classmethod
    @contextmanager
    def running(cls, size: int = 3, **kwargs: object) -> Iterator[Cluster]:
        cluster = cls(size, **kwargs)  # type: ignore[arg-type]
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.remove()

    def start(self, timeout: float = 240) -> float:
        """Start every node, join them, wait for the management API; return the seconds taken."""
        began = time.monotonic()
        first, rest = self.nodes[0], self.nodes[1:]
        first.launch()
        first.wait_started(timeout)
        for node in rest:  # blank nodes: they join the first at boot (classic_config)
            node.peers = [first.name]
            node.launch()
        with ThreadPoolExecutor(max(1, len(rest))) as pool:
            list(pool.map(lambda n: n.wait_started(timeout), rest))
        if rest:
            self.wait_members(len(self.nodes), timeout)
        self.started_in = time.monotonic() - began
        return self.started_in

    def wait_members(self, count: int, timeout: float = 60) -> None:
        """Wait until the first node's management API lists ``count`` running nodes."""
        deadline = time.monotonic() + timeout
        while True:
            running = _running(self.nodes[0].api("nodes"))
            if len(running) >= count:
                return
            if time.monotonic() > deadline:
                raise NodeError(f"cluster has {running}, expected {count} running nodes")
            time.sleep(0.5)

    def running_nodes(self, via: Node | None = None) -> list[str]:
        """Names of the nodes the cluster sees running (asked of ``via``, default the first)."""
        return sorted(_running((via or self.nodes[0]).api("nodes")))

    def urls(self, user: str = "guest", password: str = "guest", vhost: str = "/") -> str:
        """Every node's AMQP URL, comma-separated (``AMQP_URL`` of the hub and the SDK)."""
        return ",".join(n.amqp_url(user, password, vhost) for n in self.nodes)

    def remove(self) -> None:
        """Stop every node and delete the directory tree (safe to call twice)."""
        with ThreadPoolExecutor(max(1, len(self.nodes))) as pool:
            list(pool.map(lambda n: n.shutdown(), self.nodes))
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()


def single(**kwargs: object) -> Cluster:
    """A one-node 'cluster' (call ``start()``; ``remove()`` afterwards)."""
    return Cluster(1, role="s", **kwargs)  # type: ignore[arg-type]


def _running(nodes: object) -> list[str]:
    """The names of the running nodes in a management API ``/api/nodes`` answer."""
    if not isinstance(nodes, list):
        raise NodeError(f"unexpected /api/nodes answer: {nodes!r}")
    return [str(n["name"]) for n in nodes if isinstance(n, dict) and n.get("running")]


if __name__ == "__main__":  # python -m sandbox.nodes [N]: start, print, wait for Ctrl-C
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with Cluster.running(size) as c:
        print(f"{size} node(s) up in {c.started_in:.1f} s; AMQP_URL={c.urls()}", flush=True)
        for n in c.nodes:
            print(f"  {n.name}: amqp {n.amqp_port}, dist {n.dist_port}, "
                  f"management {n.management_port}, dir {n.base}", flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()
