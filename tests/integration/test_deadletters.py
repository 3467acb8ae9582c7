"""Dead letters on the real broker: list and show without personal data, an audited body, replay
of the original bytes through the whole pipeline, no replay as somebody else, an adapter's reject
with its reason (and its redelivery), purge and retention."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aiormq.exceptions import ChannelAccessRefused

from adapters.sdk import Delivery
from hub.cli import main
from hub.config import Settings
from hub.contract import names
from hub.contract.policy import Policy, load_policy
from hub.contract.registry import Registry
from hub.core import deadletters
from hub.ops.deadletters import DeadLetterDesk
from hub.service import HubService
from hub.state.audit import AuditLog
from hub.state.database import open_database
from tests.conftest import MANAGEMENT_URL, ClientFactory, FakeClock, amqp_url
from tests.helpers import BSN, collect, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

HEALTH = "Opname in de GGZ sinds maart."


@pytest.fixture
def cli_env(hub_settings: Settings, registry_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment an operator runs ``maatwerk-hub deadletters`` in: the hub's own."""
    monkeypatch.setenv("AMQP_URL", hub_settings.amqp_url)
    monkeypatch.setenv("MAATWERK_STATE_URL", hub_settings.state_url)
    monkeypatch.setenv("MAATWERK_REGISTRY", str(registry_file))
    monkeypatch.setenv("MAATWERK_KEYS_DIR", str(hub_settings.keys_dir))
    monkeypatch.delenv("MAATWERK_HASH_KEY", raising=False)


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["deadletters", "--operator", "t.tester", *args])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def desk(settings: Settings, registry: Registry, audit: AuditLog) -> DeadLetterDesk:
    return DeadLetterDesk(amqp_url=settings.amqp_url, tls=settings.tls,
                          hash_key=settings.hash_key, registry=registry, audit=audit,
                          operator="t.tester")


@pytest.fixture
async def audit(hub_settings: Settings, hub: HubService) -> AsyncIterator[AuditLog]:
    db = await open_database(hub_settings.state_url)
    yield AuditLog(db, hash_key=hub_settings.hash_key)
    await db.close()


async def audit_events(audit: AuditLog) -> list[dict[str, Any]]:
    rows = await audit.db.fetch("SELECT event, message_id, decision, attributes FROM audit_log "
                                "ORDER BY seq")
    return [dict(r) for r in rows]


async def wait_letters(d: DeadLetterDesk, count: int) -> list[deadletters.DeadLetter]:
    for _ in range(200):
        letters = await d.letters()
        if len(letters) >= count:
            return letters
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} dead letters, have {len(letters)}")


async def test_list_and_show_keep_personal_data_out_and_audit_a_viewed_body(
    hub: HubService, client: ClientFactory, hub_settings: Settings, registry: Registry,
    audit: AuditLog, cli_env: None, capsys: pytest.CaptureFixture[str],
) -> None:
    gm = await client("gm0193")
    refused = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-D1",
                         body=timeout_request_body("cjib", health_context=HEALTH))
    await gm.send(refused)
    await wait_letters(desk(hub_settings, registry, audit), 1)

    listing = await cli(capsys, "list")
    assert refused["id"] in listing and "policy_special_category" in listing
    assert "gm0193" in listing and "timeout.request" in listing
    assert BSN not in listing and "GGZ" not in listing
    shown = await cli(capsys, "show", refused["id"])
    assert "policy_special_category" in shown and "health_context" in shown  # the field path
    assert BSN not in shown and "GGZ" not in shown
    assert not [e for e in await audit_events(audit) if e["event"] == "deadletter_viewed"]

    body = await cli(capsys, "show", refused["id"], "--body")
    assert BSN in body and HEALTH in body
    viewed = [e for e in await audit_events(audit) if e["event"] == "deadletter_viewed"]
    assert len(viewed) == 1 and viewed[0]["message_id"] == refused["id"]
    assert "t.tester" in viewed[0]["attributes"]
    assert len(await desk(hub_settings, registry, audit).letters()) == 1  # looking keeps it


