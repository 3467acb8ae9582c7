"""The audit trail: chain, Logboek fields, no BSN in clear, tamper detection, concurrency, CLI."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.cli import main
from hub.contract.errors import ReasonCode
from hub.contract.messages import Envelope, new_document, validate_document
from hub.contract.notary import encode
from hub.contract.signing import sign_document
from hub.core.audit_entries import entry_for_refusal
from hub.core.outcomes import Refuse
from hub.state import audit as a
from hub.state import audit_events as ev
from hub.state.audit_chain import GENESIS, AuditRecord
from hub.state.database import Database, StoreUnavailableError, open_database
from hub.state.migrations import migrate
from hub.telemetry.logs import keyed_hash
from tests.helpers import BSN, timeout_request_body

KEY = b"test-hash-key"
_SIGNER = Ed25519PrivateKey.generate()


def signed(type_name: str = "timeout.request", body: dict[str, Any] | None = None,
           case_id: str = "ZW-2026-0042", **extra: Any) -> tuple[Envelope, bytes]:
    document = sign_document(new_document(
        type=type_name, sender="gm0193", recipient="cjib", case_id=case_id,
        body=body if body is not None else timeout_request_body(), **extra), _SIGNER)
    raw = encode(document)
    return validate_document(document, raw), raw


@pytest.fixture
def log(db: Database) -> a.AuditLog:
    return a.AuditLog(db, hash_key=KEY)


async def fill(log: a.AuditLog, n: int = 5, case_id: str = "ZW-2026-0042") -> list[AuditRecord]:
    records = []
    for _ in range(n):
        envelope, raw = signed(case_id=case_id)
        records.append(await log.append(ev.entry_from_envelope(
            ev.EVENT_ROUTED, envelope, raw, KEY, decision="routed", rule="r1",
            policy_version="p1")))
    return records


async def swap(db: Database, one: int, two: int) -> None:
    await db.execute("UPDATE audit_log SET seq = -1 WHERE seq = $1", one)
    await db.execute("UPDATE audit_log SET seq = $1 WHERE seq = $2", one, two)
    await db.execute("UPDATE audit_log SET seq = $1 WHERE seq = -1", two)


# -- appending ---------------------------------------------------------------------------------

async def test_records_chain_and_carry_logboek_fields(log: a.AuditLog) -> None:
    envelope, raw = signed()
    record = await log.append(ev.entry_from_envelope(
        ev.EVENT_ROUTED, envelope, raw, KEY, decision="routed", rule="r1", policy_version="p1"))
    second = (await fill(log, 1))[0]

    assert (record.seq, record.prev_hash) == (1, GENESIS)
    assert (second.seq, second.prev_hash) == (2, record.hash)
    assert record.hash == record.compute_hash()
    assert record.trace_id == envelope.conversation_id.hex and len(record.trace_id) == 32
    assert len(record.span_id) == 16 and record.parent_span_id is None
    assert record.status_code == ev.STATUS_OK and record.name == "maatwerk.hub.routed"
    assert record.start_time <= record.end_time
    assert record.body_hash == ev.body_hash(raw)
    assert record.attributes == {
        ev.ATTR_ACTIVITY: "https://maatwerkhub.example/register/pmm.timeout",
        ev.ATTR_SUBJECT: keyed_hash(KEY, BSN),
        ev.ATTR_SUBJECT_TYPE: "BSN",
    }
    assert (record.message_id, record.message_type, record.case_id) == (
        str(envelope.id), "timeout.request", "ZW-2026-0042")
    assert await log.for_case("ZW-2026-0042") == [record, second]
    assert (await log.verify()).ok


async def test_no_bsn_anywhere_in_the_audit_table(log: a.AuditLog, db: Database) -> None:
    await fill(log, 3)
    envelope, raw = signed()
    refuse = Refuse(reason=ReasonCode.SCHEMA_VIOLATION, detail=f"body.bsn: {BSN} is wrong",
                    message_id=envelope.id, notify=None)
    record = await log.append(entry_for_refusal(refuse, raw, KEY))
    assert record.status_code == ev.STATUS_ERROR and record.reason == "schema_violation"
    assert record.attributes[ev.ATTR_SUBJECT] == keyed_hash(KEY, BSN)  # from the raw body
    text = json.dumps(await db.fetch("SELECT * FROM audit_log"), default=str)
    assert BSN not in text


async def test_replies_share_the_trace_and_name_their_parent(log: a.AuditLog) -> None:
    request, raw = signed()
    response, raw2 = signed("timeout.response", {"outcome": "declined",
                                                 "reason_code": "other"},
                            conversation_id=request.conversation_id, in_reply_to=request.id)
    first = await log.append(
        ev.entry_from_envelope(ev.EVENT_ROUTED, request, raw, KEY, decision="r"))
    answer = await log.append(ev.entry_for_answer("response", response, raw2, KEY))
    assert answer.trace_id == first.trace_id
    assert answer.parent_span_id == first.span_id
    assert ev.ATTR_SUBJECT not in answer.attributes  # no BSN in the response body


def test_entries_refuse_a_bsn_in_clear() -> None:
    with pytest.raises(ValueError, match="BSN"):
        ev.check_entry(ev.AuditEntry(event="x", name="x", attributes={ev.ATTR_SUBJECT: BSN}))
    with pytest.raises(ValueError, match="BSN"):
        ev.check_entry(ev.AuditEntry(event="x", name="x", reason=f"bsn {BSN}"))
    with pytest.raises(ValueError, match="hex"):
        ev.check_entry(ev.AuditEntry(event="x", name="x", trace_id="abc"))


async def test_append_inside_a_transaction_rolls_back_with_it(log: a.AuditLog,
                                                             db: Database) -> None:
    await fill(log, 2)
    envelope, raw = signed()
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await log.append(
                ev.entry_from_envelope(ev.EVENT_ROUTED, envelope, raw, KEY, decision="r"), tx)
            raise RuntimeError("routing failed after the audit write")
    result = await log.verify()
    assert result.ok and result.count == 2
    async with db.transaction() as tx:
        record = await log.append(ev.entry_from_envelope(ev.EVENT_ROUTED, envelope, raw, KEY,
                                                        decision="r"), tx)
    assert record.seq == 3 and (await log.verify()).ok


async def test_concurrent_appends_from_two_replicas_make_a_chain_each(state_url: str,
                                                                      db: Database) -> None:
    """Two replicas append at once, each to its own chain (no lock between them): each chain
    is numbered 1..n without a gap and verify walks both."""
    other = await open_database(state_url)
    try:
        logs = [a.AuditLog(db, hash_key=KEY, chain="replica-a"),
                a.AuditLog(other, hash_key=KEY, chain="replica-b")]

        async def write(i: int) -> AuditRecord:
            envelope, raw = signed()
            return await logs[i % 2].append(
                ev.entry_from_envelope(ev.EVENT_ROUTED, envelope, raw, KEY, decision="r"))

        records = await asyncio.gather(*(write(i) for i in range(30)))
    finally:
        await other.close()
    for chain in ("replica-a", "replica-b"):
        assert sorted(r.seq for r in records if r.chain == chain) == list(range(1, 16))
    result = await a.AuditLog(db, hash_key=KEY).verify()
    assert result.ok and result.count == 30 and result.chains == 2
    assert "30 records in 2 chains" in result.describe()


async def test_concurrent_appends_to_one_chain_serialise(state_url: str, db: Database) -> None:
    """Two connections writing the same chain wait for each other's head: one chain, no gap."""
    other = await open_database(state_url)
    try:
        logs = [a.AuditLog(db, hash_key=KEY, chain="x"), a.AuditLog(other, hash_key=KEY,
                                                                   chain="x")]

        async def write(i: int) -> AuditRecord:
            envelope, raw = signed()
            return await logs[i % 2].append(
                ev.entry_from_envelope(ev.EVENT_ROUTED, envelope, raw, KEY, decision="r"))

        records = await asyncio.gather(*(write(i) for i in range(20)))
    finally:
        await other.close()
    assert sorted(r.seq for r in records) == list(range(1, 21))
    assert (await a.AuditLog(db, hash_key=KEY).verify()).ok


