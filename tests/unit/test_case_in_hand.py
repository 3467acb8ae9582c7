"""A refusal by the case's state waits while an earlier message of the case is in hand (pipeline
step "case in hand"), for at most CASE_PATIENCE seconds; never for itself or a later one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.contract.messages import Envelope
from hub.core.outcomes import CaseInProgressError, Inbound, OriginalInProgressError
from hub.core.pipeline import CASE_PATIENCE, wait_for_case
from hub.state.database import Database, open_database
from hub.state.migrations import migrate
from hub.state.seen import ROUTED, MessageStore
from tests.unit.test_audit import signed

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(state_url: str) -> AsyncIterator[MessageStore]:
    database: Database = await open_database(state_url)
    await migrate(database)
    yield MessageStore(database)
    await database.close()


async def claimed(store: MessageStore, case_id: str, ms: int = 0) -> Envelope:
    envelope, _ = signed(case_id=case_id)
    assert (await store.claim(envelope, NOW + timedelta(milliseconds=ms))).new
    return envelope


async def test_a_refusal_waits_for_another_message_of_the_case_then_stands(
    store: MessageStore,
) -> None:
    first = await claimed(store, "ZW-CASE-A")
    second = await claimed(store, "ZW-CASE-A", ms=5)
    inbound = Inbound(body=b"", user_id="u")

    await wait_for_case(store, first, inbound)  # a later message is not waited for

    with pytest.raises(CaseInProgressError) as caught:
        await wait_for_case(store, second, inbound)
    assert isinstance(caught.value, OriginalInProgressError)  # retried, not counted a failure

    # patience used up: the refusal stands even though the other message is still in hand
    await wait_for_case(store, second, Inbound(body=b"", user_id="u", waited=CASE_PATIENCE))

    # the other message recorded: nothing to wait for
    await store.decide(first.id, ROUTED, decided_at=NOW)
    await wait_for_case(store, second, inbound)


async def test_the_message_itself_and_other_cases_do_not_count(store: MessageStore) -> None:
    await claimed(store, "ZW-CASE-C")
    alone = await claimed(store, "ZW-CASE-B", ms=5)
    await wait_for_case(store, alone, Inbound(body=b"", user_id="u"))


async def test_two_claimed_in_the_same_millisecond_wait_in_one_direction_only(
    store: MessageStore,
) -> None:
    one, two = await claimed(store, "ZW-CASE-D"), await claimed(store, "ZW-CASE-D")
    waits = 0
    for envelope in (one, two):
        try:
            await wait_for_case(store, envelope, Inbound(body=b"", user_id="u"))
        except CaseInProgressError:
            waits += 1
    assert waits == 1
