"""AMQPS end to end on a second RabbitMQ node that speaks only TLS (sandbox/tls_node.py).

The node has a throwaway CA, ``verify_peer`` and ``fail_if_no_peer_cert``, and logs users in with
SASL EXTERNAL from the certificate's common name. It is bootstrapped with the project's own
commands (an administrator made as the fresh node's ``guest`` on its own host, ``guest`` then
deleted, and ``maatwerk-hub topology apply --users --certificates-only``), and stopped and
deleted at the end of the module, even on failure. The default node is never addressed.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import aiormq
import pytest

from adapters.sdk import Delivery, HubClient, Reply
from hub.config import Settings
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.registry import Registry, load_registry
from hub.contract.tls import TlsSettings, connect_kwargs
from hub.service import HubService
from sandbox.tls_node import Pki, TlsNode, unavailable
from tests.helpers import timeout_request_body, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

USERS = ["maatwerk-hub", "gm0193", "cjib"]
ADMIN = ("bootstrap-admin", "bootstrap-admin-password")


@dataclass
class Broker:
    node: TlsNode
    pki: Pki
    registry: Registry
    keys_dir: Path
    before_users: subprocess.CompletedProcess[str]
    bootstrap: subprocess.CompletedProcess[str]

    def tls(self, user: str) -> TlsSettings:
        cert, key = self.pki.clients[user]
        return TlsSettings(ca=self.pki.ca, cert=cert, key=key)


def apply(node: TlsNode, pki: Pki, keys_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cert, key = pki.clients["maatwerk-hub"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAATWERK_", "AMQP_"))}
    env |= {"AMQP_URL": node.amqps_url(), "MAATWERK_TLS_CA": str(pki.ca),
            "MAATWERK_TLS_CERT": str(cert), "MAATWERK_TLS_KEY": str(key),
            "MAATWERK_KEYS_DIR": str(keys_dir)}
    return subprocess.run([sys.executable, "-m", "hub", "topology", "apply", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def broker(keys_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    reason = unavailable()
    if reason:
        pytest.skip(f"no TLS node here: {reason}")
    pki = Pki.make(tmp_path_factory.mktemp("pki"), USERS)
    with TlsNode.running(pki) as node:
        # Before any user exists: the hub's own login fails, in one line.
        before = apply(node, pki, keys_dir)
        # The documented first step: an administrator on the broker host, then the users.
        management = node.add_admin(*ADMIN)
        done = apply(node, pki, keys_dir, "--users", "--certificates-only",
                     "--management-url", management)
        yield Broker(node, pki, load_registry(None, keys_dir), keys_dir, before, done)


@pytest.fixture
async def hub(broker: Broker, tmp_path: Path) -> AsyncIterator[HubService]:
    tls = broker.tls("maatwerk-hub")
    settings = Settings.from_env({}).replace(
        amqp_url=broker.node.amqps_url(), tls_ca=tls.ca, tls_cert=tls.cert, tls_key=tls.key,
        keys_dir=broker.keys_dir, state_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        http_port=0, watch_seconds=0.5)
    service = HubService(settings, registry=broker.registry)
    await service.start()
    yield service
    await service.stop()


def sdk(broker: Broker, participant: str, tmp_path: Path) -> HubClient:
    return HubClient(participant, amqp_url=broker.node.amqps_url(), registry=broker.registry,
                     key=load_private_key(private_key_path(broker.keys_dir, participant)),
                     state_url=f"sqlite:///{tmp_path / f'{participant}.sqlite3'}",
                     tls=broker.tls(participant))


async def refused(url: str, context: ssl.SSLContext | None, **kwargs: object) -> BaseException:
    """Connect (with a deadline) and return the error; fail when the broker lets us in."""
    try:
        connection = await asyncio.wait_for(
            aio_pika.connect(url, ssl_context=context, **kwargs), timeout=30)
    except (OSError, aio_pika.exceptions.AMQPError, ssl.SSLError, TimeoutError) as exc:
        return exc
    await connection.close()
    raise AssertionError(f"{url}: the TLS node let the connection in")


def context_for(pki: Pki, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def chain(exc: BaseException) -> str:
    text = []
    current: BaseException | None = exc
    while current is not None:
        text.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " <- ".join(text)


async def connected(broker: Broker, until: Callable[[set[str]], bool],
                    within: float = 60) -> dict[str, dict[str, object]]:
    """The node's connections by user, once ``until(users)`` holds (the management API's
    connection list lags a few seconds behind)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await asyncio.to_thread(broker.node.connections, *ADMIN)
        by_user = {str(c["user"]): c for c in found}
        if until(set(by_user)):
            return by_user
        assert asyncio.get_running_loop().time() < deadline, f"connections: {sorted(by_user)}"
        await asyncio.sleep(0.5)


