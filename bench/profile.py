"""Profile the hub path: ``python -m hub run`` under cProfile while a batch goes through it.

The hub runs in its own process, wrapped by this module (``--serve``): cProfile is enabled around
``hub.cli.main(["run"])`` and the stats are written when the hub stops gracefully on SIGTERM.
The driver publishes ``--count`` pre-signed messages (as in bench.throughput) and waits until the
recipients' consumers have them all, then prints the top functions by cumulative and by own
(self) time. cProfile sees the event-loop thread only: SQLite work inside aiosqlite's worker
thread shows up as the awaiting coroutine's time, not as sqlite3 calls.

For a sampling profile of every thread (the SQLite thread included) without cProfile's overhead,
install py-spy into the venv (``.venv/bin/pip install py-spy``, not a project dependency) and pass
``--profiler py-spy``: the hub then runs unwrapped and py-spy records on-CPU samples of all threads.

    .venv/bin/python -m bench.profile --count 5000 --top 30
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import itertools
import pstats
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.environment import bench_env, state_url_for
from bench.load import Inboxes, Publishers, run_path
from bench.messages import MessageFactory
from bench.processes import queue_depth, start_hub
from hub.contract import names

SPY_RATE = 250


def serve(out: Path) -> int:
    """The hub, profiled (runs in the subprocess)."""
    from hub.cli import main

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        code = main(["run"])
    finally:
        profiler.disable()
        profiler.dump_stats(out)
    return code


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """Sample every thread of ``pid`` into folded stacks (``--format raw``) until SIGINT."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw", "--threads",
                             "--output", str(out), "--rate", str(SPY_RATE)])


def folded_report(path: Path, seconds: float, rate: int, top: int) -> str:
    """Per-thread on-CPU share, and the top functions by own and by inclusive samples."""
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread, frames = frames[0], [f.split(" (")[0] + " (" + f.split(" (", 1)[1].rsplit(
            ":", 1)[0] + ")" if " (" in f else f for f in frames[1:]]
        threads[thread.split(": ", 1)[-1]] += count
        total += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    out = io.StringIO()
    possible = seconds * rate
    out.write(f"py-spy: {total} on-CPU samples at {rate}/s over {seconds:.1f}s\n")
    for name, n in threads.most_common():
        out.write(f"  thread {name}: {n} samples = {100 * n / possible:.1f}% of one core\n")
    out.write(f"\n=== top {top} by own samples (share of all on-CPU samples) ===\n")
    for name, n in own.most_common(top):
        out.write(f"  {100 * n / total:5.1f}%  {name}\n")
    out.write(f"\n=== top {top} hub/adapters functions by inclusive samples ===\n")
    ours = [(k, v) for k, v in inclusive.items() if "hub/" in k or "adapters/" in k]
    for name, n in sorted(ours, key=lambda kv: -kv[1])[:top]:
        out.write(f"  {100 * n / total:5.1f}%  {name}\n")
    return out.getvalue()


