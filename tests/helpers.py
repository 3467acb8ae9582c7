"""Helpers for tests: scenario messages, waiting, and reading queues."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aio_pika

from adapters.sdk import Delivery, HubClient
from hub.config import Settings
from hub.contract import names
from sandbox import Child, child_env, hub_command, hub_env, spawn

BSN = "123456782"  # passes the elfproef; fictional


def timeout_request_body(agency: str = "cjib", **extra: Any) -> dict[str, Any]:
    references = {
        "cjib": {"cjib_payment_references": ["1234567890123456"]},
        "duo": {"duo_debt_numbers": ["DUO-77341"]},
        "uwv": {"uwv_recovery_decisions": ["UWV-TV-2026-0042"]},
        "svb": {"svb_benefit_references": ["SVB-KB-5521"]},
        "belastingdienst": {"toeslagen_years": [2024]},
    }[agency]
    body: dict[str, Any] = {
        "bsn": BSN,
        "references": references,
        "requested_from": "2026-12-01",
        "requested_months": 4,
        "reason_code": "livelihood_threatened",
        "scope": ["collection", "surcharges"],
    }
    body.update(extra)
    return body


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def drain(url: str, queue: str, expect: int, timeout: float = 10.0) -> list[
    aio_pika.abc.AbstractIncomingMessage
]:
    """Take (and ack) ``expect`` messages from ``queue`` as guest; fewer only on timeout."""
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(got) < expect and loop.time() < deadline:
            message = await q.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            got.append(message)
    return got


def body_of(message: aio_pika.abc.AbstractIncomingMessage) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(message.body)
    return result


async def wait_for_queues(url: str, queues: Iterable[str], timeout: float = 30.0) -> None:
    """Wait until every one of ``queues`` exists (a hub started in another process declares
    them one after another, in registry order: waiting for one says nothing of the others)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for queue in queues:
        while True:
            connection = await aio_pika.connect(url)
            try:
                channel = await connection.channel()
                await channel.declare_queue(queue, passive=True)
                break
            except aio_pika.exceptions.ChannelNotFoundEntity:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.2)
            finally:
                await connection.close()


def inboxes(*participants: str) -> list[str]:
    """The inbox queue names of ``participants``."""
    return [names.inbox(p) for p in participants]


async def collect(client: HubClient, *types: str) -> list[Delivery]:
    """Consume ``client``'s inbox; keep the deliveries of ``types`` (all when none given)."""
    got: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        if not types or delivery.envelope.type in types:
            got.append(delivery)

    await client.consume(handler)
    return got


def start_hub(settings: Settings, registry_file: Path, log: Path) -> Child:
    """``python -m hub run`` against the test's vhost and state, its output appended to ``log``."""
    env = hub_env(amqp_url=settings.amqp_url, keys_dir=settings.keys_dir,
                  state_url=settings.state_url, registry_file=registry_file)
    return spawn("hub", hub_command("run"), child_env(**env), log)


def amqp_id(raw: bytes) -> str | None:
    """The AMQP message_id a correct publisher sets: the envelope id, when the bytes have one."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    value = document.get("id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


async def settled(hub: Any, seconds: float = 10.0) -> None:
    """Wait until ``hub`` (an in-process :class:`hub.service.HubService`) has no message in hand.

    The hub records a decision after the recipient's inbox confirmed it, and commits records in
    groups: a recipient can hold a message a few milliseconds before the hub's record of it is
    committed. A test that reads the hub's state after seeing a delivery waits for this first.
    """
    assert await hub.router.drain(seconds), "the hub still had messages in hand"


async def case_of(hub: Any, case_id: str) -> Any:
    """The hub's case status (``hub.case``), read once every delivered message is recorded."""
    await settled(hub)
    return await hub.case(case_id)
