"""Retention: closed cases past the period lose their personal data; the audit chain verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.cli import main
from hub.contract.errors import ConfigError
from hub.contract.messages import new_document, validate_document
from hub.contract.notary import encode
from hub.contract.signing import sign_document
from hub.state import audit as a
from hub.state import audit_events as ev
from hub.state import outbox
from hub.state.database import Database, SqliteDatabase, open_database, to_ms
from hub.state.migrations import migrate
from hub.state.retention import closed_cases, purge
from hub.state.seen import PROCESSED, MessageStore
from tests.helpers import timeout_request_body

KEY = b"retention-key"
OLD_BSN = "111222333"  # passes the elfproef; fictional
OPEN_BSN = "100000009"
RECENT_BSN = "999999990"
NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=400)
_SIGNER = Ed25519PrivateKey.generate()


async def add_case(db: Database, log: a.AuditLog, case_id: str, bsn: str, at: datetime, *,
                   answered: bool = True, timeout_state: str = "ended") -> None:
    """A routed time-out request (with audit record), its expectation, time-out and a sent hub
    message in the outbox whose signed body carries the BSN."""
    document = sign_document(new_document(
        type="timeout.request", sender="gm0193", recipient="cjib", case_id=case_id,
        body=timeout_request_body(bsn=bsn), created_at=at), _SIGNER)
    raw = encode(document)
    envelope = validate_document(document, raw)
    store = MessageStore(db)
    await store.claim(envelope, at)
    await store.decide(envelope.id, PROCESSED, policy_version="p1", rule="r1", decided_at=at)
    await log.append(ev.entry_from_envelope(ev.EVENT_ROUTED, envelope, raw, KEY, decision="routed"))
    await db.execute(
        "INSERT INTO expectations (message_id, awaited, message_type, case_id, conversation_id, "
        "sender, recipient, routed_at, deadline, grace_ms, fulfilled_at) "
        "VALUES ($1, 'response', $2, $3, $4, 'gm0193', 'cjib', $5, $5, 0, $6)",
        str(envelope.id), envelope.type, case_id, str(envelope.conversation_id), to_ms(at),
        to_ms(at) if answered else None)
    await db.execute(
        "INSERT INTO timeouts (request_id, case_id, conversation_id, municipality, agency, state, "
        "requested_from, requested_months, updated_at) "
        "VALUES ($1, $2, $3, 'gm0193', 'cjib', $4, '2026-12-01', 4, $5)",
        str(envelope.id), case_id, str(envelope.conversation_id), timeout_state, to_ms(at))
    assert await outbox.add(db, envelope, raw)
    await db.execute("UPDATE outbox SET created_at = $2, sent_at = $2 WHERE id = $1",
                     str(envelope.id), to_ms(at))


async def everything(db: Database) -> str:
    """Every row of every table, as text."""
    if isinstance(db, SqliteDatabase):
        tables = [r["name"] for r in await db.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        tables = [r["table_name"] for r in await db.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
    assert {"messages", "expectations", "timeouts", "outbox", "audit_log"} <= set(tables)
    dump: dict[str, Any] = {t: await db.fetch(f'SELECT * FROM "{t}"') for t in tables}
    return json.dumps(dump, default=str)


async def test_purge_removes_personal_data_and_keeps_the_chain(db: Database) -> None:
    log = a.AuditLog(db, hash_key=KEY)
    await add_case(db, log, "ZW-OLD-1", OLD_BSN, LONG_AGO)
    await add_case(db, log, "ZW-OPEN-1", OPEN_BSN, LONG_AGO, answered=False,
                   timeout_state="active")
    await add_case(db, log, "ZW-NEW-1", RECENT_BSN, NOW - timedelta(days=3))
    before = await everything(db)
    assert OLD_BSN in before and OPEN_BSN in before  # the outbox bodies carry it

    assert await closed_cases(db, NOW - timedelta(days=30)) == ["ZW-OLD-1"]
    result = await purge(db, log, older_than_days=30, now=NOW)

    assert result.cases == ["ZW-OLD-1"]
    assert result.rows == {"expectations": 1, "timeouts": 1, "escalations": 0, "bridging": 0,
                           "outbox": 1, "messages": 1, "info_requests": 0, "deviations": 0}
    after = await everything(db)
    assert OLD_BSN not in after and "ZW-OLD-1" in after  # only the audit trail names the case
    assert OPEN_BSN in after and RECENT_BSN in after     # open and recent cases untouched
    for table in ("messages", "expectations", "timeouts", "outbox"):
        assert not await db.fetch(f"SELECT * FROM {table} WHERE case_id = 'ZW-OLD-1'")

    verified = await log.verify()
    assert verified.ok and verified.count == 4
    records = await log.for_case("ZW-OLD-1")
    assert [r.event for r in records] == ["routed", "purge"]
    assert records[-1].attributes["maatwerk.purged.outbox"] == "1"
    assert records[-1].attributes[ev.ATTR_ACTIVITY].endswith("/hub.retention")

    again = await purge(db, log, older_than_days=30, now=NOW)
    assert again.cases == []  # idempotent: nothing left to purge


async def test_the_tombstone_still_catches_a_duplicate(db: Database) -> None:
    log = a.AuditLog(db, hash_key=KEY)
    await add_case(db, log, "ZW-OLD-2", OLD_BSN, LONG_AGO)
    row = await db.fetchone("SELECT id FROM messages WHERE case_id = 'ZW-OLD-2'")
    assert row is not None
    await purge(db, log, older_than_days=30, now=NOW)
    record = await MessageStore(db).get(row["id"])
    assert record is not None and record.case_id == "purged" and record.sender == "gm0193"


async def test_an_ended_case_within_the_period_is_kept(db: Database) -> None:
    log = a.AuditLog(db, hash_key=KEY)
    await add_case(db, log, "ZW-MID-1", OLD_BSN, NOW - timedelta(days=20))
    assert (await purge(db, log, older_than_days=30, now=NOW)).cases == []
    assert (await purge(db, log, older_than_days=10, now=NOW)).cases == ["ZW-MID-1"]


async def test_zero_days_is_refused(db: Database) -> None:
    with pytest.raises(ConfigError, match="at least"):
        await purge(db, a.AuditLog(db, hash_key=KEY), older_than_days=0, now=NOW)


def test_cli_purge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    url = f"sqlite:///{tmp_path / 'purge.sqlite3'}"
    monkeypatch.setenv("MAATWERK_STATE_URL", url)
    monkeypatch.setenv("MAATWERK_HASH_KEY", KEY.decode())

    async def prepare() -> None:
        db = await open_database(url)
        try:
            await migrate(db)
            await add_case(db, a.AuditLog(db, hash_key=KEY), "ZW-OLD-3", OLD_BSN, LONG_AGO)
        finally:
            await db.close()

    asyncio.run(prepare())
    assert main(["ledger", "purge", "--older-than", "90", "--dry-run"]) == 0
    assert "would purge 1 closed case(s) older than 90 days: ZW-OLD-3" in capsys.readouterr().out
    assert main(["ledger", "purge", "--older-than", "90"]) == 0
    out = capsys.readouterr().out
    assert "purged 1 closed case(s)" in out and "outbox 1" in out
    assert main(["audit", "verify"]) == 0
    assert main(["ledger", "purge", "--older-than", "0"]) == 2
    assert "at least 1 day" in capsys.readouterr().err