async def test_replay_sends_the_original_bytes_through_the_pipeline_again(
    hub_settings: Settings, registry: Registry, client: ClientFactory, clock: FakeClock,
    cli_env: None, capsys: pytest.CaptureFixture[str],
) -> None:
    default = load_policy(None)
    without_cjib = Policy(default.document.model_copy(update={"rules": [
        r for r in default.document.rules if r.id != "timeout-request-cjib"]}))
    hub = HubService(hub_settings, registry=registry, policy=without_cjib, clock=clock)
    await hub.start()
    try:
        gm, cjib = await client("gm0193"), await client("cjib")
        inbox = await collect(cjib, "timeout.request")
        notices = await collect(gm, "notice.refused")
        document = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-D2",
                              body=timeout_request_body("cjib"))
        raw = gm.sign(document)
        await gm.publish_raw(raw, message_id=document["id"])
        await wait_for(lambda: len(notices) == 1)
        assert notices[0].envelope.body.reason_code == "policy_no_rule"
        assert inbox == []

        hub.router.pipeline.policy = default  # the policy is fixed and deployed
        out = await cli(capsys, "replay", document["id"])
        assert f"as {registry.get('gm0193').broker_user}" in out  # type: ignore[union-attr]
        await wait_for(lambda: len(inbox) == 1)
        assert inbox[0].raw == raw  # the original bytes, unchanged
        assert (await hub.router.store.get(inbox[0].envelope.id)).status != "refused"  # type: ignore[union-attr]
        assert "0 dead letters" in await cli(capsys, "list")  # replayed: removed
        await asyncio.sleep(0.3)
        assert len(inbox) == 1
    finally:
        await hub.stop()


