"""Group commit (hub.state.batch): members return only after their commit, a failing batch fails
every member, a member's own error is its own, batches flush on size and on time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.state.batch import GroupCommit
from hub.state.database import Database, StoreUnavailableError, open_database
from hub.state.health import record_probe

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def probes(db: Database) -> set[str]:
    rows = await db.fetch("SELECT replica FROM hub_health")
    return {r["replica"] for r in rows}


def write(name: str, seen: list[str] | None = None) -> object:
    async def step(tx: Database) -> str:
        await record_probe(tx, name, NOW)
        if seen is not None:
            seen.append(name)
        return name
    return step


async def test_members_share_one_transaction_and_return_after_its_commit(
        db: Database, state_url: str) -> None:
    group = GroupCommit(db, max_items=8, max_wait=5.0)
    other = await open_database(state_url)  # another connection sees only what committed
    try:
        seen_at_return: list[set[str]] = []

        async def member(i: int) -> None:
            assert await group.run(write(f"r{i}")) == f"r{i}"  # type: ignore[arg-type]
            seen_at_return.append(await probes(other))

        await asyncio.wait_for(asyncio.gather(*(member(i) for i in range(8))), 60)
    finally:
        await other.close()
    assert group.batches == 1  # eight steps, one transaction: flushed on size, not on time
    assert all(seen == {f"r{i}" for i in range(8)} for seen in seen_at_return)


async def test_a_batch_flushes_on_time_when_it_is_not_full(db: Database) -> None:
    group = GroupCommit(db, max_items=64, max_wait=0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    results = await asyncio.wait_for(asyncio.gather(
        *(group.run(write(f"t{i}")) for i in range(3))), 60)  # type: ignore[arg-type]
    assert sorted(results) == ["t0", "t1", "t2"]
    assert loop.time() - start >= 0.05  # it waited for more, then went with three
    assert group.batches == 1 and await probes(db) == {"t0", "t1", "t2"}


async def test_a_lone_caller_is_not_kept_waiting_for_company_that_cannot_come(
        db: Database) -> None:
    """``company`` (the router's deliveries in hand): with nobody else at work the step goes at
    once, not after ``max_wait`` (one minute here; the old group commit always waited)."""
    group = GroupCommit(db, max_items=64, max_wait=60.0)
    group.company = lambda: 1
    assert await asyncio.wait_for(group.run(write("alone")), 10) == "alone"  # type: ignore[arg-type]
    assert group.batches == 1


async def test_a_batch_waits_while_company_is_at_work_and_goes_when_all_are_in(
        db: Database) -> None:
    group = GroupCommit(db, max_items=64, max_wait=60.0)
    group.company = lambda: 3  # three deliveries in hand
    first = asyncio.ensure_future(group.run(write("f0")))  # type: ignore[arg-type]
    await asyncio.sleep(0.2)
    assert not first.done()  # two more are at work: it waits for them
    rest = [group.run(write(f"f{i}")) for i in (1, 2)]  # type: ignore[arg-type]
    results = await asyncio.wait_for(asyncio.gather(first, *rest), 10)
    assert sorted(results) == ["f0", "f1", "f2"] and group.batches == 1


async def test_a_store_failure_fails_every_member_and_writes_nothing(db: Database) -> None:
    group = GroupCommit(db, max_items=4, max_wait=5.0)

    async def broken(tx: Database) -> str:
        await record_probe(tx, "broken", NOW)
        raise StoreUnavailableError("the store went away mid-batch")

    outcomes = await asyncio.wait_for(asyncio.gather(
        group.run(write("a")), group.run(broken), group.run(write("b")),  # type: ignore[arg-type]
        group.run(write("c")), return_exceptions=True), 60)  # type: ignore[arg-type]
    assert all(isinstance(o, StoreUnavailableError) for o in outcomes)
    assert await probes(db) == set()  # rolled back: no member's step committed
    assert await group.run(write("a")) == "a"  # type: ignore[arg-type]  # the retry goes through


async def test_a_steps_own_error_fails_only_that_member(db: Database) -> None:
    group = GroupCommit(db, max_items=3, max_wait=5.0)

    async def poison(tx: Database) -> str:
        await record_probe(tx, "poison", NOW)
        raise ValueError("this one message is bad")

    outcomes = await asyncio.wait_for(asyncio.gather(
        group.run(write("a")), group.run(poison), group.run(write("b")),  # type: ignore[arg-type]
        return_exceptions=True), 60)
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], ValueError)
    assert await probes(db) == {"a", "b"}  # each re-run alone; the poison one rolled back
    assert group.batches == 4  # the failed batch, then three alone


async def test_no_member_returns_before_its_commit(db: Database, tmp_path: Path) -> None:
    """The commit itself fails (the store refuses it): the member's step ran, yet it is told of
    the failure, never of success."""
    group = GroupCommit(db, max_items=2, max_wait=5.0)
    ran: list[str] = []
    real = db.transaction

    def failing_commit() -> object:
        class Tx:
            async def __aenter__(self) -> Database:
                self.inner = real()
                return await self.inner.__aenter__()  # type: ignore[no-any-return]

            async def __aexit__(self, *exc: object) -> bool:
                await self.inner.__aexit__(RuntimeError, RuntimeError("x"), None)
                raise StoreUnavailableError("commit refused")
        return Tx()

    db.transaction = failing_commit  # type: ignore[method-assign]
    outcomes = await asyncio.wait_for(asyncio.gather(
        group.run(write("a", ran)), group.run(write("b", ran)),  # type: ignore[arg-type]
        return_exceptions=True), 60)
    db.transaction = real  # type: ignore[method-assign]
    assert sorted(ran) == ["a", "b"]
    assert all(isinstance(o, StoreUnavailableError) for o in outcomes)
    assert await probes(db) == set()


async def test_batching_off_commits_each_step_alone(db: Database) -> None:
    group = GroupCommit(db, max_items=1)
    await asyncio.gather(*(group.run(write(f"s{i}")) for i in range(3)))  # type: ignore[arg-type]
    assert group.batches == 3 and await probes(db) == {"s0", "s1", "s2"}


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(None, max_items=0)  # type: ignore[arg-type]


async def test_claims_of_messages_in_flight_commit_together(db: Database) -> None:
    """MessageStore(claims=GroupCommit): concurrent claims share transactions; a copy of an id
    claimed in the same batch is not new, and sees the first claim's record."""
    from hub.state.seen import PROCESSING, MessageStore
    from tests.unit.test_audit import signed

    group = GroupCommit(db, max_items=16, max_wait=5.0)
    store = MessageStore(db, claims=group)
    envelopes = [signed(case_id=f"ZW-BATCH-{i}")[0] for i in range(15)]
    claims = await asyncio.gather(*(store.claim(e, NOW) for e in [*envelopes, envelopes[0]]))
    assert group.batches == 1
    assert [c.new for c in claims] == [True] * 15 + [False]
    assert claims[-1].record.id == envelopes[0].id and claims[-1].record.status == PROCESSING
    plain = MessageStore(db)  # what committed, read without the group
    for envelope in envelopes:
        record = await plain.get(envelope.id)
        assert record is not None and record.status == PROCESSING


async def test_a_step_queued_as_the_last_worker_ends_is_still_committed(db: Database) -> None:
    """The caller of the last step of a batch runs again before the worker's task is done: a
    step it queues at once must get a worker (before: it waited for the next caller, for ever
    when none came)."""
    group = GroupCommit(db, max_items=4, max_wait=0.0)

    async def again() -> list[str]:
        first = await group.run(write("first"))  # type: ignore[arg-type]
        async with asyncio.timeout(5):  # not wait_for: its own task would start later
            second = await group.run(write("second"))  # type: ignore[arg-type]
        return [first, second]

    assert await again() == ["first", "second"]
    assert await probes(db) >= {"first", "second"}