async def steps(args: argparse.Namespace) -> None:
    """Cost of each pipeline step per message, in process, one message at a time (no broker).

    Wall time and CPU time (``time.process_time``: every thread, so aiosqlite's worker counts).
    """
    import logging
    import shutil as _shutil
    from datetime import UTC, datetime

    import aio_pika

    from bench.environment import local_env
    from hub.contract.agreements import load_agreements
    from hub.contract.authenticate import check_broker_identity, check_freshness, check_signature
    from hub.contract.messages import parse_document, validate_document
    from hub.contract.notary import Notary
    from hub.contract.policy import load_policy
    from hub.core.audit_entries import entry_for_route
    from hub.core.outcomes import Inbound, Route
    from hub.core.pipeline import (
        authorise,
        check_conversation,
        check_duplicate,
        check_lifetime,
        content_hash,
    )
    from hub.core.timeout_rules import check_timeout_rules
    from hub.state.audit import AuditLog
    from hub.state.batch import GroupCommit
    from hub.state.database import open_database
    from hub.state.ledger import Ledger
    from hub.state.migrations import migrate as migrate_db
    from hub.state.seen import MessageStore
    from hub.state.timeouts import TimeoutTable
    from hub.telemetry.logs import JsonFormatter
    from hub.telemetry.metrics import HubMetrics

    env = local_env("bench-steps")
    try:
        factory = MessageFactory(env, args.recipients, args.body_size)
        messages = [m for lane in factory.batch(args.count, 2) for m in lane]
        registry = env.registry
        policy, agreements = load_policy(None), load_agreements(None)
        state_url = f"sqlite:///{env.root / 'steps.sqlite3'}"
        if args.state == "postgresql":

            state_url = await env.databases.create()
        db = await open_database(state_url)
        await migrate_db(db)
        store = MessageStore(db)
        notary = Notary(registry, env.participants.key("hub"))
        audit_log = AuditLog(db, hash_key=b"bench")
        ledger = Ledger(db, agreements, registry, notary, audit_log)
        metrics = HubMetrics()
        formatter = JsonFormatter()
        cost: dict[str, list[float]] = {}
        recorder = GroupCommit(db, max_items=args.batch, max_wait=0.002)
        pending: list[Any] = []
        batched = f"ledger.record_routed_in, group commit of {args.batch}"

        def add(step: str, wall: float, cpu: float) -> None:
            entry = cost.setdefault(step, [0.0, 0.0])
            entry[0] += wall
            entry[1] += cpu

        for prepared in messages:
            user = registry.get(prepared.sender).broker_user  # type: ignore[union-attr]
            inbound = Inbound(body=prepared.body, user_id=user)
            now = datetime.now(UTC)
            marks: list[tuple[str, float, float]] = [("", time.perf_counter(),
                                                       time.process_time())]

            def mark(step: str, marks: list[tuple[str, float, float]] = marks) -> None:
                marks.append((step, time.perf_counter(), time.process_time()))

            document = parse_document(inbound.body)
            mark("parse_document (json, strict)")
            envelope = validate_document(document, inbound.body)
            mark("validate_document (pydantic)")
            sender = check_broker_identity(inbound.user_id, envelope, registry)
            mark("check_broker_identity")
            check_signature(document, envelope, registry, now)
            mark("check_signature (JCS + Ed25519)")
            check_freshness(envelope, now, 300)
            mark("check_freshness")
            check_lifetime(envelope, agreements)
            digest = content_hash(document)
            mark("check_lifetime, content_hash (JCS + SHA-256)")
            await check_duplicate(store, envelope, inbound, now, digest)
            mark("check_duplicate (claim: INSERT + SELECT)")
            recipient = authorise(envelope, sender, registry)
            mark("authorise")
            await check_conversation(store, envelope)
            mark("check_conversation")
            await check_timeout_rules(TimeoutTable(db), envelope, agreements)
            mark("check_timeout_rules (SELECT)")
            decision = policy.evaluate(envelope, document, recipient, now)
            mark("policy.evaluate")
            aio_pika.Message(prepared.body, message_id=str(envelope.id), type=envelope.type,
                             content_type="application/json",
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             headers={"x-maatwerk-sender": envelope.sender,
                                      "x-maatwerk-policy-version": decision.version,
                                      "x-maatwerk-rule": decision.rule})
            mark("aio_pika.Message (publish side, no I/O)")
            route = Route(envelope=envelope, body=prepared.body, sender=sender,
                          recipient=recipient, policy_version=decision.version,
                          rule=decision.rule)
            if args.batch > 1:  # deferred: run with the next args.batch through group commit
                pending.append(functools.partial(
                    ledger.record_routed_in, envelope=envelope, policy_version=decision.version,
                    rule=decision.rule, now=now, raw=prepared.body,
                    entry=entry_for_route(route, b"bench")))
                mark(batched)
            else:
                await ledger.record_routed(envelope, policy_version=decision.version,
                                           rule=decision.rule, now=now, raw=prepared.body,
                                           entry=entry_for_route(route, b"bench"))
                mark("ledger.record_routed (tx: ledger + audit append)")
            metrics.received.inc()
            metrics.in_flight.inc()
            metrics.routed.labels(envelope.type, recipient.id).inc()
            metrics.in_flight.dec()
            metrics.latency.observe(0.01)
            mark("metrics (5 updates)")
            record = logging.LogRecord("maatwerk.router", logging.INFO, __file__, 0, "routed",
                                       None, None)
            record.__dict__.update({"event": "routed", "message_id": str(envelope.id),
                                    "type": envelope.type, "sender": envelope.sender,
                                    "recipient": envelope.recipient, "rule": decision.rule})
            formatter.format(record)
            mark("log line 'routed' (JsonFormatter.format)")
            for (_, w0, c0), (step, w1, c1) in itertools.pairwise(marks):
                add(step, w1 - w0, c1 - c0)
            if len(pending) >= args.batch or (pending and prepared is messages[-1]):
                t, c = time.perf_counter(), time.process_time()
                await asyncio.gather(*(recorder.run(step) for step in pending))
                add(batched, time.perf_counter() - t, time.process_time() - c)
                pending.clear()

        t, c = time.perf_counter(), time.process_time()
        for _ in range(args.count):
            await db.fetchone("SELECT 1 AS one")
        add("(reference) one state-store round trip: SELECT 1", time.perf_counter() - t,
            time.process_time() - c)
        await db.close()
        if args.state == "sqlite":
            wall, cpu = plain_sqlite3(env.root / "plain.sqlite3", args.count)
            add("(reference) same SQL, plain sqlite3, no thread hop", wall, cpu)
        n = len(messages)
        total_wall = sum(v[0] for k, v in cost.items() if not k.startswith("("))
        total_cpu = sum(v[1] for k, v in cost.items() if not k.startswith("("))
        way = "one at a time" if args.batch <= 1 else f"recorded {args.batch} at a time"
        print(f"per-message cost of each step, {n} messages, {args.state}, {way}\n")
        print(f"{'step':48} {'wall us':>9} {'cpu us':>9} {'share':>6}")
        for step, (wall, cpu) in sorted(cost.items(), key=lambda kv: -kv[1][1]):
            share = f"{100 * cpu / total_cpu:5.1f}%" if not step.startswith("(") else "     -"
            print(f"{step:48} {1e6 * wall / n:9.0f} {1e6 * cpu / n:9.0f} {share}")
        print(f"{'total (steps)':48} {1e6 * total_wall / n:9.0f} {1e6 * total_cpu / n:9.0f}")
    finally:
        await env.databases.drop_all()
        _shutil.rmtree(env.root, ignore_errors=True)