async def test_a_record_edited_in_one_of_several_chains_is_named(db: Database) -> None:
    for chain in ("replica-a", "replica-b"):
        await fill(a.AuditLog(db, hash_key=KEY, chain=chain), 3)
    await db.execute("UPDATE audit_log SET recipient = 'duo' WHERE chain = 'replica-b' "
                     "AND seq = 2")
    result = await a.AuditLog(db, hash_key=KEY).verify()
    assert (result.ok, result.chain, result.first_bad_seq, result.why) == (
        False, "replica-b", 2, "edited")
    assert "BROKEN at record 2 (edited) of chain 'replica-b'" in result.describe()


async def test_a_record_moved_to_another_chain_is_named(db: Database) -> None:
    """The chain is hashed: a record relabelled into another chain no longer matches."""
    for chain in ("replica-a", "replica-b"):
        await fill(a.AuditLog(db, hash_key=KEY, chain=chain), 2)
    await db.execute("DELETE FROM audit_log WHERE chain = 'replica-b' AND seq = 2")
    await db.execute("UPDATE audit_log SET chain = 'replica-b' WHERE chain = 'replica-a' "
                     "AND seq = 2")
    result = await a.AuditLog(db, hash_key=KEY).verify()
    assert (result.ok, result.why) == (False, "removed")  # replica-a lost its last record
    assert result.chain == "replica-a"


