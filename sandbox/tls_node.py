"""A second RabbitMQ node on this machine that speaks only AMQPS, with a throwaway CA.

:class:`Pki` makes the certificates (``cryptography``): a CA, a server certificate for
``localhost`` only (so a client that connects to ``127.0.0.1`` sees the wrong host name), one
client certificate per broker user (CN = user), an expired one and one from a foreign CA.

:class:`TlsNode` runs the node: its own node name (``maatwerk-tls-<random>@localhost``), AMQPS,
distribution and management ports (free ports), its own config, data, log and plugins files under
one temporary directory, and an Erlang cookie of its own in a home directory made for it, so a
stray CLI call could not even reach the default node (``rabbit@<host>``, port 5672), which is
never addressed: every ``rabbitmqctl`` call names ``-n``. The only listener is TLS with
``verify_peer`` and ``fail_if_no_peer_cert``; logins are SASL ``EXTERNAL`` with the user from the
certificate's common name (plugin ``rabbitmq_auth_mechanism_ssl``). Management listens on
127.0.0.1 over HTTP, for the bootstrap (``maatwerk-hub topology apply --users``).

    with TlsNode.running(Pki.make(tmp, ["maatwerk-hub", "gm0193"])) as node:
        url = node.amqps_url()
"""

from __future__ import annotations

import json
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
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.nodes import NodeError, available, tool
from sandbox.ports import free_port


class TlsNodeError(NodeError):
    """The TLS node did not start or stop as asked."""


def unavailable() -> str | None:
    """None when a TLS node can run here, else why not (for a skip)."""
    reason = available()
    if reason:
        return reason
    plugins = list(Path("/usr/lib/rabbitmq/lib").glob("*/plugins/rabbitmq_auth_mechanism_ssl*"))
    return None if plugins else "the rabbitmq_auth_mechanism_ssl plugin is not installed"