def plain_sqlite3(path: Path, count: int) -> tuple[float, float]:
    """The SQL the hub runs per routed ``timeout.request`` (claim INSERT + SELECT, rules SELECT,
    then BEGIN, UPDATE, 2x INSERT expectations, INSERT timeouts, COMMIT) on a plain sqlite3
    connection in this thread: what the statements cost without aiosqlite and the Database layer.
    Returns total (wall, cpu) seconds for ``count`` messages."""
    import re
    import sqlite3
    import uuid

    from hub.state.migrations import MIGRATIONS
    from hub.state.seen import PROCESSING, ROUTED

    def q(sql: str) -> str:
        return re.sub(r"\$(\d+)", r"?\1", sql)

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for _, _, statements in MIGRATIONS:
        for statement in statements:
            conn.execute(statement)
    claim = q("INSERT INTO messages (id, type, sender, recipient, case_id, conversation_id, "
              "in_reply_to, status, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
              "ON CONFLICT (id) DO NOTHING")
    get = q("SELECT * FROM messages WHERE id = $1")
    rules = q("SELECT request_id FROM timeouts WHERE case_id = $1 AND agency = $2 AND state IN "
              "('requested', 'accepted', 'partially_accepted', 'active', 'extended')")
    decide = q("UPDATE messages SET status = $2, reason = $3, policy_version = $4, rule = $5, "
               "decided_at = $6 WHERE id = $1")
    expect = q("INSERT INTO expectations (message_id, awaited, message_type, case_id, "
               "conversation_id, sender, recipient, routed_at, deadline, grace_ms) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
               "ON CONFLICT (message_id, awaited) DO NOTHING")
    timeout = q("INSERT INTO timeouts (request_id, case_id, conversation_id, municipality, agency, "
                "state, requested_from, requested_months, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, $8) "
                "ON CONFLICT (request_id) DO NOTHING")
    t, c = time.perf_counter(), time.process_time()
    for i in range(count):
        mid, conv, case = str(uuid.uuid4()), str(uuid.uuid4()), f"c{i}"
        conn.execute(claim, (mid, "timeout.request", "gm0193", "cjib", case, conv, None,
                             PROCESSING, 1))
        conn.execute(get, (mid,)).fetchall()
        conn.execute(rules, (case, "cjib")).fetchall()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(decide, (mid, ROUTED, None, "v", "r", 2))
        for awaited in ("receipt", "response"):
            conn.execute(expect, (mid, awaited, "timeout.request", case, conv, "gm0193", "cjib",
                                  1, 2, 1))
        conn.execute(timeout, (mid, case, conv, "gm0193", "cjib", "2026-12-01", 4, 1))
        conn.execute("COMMIT")
    result = time.perf_counter() - t, time.process_time() - c
    conn.close()
    return result