async def test_the_chain_from_before_migration_6_still_verifies(tmp_path: Path) -> None:
    """A state store written with one global chain (schema 5) keeps its records and hashes as
    chain '' and new replicas' chains verify beside it."""
    from hub.state import migrations

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = await open_database(url)
    saved = migrations.MIGRATIONS
    try:
        migrations.MIGRATIONS = saved[:5]
        await migrate(old)
        envelope, raw = signed()
        entry = ev.entry_from_envelope(ev.EVENT_ROUTED, envelope, raw, KEY, decision="r")
        record = replace(AuditRecord(
            seq=1, time=1, event="routed", message_id=entry.message_id, message_type=None,
            sender=None, recipient=None, decision="r", reason=None, rule=None,
            policy_version=None, body_hash=None, case_id="ZW-2026-0042", trace_id="0" * 32,
            span_id="0" * 16, parent_span_id=None, status_code=1, name="n", start_time=1,
            end_time=1, attributes={}, prev_hash=GENESIS, hash=""))
        record = replace(record, hash=record.compute_hash())
        await old.execute(
            "INSERT INTO audit_log (seq, time, event, message_id, decision, case_id, trace_id, "
            "span_id, status_code, name, start_time, end_time, attributes, prev_hash, hash) "
            "VALUES (1, 1, 'routed', $1, 'r', 'ZW-2026-0042', $2, $3, 1, 'n', 1, 1, '{}', $4, "
            "$5)", record.message_id, record.trace_id, record.span_id, GENESIS, record.hash)
        await old.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 1, $1)",
                          record.hash)
    finally:
        migrations.MIGRATIONS = saved
    assert await migrate(old) == len(migrations.MIGRATIONS)
    await fill(a.AuditLog(old, hash_key=KEY, chain="replica-a"), 2)
    result = await a.AuditLog(old, hash_key=KEY).verify()
    await old.close()
    assert result.ok and (result.count, result.chains) == (3, 2)


async def test_a_failed_write_fails_closed(log: a.AuditLog, db: Database) -> None:
    await fill(log, 1)
    await db.execute("DROP TABLE audit_log")
    with pytest.raises(a.AuditWriteError) as caught:
        await fill(log, 1)
    assert isinstance(caught.value, StoreUnavailableError)
    assert not log.healthy


# -- tampering ---------------------------------------------------------------------------------

async def test_an_edited_record_is_named(log: a.AuditLog, db: Database) -> None:
    await fill(log, 5)
    await db.execute("UPDATE audit_log SET recipient = 'duo' WHERE seq = 3")
    result = await log.verify()
    assert (result.ok, result.first_bad_seq, result.why) == (False, 3, "edited")
    assert "record 3" in result.describe()


async def test_an_edited_attribute_is_named(log: a.AuditLog, db: Database) -> None:
    await fill(log, 4)
    await db.execute("UPDATE audit_log SET attributes = '{}' WHERE seq = 2")
    result = await log.verify()
    assert (result.first_bad_seq, result.why) == (2, "edited")


async def test_an_edited_record_with_a_recomputed_hash_is_named(log: a.AuditLog,
                                                                db: Database) -> None:
    records = await fill(log, 4)
    forged = replace(records[1], decision="refused")
    forged = replace(forged, hash=forged.compute_hash())
    await db.execute("UPDATE audit_log SET decision = $1, hash = $2 WHERE seq = 2",
                     forged.decision, forged.hash)
    result = await log.verify()
    assert (result.first_bad_seq, result.why) == (2, "edited")


async def test_a_removed_record_is_named(log: a.AuditLog, db: Database) -> None:
    await fill(log, 5)
    await db.execute("DELETE FROM audit_log WHERE seq = 2")
    result = await log.verify()
    assert (result.ok, result.first_bad_seq, result.why, result.count) == (
        False, 2, "removed", 1)


async def test_a_removed_last_record_is_named(log: a.AuditLog, db: Database) -> None:
    await fill(log, 5)
    await db.execute("DELETE FROM audit_log WHERE seq = 5")
    result = await log.verify()
    assert (result.first_bad_seq, result.why) == (5, "removed")
    await fill(log, 1)  # appending afterwards does not hide the gap
    result = await log.verify()
    assert (result.first_bad_seq, result.why) == (5, "removed")


