"""The two retry loops (stamina): the hub router's, endless, and the SDK handler's, bounded.
Waits are recorded instead of slept; the schedules are the documented ones."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.sdk import Delivery, HubClient, TransientError
from hub.contract.registry import load_registry
from hub.core.outcomes import Inbound, OriginalInProgressError
from hub.core.router import Router
from hub.state.database import StoreUnavailableError
from hub.telemetry.metrics import HubMetrics


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float, *args: Any) -> None:
        slept.append(round(seconds, 6))

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return slept


async def test_router_retries_without_end_doubling_to_two_seconds(waits: list[float]) -> None:
    router = Router.__new__(Router)  # only the retry loop is under test
    router.metrics = HubMetrics()
    health: list[bool] = []
    router.on_health = health.append
    seen: list[bool] = []
    failures: list[Exception] = [StoreUnavailableError("down")] * 12 + [
        OriginalInProgressError("too early"), ConnectionError("reset")]

    async def handle(inbound: Inbound) -> None:
        seen.append(inbound.redelivered)
        if failures:
            raise failures.pop(0)

    router._handle = handle  # type: ignore[method-assign]
    await router._with_retry(Inbound(body=b"{}", user_id="u"))
    # at most 2 s apart (issue 16: a broker node fails over in seconds)
    assert waits == [0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28] + [2.0] * 7
    assert seen == [False] + [True] * 14
    assert router.metrics.retries._value.get() == 13  # the too-early answer is no failure
    assert health == [False] * 13 + [True]


async def test_router_does_not_retry_other_errors(waits: list[float]) -> None:
    router = Router.__new__(Router)
    router.metrics, router.on_health = HubMetrics(), lambda ok: None

    async def handle(inbound: Inbound) -> None:
        raise ValueError("a bug")

    router._handle = handle  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="a bug"):
        await router._with_retry(Inbound(body=b"{}", user_id="u"))
    assert waits == [] and router.metrics.retries._value.get() == 0


def _client(retries: int, backoff: float, max_backoff: float) -> HubClient:
    return HubClient("cjib", amqp_url="amqp://unused", key=Ed25519PrivateKey.generate(),
                     registry=load_registry(), state_url="sqlite:///unused", retries=retries,
                     backoff=backoff, max_backoff=max_backoff)


DELIVERY = Delivery(envelope=SimpleNamespace(type="timeout.request", id="m-1"),  # type: ignore[arg-type]
                    document={}, raw=b"", redelivered=False, me="cjib", created_at=None)  # type: ignore[arg-type]


def _failing(times: int, calls: list[int]) -> Any:
    async def handler(delivery: Delivery) -> dict[str, Any]:
        calls.append(1)
        if len(calls) <= times:
            raise TransientError("back office down")
        return {"ok": True}
    return handler


async def test_sdk_retries_then_succeeds_with_doubling_capped_waits(waits: list[float]) -> None:
    client, calls = _client(retries=4, backoff=0.5, max_backoff=1.5), []
    assert await client._handle(DELIVERY, _failing(3, calls)) == (True, {"ok": True})
    assert waits == [0.5, 1.0, 1.5] and len(calls) == 4 and client.retried == 3


async def test_sdk_exhausted_retries_dead_letter_or_give_up(waits: list[float]) -> None:
    client, calls = _client(retries=2, backoff=0.25, max_backoff=30.0), []
    assert await client._handle(DELIVERY, _failing(9, calls)) == (False, None)
    assert waits == [0.25, 0.5] and len(calls) == 3 and client.retried == 2

    given: list[str] = []

    async def give_up(delivery: Delivery, exc: TransientError) -> dict[str, Any]:
        given.append(str(exc))
        return {"declined": True}

    client.give_ups["timeout.request"] = give_up
    assert await client._handle(DELIVERY, _failing(9, [])) == (True, {"declined": True})
    assert given == ["back office down"] and client.gave_up == 1


async def test_sdk_without_retries_and_other_errors(waits: list[float]) -> None:
    client = _client(retries=0, backoff=0.5, max_backoff=30.0)
    assert await client._handle(DELIVERY, _failing(1, [])) == (False, None)

    async def broken(delivery: Delivery) -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await client._handle(DELIVERY, broken)
    assert waits == [] and client.retried == 0


async def test_sdk_publishes_the_same_bytes_until_confirmed(waits: list[float]) -> None:
    """A lost confirm (connection reset, channel gone, no answer) is published again; the bytes
    and id are the ones signed once."""
    from aio_pika.exceptions import ChannelInvalidStateError

    from adapters.sdk.publishing import publish_until_confirmed

    failures: list[Exception] = [ConnectionError("reset"), ChannelInvalidStateError("closed"),
                                 TimeoutError()]
    calls: list[int] = []

    async def publish() -> None:
        calls.append(1)
        if failures:
            raise failures.pop(0)

    failed = await publish_until_confirmed(publish, message_id="m-1", within=60.0)
    assert (failed, len(calls)) == (3, 4)
    assert waits and all(0 < w <= 2.25 for w in waits)


async def test_sdk_publish_does_not_retry_what_another_attempt_cannot_mend() -> None:
    from aiormq.exceptions import ChannelAccessRefused

    from adapters.sdk.publishing import publish_until_confirmed

    calls: list[int] = []

    async def publish() -> None:
        calls.append(1)
        raise ChannelAccessRefused("403")

    with pytest.raises(ChannelAccessRefused):
        await publish_until_confirmed(publish, message_id="m-2", within=60.0)
    assert len(calls) == 1


async def test_sdk_publish_gives_up_after_its_patience() -> None:
    from adapters.sdk.publishing import publish_until_confirmed

    async def publish() -> None:
        raise ConnectionError("the broker is gone")

    with pytest.raises(ConnectionError):
        await publish_until_confirmed(publish, message_id="m-3", within=0.5)