async def test_a_replay_cannot_send_as_somebody_else(
    hub: HubService, client: ClientFactory, hub_settings: Settings, registry: Registry,
    audit: AuditLog, passwords: dict[str, str], vhost: str,
) -> None:
    gm, cjib, duo = await client("gm0193"), await client("cjib"), await client("duo")
    duo_inbox = await collect(duo)
    cjib_notices = await collect(cjib, "notice.refused")
    # cjib holds a message that gm0193 signed for DUO and tries to have the hub send it as gm0193:
    # into the dead-letter exchange, with hub-looking headers and a made-up seal.
    stolen = gm.sign(gm.message(type="timeout.request", recipient="duo", case_id="ZW-D3",
                                body=timeout_request_body("duo")))
    forged = {names.HEADER_SOURCE: "hub", names.HEADER_REASON: "policy_no_rule",
              names.HEADER_USER_ID: registry.get("gm0193").broker_user,  # type: ignore[union-attr]
              names.HEADER_SEAL: "0" * 64}
    dead = await cjib._channel.get_exchange(names.DEAD_LETTER_EXCHANGE, ensure=False)  # type: ignore[union-attr]
    await dead.publish(aio_pika.Message(stolen, message_id="stolen-1", headers=forged,
                                        user_id=cjib.participant.broker_user), routing_key="x")
    d = desk(hub_settings, registry, audit)
    await wait_letters(d, 1)
    plan = await d.replay("stolen-1")
    assert plan.mode == "pipeline" and plan.user_id == cjib.participant.broker_user
    await wait_for(lambda: len(cjib_notices) == 1)
    assert cjib_notices[0].envelope.body.reason_code == "user_id_mismatch"
    await asyncio.sleep(0.3)
    assert duo_inbox == []

    # A participant cannot write to the replay exchange at all (RabbitMQ refuses it) ...
    user = cjib.participant.broker_user
    connection = await aio_pika.connect(amqp_url(user, passwords[user], vhost))
    channel = await connection.channel(publisher_confirms=True)
    replay = await channel.get_exchange(names.REPLAY_EXCHANGE, ensure=False)
    with pytest.raises(ChannelAccessRefused):
        await replay.publish(aio_pika.Message(stolen, user_id=user), routing_key="replay")
    await connection.close()
    # ... and a replay request that the hub did not seal is dead-lettered, not acted on.
    connection = await aio_pika.connect(hub_settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        replay = await channel.get_exchange(names.REPLAY_EXCHANGE, ensure=False)
        await replay.publish(aio_pika.Message(stolen, message_id="unsealed-1", headers={
            names.HEADER_REPLAY: "pipeline", names.HEADER_USER_ID: forged[names.HEADER_USER_ID],
            names.HEADER_REPLAY_TO: "", names.HEADER_SEAL: "1" * 64}), routing_key="replay")
    letters = await wait_letters(d, 2)
    assert {x.key: x.reason for x in letters}["unsealed-1"] == "replay_refused"
    await asyncio.sleep(0.3)
    assert duo_inbox == []


async def test_an_adapter_reject_carries_its_reason_and_can_be_redelivered(
    hub: HubService, client: ClientFactory, hub_settings: Settings, registry: Registry,
    audit: AuditLog, cli_env: None, capsys: pytest.CaptureFixture[str],
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    healthy = asyncio.Event()
    handled: list[Delivery] = []

    @cjib.on("timeout.request")
    async def handle(delivery: Delivery) -> None:
        if not healthy.is_set():
            raise RuntimeError("back office answered 500 with an unreadable body")
        handled.append(delivery)

    await cjib.consume()
    document = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-D4",
                          body=timeout_request_body("cjib"))
    await gm.send(document)
    d = desk(hub_settings, registry, audit)
    [letter] = await wait_letters(d, 1)
    assert letter.reason == "handler_failed" and letter.source == "adapter:cjib"
    assert letter.origin_queue == names.inbox("cjib") and letter.key == document["id"]
    assert "RuntimeError" in (await d.show(letter.key)).letter.detail
    listing = await cli(capsys, "list")
    assert "handler_failed" in listing and "adapter:cjib" in listing

    healthy.set()  # the back office is fixed; the operator sends the message again
    out = await cli(capsys, "replay", document["id"])
    assert "redelivered to cjib's inbox" in out
    await wait_for(lambda: len(handled) == 1)
    assert str(handled[0].envelope.id) == document["id"]
    events = [e["event"] for e in await audit_events(audit)]
    assert "redelivered" in events and "deadletter_replayed" in events

    # Bytes the hub never routed to cjib are not "redelivered" there.
    other = gm.sign(gm.message(type="timeout.request", recipient="cjib", case_id="ZW-D5",
                               body=timeout_request_body("cjib")))
    dead = await cjib._channel.get_exchange(names.DEAD_LETTER_EXCHANGE, ensure=False)  # type: ignore[union-attr]
    await dead.publish(aio_pika.Message(other, message_id="never-routed", headers={
        names.HEADER_QUEUE: names.inbox("cjib")}, user_id=cjib.participant.broker_user),
        routing_key="x")
    await wait_letters(d, 1)
    assert (await d.replay("never-routed")).mode == "redeliver"
    letters = await wait_letters(d, 1)
    assert letters[0].reason == "replay_refused" and len(handled) == 1


async def test_purge_and_retention(
    hub: HubService, client: ClientFactory, hub_settings: Settings, registry: Registry,
    audit: AuditLog, registry_file: Path, vhost: str, tmp_path: Path,
    cli_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    gm = await client("gm0193")
    ids = []
    for n in range(3):
        document = gm.message(type="timeout.request", recipient="cjib", case_id=f"ZW-E{n}",
                              body=timeout_request_body("cjib", situation_summary="x"))
        await gm.send(document)
        ids.append(document["id"])
    d = desk(hub_settings, registry, audit)
    await wait_letters(d, 3)
    assert "1 dead letters removed" in await cli(capsys, "purge", ids[0])
    assert "0 dead letters removed" in await cli(capsys, "purge", "--older-than", "1")
    later = DeadLetterDesk(amqp_url=d.amqp_url, tls=d.tls, hash_key=d.hash_key,
                           registry=registry, audit=audit, operator="t.tester",
                           clock=lambda: hub.clock() + timedelta(days=2))
    assert await later.purge(older_than_days=1) == 2
    assert await d.letters() == []
    purged = [e for e in await audit_events(audit) if e["event"] == "deadletter_purged"]
    assert sorted(e["message_id"] for e in purged) == sorted(ids)

    # Retention by the broker: topology apply --users sets the policy; with a tiny retention a
    # dead letter is gone without anyone purging it.
    monkeypatch.setenv("MAATWERK_DEADLETTER_RETENTION_DAYS", "0.00002")  # 1.7 s
    capsys.readouterr()
    assert await asyncio.to_thread(main, [
        "topology", "apply", "--users", "--vhost", vhost, "--management-url", MANAGEMENT_URL,
        "--passwords", str(tmp_path / "passwords.json")]) == 0
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            queue = (await http.get(f"{MANAGEMENT_URL}/api/queues/{vhost}/"
                                    f"{names.DEAD_LETTER_QUEUE}")).json()
            if queue.get("effective_policy_definition"):
                break
            await asyncio.sleep(0.1)
    assert queue["effective_policy_definition"]["message-ttl"] == 1728
    await gm.send(gm.message(type="timeout.request", recipient="cjib", case_id="ZW-E9",
                             body=timeout_request_body("cjib", situation_summary="x")))
    await wait_letters(d, 1)
    for _ in range(100):
        if not await d.letters():
            break
        await asyncio.sleep(0.2)
    assert await d.letters() == []