@pytest.mark.parametrize(("one", "two"), [(2, 3), (1, 5)])
async def test_reordered_records_are_named(log: a.AuditLog, db: Database, one: int,
                                           two: int) -> None:
    await fill(log, 5)
    await swap(db, one, two)
    result = await log.verify()
    assert (result.ok, result.first_bad_seq, result.why) == (False, one, "reordered")
    assert f"written as record {two}" in result.detail


async def test_tail_check_for_readiness(log: a.AuditLog, db: Database) -> None:
    assert await log.check_tail()
    await fill(log, 3)
    assert await log.check_tail()
    await db.execute("UPDATE audit_log SET sender = 'uwv' WHERE seq = 3")
    assert not await log.check_tail()


# -- the CLI -----------------------------------------------------------------------------------

@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("MAATWERK_STATE_URL", url)
    monkeypatch.setenv("MAATWERK_HASH_KEY", KEY.decode())
    return url


async def _prepare(url: str, tamper: str | None = None) -> None:
    db = await open_database(url)
    try:
        await migrate(db)
        log = a.AuditLog(db, hash_key=KEY)
        await fill(log, 3)
        await fill(log, 2, case_id="AM-2026-0007")
        if tamper:
            await db.execute(tamper)
    finally:
        await db.close()


def test_cli_verify_ok_then_names_the_tampered_record(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_prepare(sqlite_url))
    assert main(["audit", "verify"]) == 0
    assert "audit chain ok: 5 records" in capsys.readouterr().out
    asyncio.run(_tamper(sqlite_url, "UPDATE audit_log SET case_id = 'X-1' WHERE seq = 4"))
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at record 4 (edited)" in out


async def _tamper(url: str, sql: str) -> None:
    db = await open_database(url)
    try:
        await db.execute(sql)
    finally:
        await db.close()


def test_cli_show_prints_the_case_without_bsn(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_prepare(sqlite_url))
    assert main(["audit", "show", "--case", "AM-2026-0007"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all("routed" in line for line in lines)
    assert lines[0].split()[0] == "4"
    assert keyed_hash(KEY, BSN) in out and BSN not in out
    assert main(["audit", "show", "--case", "AM-2026-0007", "--json"]) == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in shown] == [4, 5] and BSN not in json.dumps(shown)
    assert main(["audit", "show", "--case", "NOPE-1"]) == 1


def test_cli_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["audit", "--help"], ["audit", "verify", "--help"], ["ledger", "purge", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
    assert "--older-than" in capsys.readouterr().out


def test_refusal_without_envelope_keeps_codes_only() -> None:
    raw = b'{"body": {"bsn": "' + BSN.encode() + b'"}, "id": 5}'
    refuse = Refuse(reason=ReasonCode.MALFORMED_JSON, detail=f"bad {BSN}", message_id=uuid4(),
                    notify=None)
    entry = entry_for_refusal(refuse, raw, KEY)
    assert entry.reason == "malformed_json" and entry.message_type is None
    assert BSN not in repr(entry)
    assert entry.attributes[ev.ATTR_ACTIVITY].endswith("/hub.refusal")


@pytest.mark.parametrize("text", [
    "plain", 'quote " and backslash \\', "controls \x00\x01\x1f\b\f\n\r\t\x7f",
    "é ß € 中文 😀 \u2028\u2029 \ufeff", "", "/ slash < > &", "\U0010ffff"])
def test_the_fast_canonical_form_is_rfc8785(text: str) -> None:
    """canonical() takes a shortcut past canonicalize() for a record's plain values: the bytes
    (and so every hash) must be the same."""
    from hub.contract.canonical import canonicalize
    from hub.state.audit_chain import canonical

    fields = {"seq": 2 ** 53 - 1, "time": -5, "a": text, "z": None, "ok": True,
              "attributes": {"k": text, "dpl.x": "y"}, text.encode("ascii", "ignore").decode()
              or "empty": text}
    assert canonical(fields) == canonicalize(fields)
    for odd in ({"n": 2 ** 60}, {"f": 1.5}, {"d": {"é": "x"}}, {"é": 1}, {"s": "\ud800"}):
        try:
            expected = canonicalize(odd)
        except Exception as exc:  # JCS refuses it: so must the shortcut
            with pytest.raises(type(exc)):
                canonical(odd)
        else:
            assert canonical(odd) == expected