def report(stats_file: Path, top: int) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=buffer)
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        buffer.write(f"\n=== top {top} by {key} ===\n")
        stats.sort_stats(key).print_stats(top)
    return buffer.getvalue()


async def main(args: argparse.Namespace) -> None:
    async with bench_env("bench-prof") as env:
        state_url = await state_url_for(env, args.state)
        out = (args.out or (env.root / "hub.prof")).resolve()
        argv = [sys.executable, "-m", "bench.profile", "--serve", str(out)]
        if args.profiler == "py-spy":
            argv = [sys.executable, "-m", "hub", "run"]
        spy_out: Path | None = None
        hub = await start_hub(env, state_url, argv=argv, log_level=args.hub_log_level)
        spy: subprocess.Popen[bytes] | None = None
        if args.profiler == "py-spy":
            spy_out = out.with_suffix(".folded.txt")
            spy = start_py_spy(hub.pid, spy_out)
        try:
            factory = MessageFactory(env, args.recipients, args.body_size)
            async with Publishers(env, args.publishers) as publishers, Inboxes(env) as inboxes:
                lanes = factory.batch(args.count, args.publishers)
                t = time.perf_counter()
                result = await run_path("hub", lanes, publishers, inboxes)
                seconds = time.perf_counter() - t
                print(f"profiled run: {result.summary()} ({seconds:.1f}s)")
            print(f"dead-lettered: {await queue_depth(env, names.DEAD_LETTER_QUEUE)}")
        finally:
            if spy is not None:
                spy.send_signal(2)
                await asyncio.to_thread(spy.wait, 30)
            await hub.stop()
        if spy_out is not None:
            await asyncio.sleep(0)
            print(folded_report(spy_out, seconds, SPY_RATE, args.top))
            print(f"py-spy folded stacks: {spy_out} (flamegraph.pl or speedscope can read it)")
        else:
            print(report(out, args.top))
            print(f"stats file: {out} (open with python -m pstats, or snakeviz)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--publishers", type=int, default=8)
    parser.add_argument("--recipients", type=int, default=5)
    parser.add_argument("--body-size", type=int, default=0)
    parser.add_argument("--state", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--hub-log-level", default="INFO")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--out", type=Path, help="keep the .prof file here (default: temp)")
    parser.add_argument("--batch", type=int, default=1,
                        help="--steps: record the messages N at a time through group commit "
                        "(hub.state.batch), as the hub does under load (default 1: one by one)")
    parser.add_argument("--steps", action="store_true",
                        help="instead: time each pipeline step in process (no broker)")
    parser.add_argument("--profiler", choices=("cprofile", "py-spy"), default="cprofile",
                        help="py-spy samples every thread without cProfile's overhead "
                             "(install it into the venv first)")
    cli = parser.parse_args()
    if cli.serve:
        sys.exit(serve(cli.serve))
    asyncio.run(steps(cli) if cli.steps else main(cli))
