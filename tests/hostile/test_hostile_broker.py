"""Hostile input over the real broker: hypothesis-drawn messages published by a real participant
(gm0193, its own broker user) to the inbound exchange. Each is refused with a reason: a
``notice.refused`` to the authenticated sender naming the reason code, and a dead-lettered copy
with the reason in its headers. Form-only variants of a valid message are routed. Afterwards the
hub still routes a valid message."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import pytest

from hub.config import Settings
from hub.contract import names
from hub.contract.errors import ReasonCode
from hub.service import HubService
from tests.conftest import ClientFactory
from tests.helpers import BSN, collect, drain, wait_for
from tests.hostile.specimens import (
    BROKER_CATEGORIES,
    Forge,
    Specimen,
    draw,
    encode,
    fixed,
    too_deep,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

EXAMPLES = 40


def mismatches(specimens: Sequence[Specimen],
               refusals: Iterable[tuple[str | None, str]]) -> list[str]:
    """Match refusals (the id they name, their reason code) to the specimens that were refused:
    each exactly once, with a reason the specimen allows."""
    problems: list[str] = []
    by_id: dict[str, list[str]] = defaultdict(list)
    anonymous: list[str] = []
    for message_id, reason in refusals:
        (by_id[message_id] if message_id else anonymous).append(reason)
    pool: list[Specimen] = []
    for specimen in specimens:
        reasons = by_id.pop(specimen.message_id, []) if specimen.message_id else []
        if not reasons:
            if specimen.message_id is None or not specimen.id_certain:
                pool.append(specimen)
            else:
                problems.append(f"no refusal for {specimen}")
            continue
        if len(reasons) != 1 or reasons[0] not in specimen.expect:
            problems.append(f"{specimen}: refused as {reasons}")
    for message_id, reasons in by_id.items():
        problems.append(f"refusal of unknown id {message_id}: {reasons}")
    if len(anonymous) != len(pool):
        problems.append(f"{len(anonymous)} refusals without an id for {len(pool)} messages "
                        f"without a readable id")
    for reason, n in Counter(anonymous).items():
        allowing = sum(reason in s.expect for s in pool)
        if n > allowing:
            problems.append(f"{n} refusals {reason} without an id, but only {allowing} such "
                            f"messages")
    return problems


async def test_hostile_messages_are_refused_with_a_notice_and_a_dead_letter(
    hub: HubService, hub_settings: Settings, client: ClientFactory, forge: Forge
) -> None:
    started = time.monotonic()
    gm, cjib, duo = await client("gm0193"), await client("cjib"), await client("duo")
    notices = await collect(gm, "notice.refused")
    routed = await collect(cjib, "timeout.request")
    strays = await collect(duo)  # a duplicate "recipient" must never redirect to DUO

    specimens = fixed(forge, deep=False) + [recipe(forge) for strategy in
                                            BROKER_CATEGORIES.values()
                                            for recipe in draw(strategy, EXAMPLES)]
    refused = [s for s in specimens if not s.routed]
    valid = [s for s in specimens if s.routed]
    for start in range(0, len(specimens), 50):
        await asyncio.gather(*(gm.publish_raw(s.raw) for s in specimens[start:start + 50]))
    await wait_for(lambda: len(notices) >= len(refused) and len(routed) >= len(valid),
                   timeout=90)
    await asyncio.sleep(0.5)  # nothing more should come

    bodies = [n.envelope.body for n in notices]
    # A message without a readable id is named by its AMQP message_id: the random one aiormq
    # gives every publish without one, so only the specimens' ids count as named.
    named = {s.message_id for s in refused}
    problems = mismatches(refused, [
        (str(b.refused_message_id) if str(b.refused_message_id) in named else None,
         b.reason_code.value)
        for b in bodies if hasattr(b, "reason_code") and hasattr(b, "refused_message_id")])
    assert not problems, "notices:\n" + "\n".join(problems)
    assert all(BSN not in getattr(b, "detail", "") for b in bodies), "a notice names a BSN"
    assert sorted(str(d.envelope.id) for d in routed) == sorted(
        s.message_id or "" for s in valid), "the form-only variants are routed, once each"
    assert not strays, f"DUO got {[d.envelope.type for d in strays]}"

    dead = await drain(hub_settings.amqp_url, names.DEAD_LETTER_QUEUE, expect=len(refused),
                       timeout=60)
    headers = [m.headers or {} for m in dead]
    assert all(h.get(names.HEADER_SOURCE) == "hub" for h in headers), "refused by the hub"
    # A dead letter of a message without a readable id carries the random message_id that
    # aiormq gives every publish without one: only the specimens' ids count as named.
    ids = {s.message_id for s in refused}
    problems = mismatches(refused, [
        (m.message_id if m.message_id in ids else None, str(h.get(names.HEADER_REASON)))
        for m, h in zip(dead, headers, strict=True)])
    assert not problems, "dead letters:\n" + "\n".join(problems)

    # The hub is unharmed and still routes a valid message.
    assert hub.ready
    signed = forge.sign(forge.document())
    await gm.publish_raw(encode(signed))
    await wait_for(lambda: any(str(d.envelope.id) == signed["id"] for d in routed), timeout=20)

    per_category = Counter(s.category for s in specimens)
    reasons = Counter(r.value for s in refused for r in s.expect if len(s.expect) == 1)
    print(f"\n{len(specimens)} hostile messages ({dict(per_category)}): {len(refused)} refused "
          f"with a notice and a dead letter each, {len(valid)} form-only variants routed; "
          f"reasons {dict(reasons)}; {time.monotonic() - started:.1f} s")


async def test_messages_nested_beyond_the_recursion_limit_are_refused_once(
    hub: HubService, hub_settings: Settings, client: ClientFactory, forge: Forge
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    notices = await collect(gm, "notice.refused")
    routed = await collect(cjib, "timeout.request")
    specimens = too_deep(forge)
    for specimen in specimens:
        await gm.publish_raw(specimen.raw)
    signed = forge.sign(forge.document())
    await gm.publish_raw(encode(signed))
    await wait_for(lambda: len(routed) == 1, timeout=20)  # the hub keeps serving
    await wait_for(lambda: len(notices) >= len(specimens), timeout=20)
    await asyncio.sleep(2.0)  # copies, if any, come within this
    named = {s.message_id for s in specimens}
    assert mismatches(specimens, [
        (str(b.refused_message_id) if str(b.refused_message_id) in named else None,
         b.reason_code.value)
        for b in (n.envelope.body for n in notices)
        if hasattr(b, "reason_code") and hasattr(b, "refused_message_id")]) == []
    dead = await drain(hub_settings.amqp_url, names.DEAD_LETTER_QUEUE, expect=100, timeout=3)
    assert [(m.headers or {}).get(names.HEADER_REASON) for m in dead] == [
        "malformed_json"] * len(specimens)


async def test_an_integer_beyond_pythons_digit_limit_is_refused_with_a_notice(
    hub: HubService, client: ClientFactory, forge: Forge
) -> None:
    gm = await client("gm0193")
    notices = await collect(gm, "notice.refused")
    signed = forge.sign(forge.document())
    await gm.publish_raw(encode(signed).replace(b'"requested_months":4',
                                                b'"requested_months":' + b"4" * 5000))
    await wait_for(lambda: len(notices) >= 1, timeout=5)
    assert getattr(notices[0].envelope.body, "reason_code", None) is ReasonCode.MALFORMED_JSON