# -- bootstrap ------------------------------------------------------------------------------------

def test_topology_apply_bootstraps_a_certificate_only_broker(broker: Broker) -> None:
    before = broker.before_users
    assert before.returncode == 2, before.stdout + before.stderr
    assert "Traceback" not in before.stderr and len(before.stderr.strip().splitlines()) == 1
    assert "cannot connect" in before.stderr and "--users" in before.stderr
    done = broker.bootstrap
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "certificate logins only" in done.stdout and "topology declared" in done.stdout


# -- the hub and the SDK over AMQPS with client certificates ----------------------------------

async def test_hub_and_adapters_route_over_tls_with_client_certificates_and_reconnect(
    broker: Broker, hub: HubService, tmp_path: Path
) -> None:
    gm, cjib = sdk(broker, "gm0193", tmp_path), sdk(broker, "cjib", tmp_path)
    got: list[Delivery] = []

    async def keep(delivery: Delivery) -> Reply:
        got.append(delivery)
        return None

    await gm.connect()
    await cjib.connect()
    try:
        await cjib.consume(keep)
        first = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-TLS-1",
                           body=timeout_request_body("cjib"))
        await gm.send(first)
        await wait_for(lambda: len(got) == 1, timeout=30)
        assert str(got[0].envelope.id) == first["id"]

        by_user = await connected(broker, lambda users: set(USERS) <= users)
        for user in USERS:
            assert by_user[user]["ssl"] is True and by_user[user]["auth_mechanism"] == "EXTERNAL"
            assert by_user[user]["ssl_protocol"] in ("tlsv1.3", "tlsv1.2")

        # The broker drops every connection; the hub and the adapters come back over TLS.
        await asyncio.to_thread(broker.node.close_all_connections, "test: broker drops all")
        await connected(broker, lambda users: not users & set(USERS))  # all gone
        again = await connected(broker, lambda users: set(USERS) <= users)
        assert all(again[u]["ssl"] is True for u in USERS)
        await wait_for(lambda: hub.readiness()["broker"], timeout=30)
        second = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-TLS-2",
                            body=timeout_request_body("cjib"))
        await gm.send(second)
        await wait_for(lambda: len(got) == 2, timeout=60)
        assert str(got[1].envelope.id) == second["id"]
    finally:
        await gm.close()
        await cjib.close()


# -- what the TLS node refuses ------------------------------------------------------------------

async def test_a_plain_connection_and_one_without_a_client_certificate_are_refused(
    broker: Broker
) -> None:
    port = broker.node.amqps_port
    await refused(f"amqp://guest:guest@127.0.0.1:{port}/", None)
    await refused(broker.node.amqps_url(), context_for(broker.pki, None), auth="EXTERNAL")


async def test_expired_and_untrusted_client_certificates_are_refused(broker: Broker) -> None:
    url = broker.node.amqps_url()
    for cert in (broker.pki.expired["maatwerk-hub"], broker.pki.foreign["maatwerk-hub"]):
        await refused(url, context_for(broker.pki, cert), auth="EXTERNAL")
    # the same code with the valid certificate gets in: the refusals are the certificates'
    connection = await aio_pika.connect(
        url, ssl_context=context_for(broker.pki, broker.pki.clients["maatwerk-hub"]),
        auth="EXTERNAL")
    await connection.close()


async def test_a_server_certificate_for_another_host_name_is_refused(broker: Broker) -> None:
    # The server certificate names localhost only; the hub connecting to 127.0.0.1 must not
    # accept it, with its own TLS settings.
    url = broker.node.amqps_url(host="127.0.0.1")
    exc = await refused(url, **{k: v for k, v in connect_kwargs(
        url, broker.tls("maatwerk-hub")).items() if k != "ssl_context"},
        context=connect_kwargs(url, broker.tls("maatwerk-hub"))["ssl_context"])
    assert "mismatch" in chain(exc) or "CERTIFICATE_VERIFY_FAILED" in chain(exc)


async def test_a_certificate_for_one_participant_cannot_act_as_another(broker: Broker) -> None:
    url = broker.node.amqps_url()
    connection = await aio_pika.connect(url, **connect_kwargs(url, broker.tls("gm0193")))
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("maatwerk.inbound", ensure=False)
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed, match="user_id"):
            await exchange.publish(aio_pika.Message(b"{}", user_id="cjib"),
                                   routing_key="inbound")
        channel = await connection.channel()
        inbox = await channel.get_queue("maatwerk.inbox.cjib", ensure=False)

        async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            raise AssertionError("gm0193 read cjib's inbox")

        with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match=r"inbox\.cjib"):
            await inbox.consume(take)