# -- certificates ---------------------------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Authority:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls, cn: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False),
                    critical=True)
                .sign(key, hashes.SHA256()))
        return cls(_name(cn), key, cert)

    def issue(self, folder: Path, stem: str, cn: str, *, server: bool = False,
              expired: bool = False) -> tuple[Path, Path]:
        """Write ``stem.pem`` and ``stem.key``: a certificate for ``cn`` signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        start, end = ((now - timedelta(days=10), now - timedelta(days=1)) if expired
                      else (now - timedelta(minutes=5), now + timedelta(days=1)))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{stem}.key").write_bytes(_pem_key(key))
        (folder / f"{stem}.key").chmod(0o600)
        return folder / f"{stem}.pem", folder / f"{stem}.key"


@dataclass
class Pki:
    """Certificates under ``folder``: ``ca.pem``, ``server.*``, ``<user>.*``, ``expired-<user>.*``
    and ``foreign-<user>.*`` (signed by another CA)."""

    folder: Path
    ca: Path
    server: tuple[Path, Path]
    clients: dict[str, tuple[Path, Path]]
    expired: dict[str, tuple[Path, Path]]
    foreign: dict[str, tuple[Path, Path]]

    @classmethod
    def make(cls, folder: Path, users: Sequence[str], host: str = "localhost") -> Pki:
        folder.mkdir(parents=True, exist_ok=True)
        authority, stranger = Authority.make("Maatwerk TLS test CA"), Authority.make("Foreign CA")
        ca = folder / "ca.pem"
        ca.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
        return cls(
            folder=folder, ca=ca, server=authority.issue(folder, "server", host, server=True),
            clients={u: authority.issue(folder, u, u) for u in users},
            expired={u: authority.issue(folder, f"expired-{u}", u, expired=True)
                     for u in users[:1]},
            foreign={u: stranger.issue(folder, f"foreign-{u}", u) for u in users[:1]},
        )


# -- the node -------------------------------------------------------------------------------------

@dataclass
class TlsNode:
    pki: Pki
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="maatwerk-tls-")))
    name: str = field(default_factory=lambda: f"maatwerk-tls-{secrets.token_hex(3)}@localhost")
    cookie: str = field(default_factory=lambda: secrets.token_hex(20).upper())
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.name.startswith("rabbit@"):
            raise TlsNodeError("the TLS node never takes the default node's name")
        self.amqps_port = free_port()
        self.dist_port = free_port([self.amqps_port])
        self.management_port = free_port([self.amqps_port, self.dist_port])

    @classmethod
    @contextmanager
    def running(cls, pki: Pki, timeout: float = 180) -> Iterator[TlsNode]:
        """Start a node, yield it, and stop and delete it afterwards, even on failure."""
        node = cls(pki)
        try:
            node.start(timeout)
            yield node
        finally:
            node.remove()

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "HOME": str(self.base / "home"),  # $HOME/.erlang.cookie: the node's own cookie
            "RABBITMQ_NODENAME": self.name,
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
        cookie = self.base / "home" / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        cert, key = self.pki.server
        (self.base / "rabbitmq.conf").write_text("\n".join([
            "listeners.tcp = none",
            f"listeners.ssl.1 = 127.0.0.1:{self.amqps_port}",
            f"ssl_options.cacertfile = {self.pki.ca}",
            f"ssl_options.certfile = {cert}",
            f"ssl_options.keyfile = {key}",
            "ssl_options.verify = verify_peer",
            "ssl_options.fail_if_no_peer_cert = true",
            "ssl_options.versions.1 = tlsv1.3",
            "ssl_options.versions.2 = tlsv1.2",
            "auth_mechanisms.1 = EXTERNAL",
            "ssl_cert_login_from = common_name",
            f"management.tcp.port = {self.management_port}",
            "management.tcp.ip = 127.0.0.1",
            "disk_free_limit.absolute = 50MB",
            "vm_memory_high_watermark.relative = 0.2",
            "log.console = false",
        ]) + "\n")
        (self.base / "advanced.config").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("# TLS test node: no defaults\n")
        (self.base / "enabled_plugins").write_text(
            "[rabbitmq_auth_mechanism_ssl,rabbitmq_management].\n")

    def start(self, timeout: float = 180) -> None:
        self.write_files()
        with (self.base / "server.out").open("ab") as out:
            self.process = subprocess.Popen([tool("rabbitmq-server")], env=self.env(),
                                            stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (self._listening(self.amqps_port) and self._management_up()):
            if self.process.poll() is not None:
                raise TlsNodeError(f"{self.name} exited ({self.process.returncode}): "
                                   f"{self.tail()}")
            if time.monotonic() > deadline:
                raise TlsNodeError(f"{self.name} did not start in {timeout:.0f} s: "
                                   f"{self.tail()}")
            time.sleep(0.25)

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """``rabbitmqctl -n THIS_NODE ARGS`` (never without ``-n``)."""
        command = [tool("rabbitmqctl"), "-n", self.name, *args]
        done = subprocess.run(command, env=self.env(), capture_output=True, timeout=timeout,
                              check=False)
        if done.returncode != 0:
            raise TlsNodeError(f"rabbitmqctl {' '.join(args)}: exit {done.returncode}: "
                               f"{done.stderr.decode(errors='replace')[-1500:]}")
        return done.stdout.decode(errors="replace")

    def add_admin(self, user: str, password: str) -> str:
        """An administrator with a password, for the management API (the bootstrap step);
        returns its management URL. Made as the fresh node's ``guest`` from this host (what
        ``rabbitmqctl add_user`` + ``set_user_tags administrator`` do, without booting another
        Erlang VM); ``guest`` is deleted afterwards, as on a production broker."""
        self._api("PUT", f"users/{user}", {"password": password, "tags": "administrator"},
                  ("guest", "guest"))
        self._api("DELETE", "users/guest", None, (user, password))
        return f"http://{user}:{password}@127.0.0.1:{self.management_port}"

    def _api(self, method: str, path: str, body: object | None,
             auth: tuple[str, str]) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.management_port}/api/{path}", data=data, method=method)
        request.add_header("Authorization",
                           "Basic " + b64encode(":".join(auth).encode()).decode())
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
            result: bytes = answer.read()
        return result

    def close_all_connections(self, reason: str = "closed by the test") -> None:
        self.ctl("close_all_connections", reason)

    def connections(self, user: str, password: str) -> list[dict[str, object]]:
        """The node's client connections (management API, as ``user``)."""
        found: list[dict[str, object]] = json.loads(
            self._api("GET", "connections", None, (user, password)))
        return found

    def amqps_url(self, host: str = "localhost", vhost: str = "") -> str:
        """``amqps://HOST:PORT/`` without credentials: the login is the client certificate."""
        return f"amqps://{host}:{self.amqps_port}/{vhost}"

    def tail(self, chars: int = 3000) -> str:
        text = ""
        for path in (self.base / "server.out", *sorted((self.base / "log").glob("*.log"))):
            if path.exists():
                text += path.read_text(errors="replace")[-chars:]
        return text

    def _listening(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def _management_up(self) -> bool:
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.management_port}/api/overview", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 401: it answers
        except OSError:
            return False

    def remove(self) -> None:
        """Stop the node (Erlang VM included) and delete its directory."""
        if self.process is not None and self.process.poll() is None:
            # SIGTERM to the server's own process group (started with start_new_session): the
            # node stops cleanly, without booting another Erlang VM for ``rabbitmqctl shutdown``.
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.base, ignore_errors=True)
