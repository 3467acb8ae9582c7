"""Signed audit checkpoints, and the hub's refusal to run on the dev hash key outside dev mode."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import DEV_HASH_KEY, Settings, require_own_hash_key
from hub.contract.errors import ConfigError
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.notary import Notary
from hub.contract.registry import Registry, load_registry
from hub.state import audit as a
from hub.state import checkpoints
from hub.state.audit_chain import GENESIS, AuditRecord
from hub.state.database import Database, open_database
from hub.state.migrations import migrate
from tests.unit.test_audit import KEY, fill


@pytest.fixture(scope="module")
def hub_registry(keys_dir: Path) -> Registry:
    return load_registry(None, keys_dir)


@pytest.fixture
def notary(hub_registry: Registry, keys_dir: Path) -> Notary:
    return Notary(hub_registry, load_private_key(private_key_path(keys_dir,
                                                                  hub_registry.hub.id)))


async def rebuild_chain(db: Database, seq: int, **changes: str) -> None:
    """What someone with write access to the database could do: change record ``seq`` and
    recompute every hash and link after it, and the head, so the chain verifies again."""
    rows = await db.fetch("SELECT * FROM audit_log ORDER BY seq")
    prev = GENESIS
    for row in rows:
        record = AuditRecord.from_row(row)
        if record.seq == seq:
            record = replace(record, **changes)  # type: ignore[arg-type]
        record = replace(record, prev_hash=prev)
        record = replace(record, hash=record.compute_hash())
        await db.execute("UPDATE audit_log SET decision = $1, recipient = $2, prev_hash = $3, "
                         "hash = $4 WHERE seq = $5", record.decision, record.recipient,
                         record.prev_hash, record.hash, record.seq)
        prev = record.hash
    await db.execute("UPDATE audit_head SET hash = $1 WHERE chain = ''", prev)


# -- checkpoints ----------------------------------------------------------------------------------

async def test_a_chain_rewritten_before_a_checkpoint_is_detected(
    db: Database, notary: Notary, hub_registry: Registry
) -> None:
    log = a.AuditLog(db, hash_key=KEY)
    await fill(log, 4)
    checkpoint = await checkpoints.write(log, notary.hub_id, notary.countersign,
                                         datetime.now(UTC))
    assert checkpoint is not None and checkpoint.seq == 4
    await fill(log, 2)
    assert await checkpoints.check(checkpoint, log, hub_registry) is None

    await rebuild_chain(db, 2, recipient="duo")
    assert (await log.verify()).ok  # the chain alone no longer shows it
    problem = await checkpoints.check(checkpoint, log, hub_registry)
    assert problem is not None and "rewritten before the checkpoint" in problem
    assert "record 4" in problem


async def test_a_forged_or_foreign_checkpoint_does_not_verify(
    db: Database, notary: Notary, hub_registry: Registry
) -> None:
    log = a.AuditLog(db, hash_key=KEY)
    await fill(log, 3)
    checkpoint = await checkpoints.write(log, notary.hub_id, notary.countersign,
                                         datetime.now(UTC))
    assert checkpoint is not None
    await rebuild_chain(db, 1, decision="refused")
    forged = replace(checkpoint, hash=await log.hash_at(3) or "")  # fits the rewritten chain
    problem = await checkpoints.check(forged, log, hub_registry)
    assert problem is not None and "signature does not verify" in problem
    foreign = replace(checkpoint, hub="cjib")
    assert "not the hub" in (await checkpoints.check(foreign, log, hub_registry) or "")


async def test_checkpoints_are_signed_at_intervals_while_the_chain_grows(
    db: Database, notary: Notary
) -> None:
    log = a.AuditLog(db, hash_key=KEY)
    now = datetime.now(UTC)
    assert await checkpoints.due(log, notary.hub_id, notary.countersign, now, 60) is None
    await fill(log, 2)
    first = await checkpoints.due(log, notary.hub_id, notary.countersign, now, 60)
    assert first is not None and first.seq == 2
    await fill(log, 1)
    soon = now + timedelta(seconds=30)
    assert await checkpoints.due(log, notary.hub_id, notary.countersign, soon, 60) is None
    later = now + timedelta(seconds=61)
    second = await checkpoints.due(log, notary.hub_id, notary.countersign, later, 60)
    assert second is not None and second.seq == 3
    much_later = now + timedelta(seconds=600)  # nothing new: no new checkpoint
    assert await checkpoints.due(log, notary.hub_id, notary.countersign, much_later, 60) is None
    assert [c.seq for c in await checkpoints.stored(db)] == [2, 3]


# -- the CLI --------------------------------------------------------------------------------------

@pytest.fixture
def cli_env(tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("MAATWERK_STATE_URL", url)
    monkeypatch.setenv("MAATWERK_HASH_KEY", KEY.decode())
    monkeypatch.setenv("MAATWERK_KEYS_DIR", str(keys_dir))
    monkeypatch.delenv("MAATWERK_REGISTRY", raising=False)
    return url


async def _with_db(url: str, n: int = 0, rewrite: int | None = None,
                   drop_checkpoints: bool = False) -> None:
    db = await open_database(url)
    try:
        await migrate(db)
        if n:
            await fill(a.AuditLog(db, hash_key=KEY), n)
        if rewrite is not None:
            await rebuild_chain(db, rewrite, recipient="uwv")
        if drop_checkpoints:
            await db.execute("DELETE FROM audit_checkpoints")
    finally:
        await db.close()


def test_cli_export_and_verify_detect_a_rewritten_chain(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_with_db(cli_env, n=5))
    assert main(["audit", "checkpoint", "export"]) == 2  # none signed yet: says so
    assert "--new" in capsys.readouterr().err
    kept = tmp_path / "kept-elsewhere.json"
    assert main(["audit", "checkpoint", "export", "--new", "--out", str(kept)]) == 0
    exported = json.loads(kept.read_text())
    assert exported["seq"] == 5 and exported["signature"]["alg"] == "Ed25519"
    assert main(["audit", "verify", "--checkpoint", str(kept)]) == 0
    assert "signed checkpoints ok: 1 stored, 1 given" in capsys.readouterr().out

    # The chain is rebuilt before the checkpoint: the stored checkpoint catches it.
    asyncio.run(_with_db(cli_env, rewrite=3))
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "audit chain ok" in out  # the chain itself verifies...
    assert "BROKEN at a signed checkpoint at record 5" in out  # ...the checkpoint does not

    # Even with the stored checkpoints deleted, the one kept elsewhere catches it.
    asyncio.run(_with_db(cli_env, drop_checkpoints=True))
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--checkpoint", str(kept)]) == 1
    assert "rewritten before the checkpoint" in capsys.readouterr().out

    kept.write_text('{"type": "notice.refused"}')
    assert main(["audit", "verify", "--checkpoint", str(kept)]) == 2
    assert "not an audit checkpoint" in capsys.readouterr().err


# -- the hash key ---------------------------------------------------------------------------------

def test_outside_dev_mode_the_hub_needs_its_own_hash_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="MAATWERK_HASH_KEY is not set"):
        require_own_hash_key(Settings.from_env({}))
    with pytest.raises(ConfigError, match="MAATWERK_HASH_KEY is not set"):
        require_own_hash_key(Settings.from_env({"MAATWERK_HASH_KEY": DEV_HASH_KEY}))
    with pytest.raises(ConfigError, match="at least 16"):
        require_own_hash_key(Settings.from_env({"MAATWERK_HASH_KEY": "short"}))
    require_own_hash_key(Settings.from_env({"MAATWERK_HASH_KEY": "a" * 32}))

    started: list[bytes] = []

    async def serve(settings: Settings) -> None:
        started.append(settings.hash_key)

    monkeypatch.setattr("hub.cli.serve._serve", serve)
    monkeypatch.delenv("MAATWERK_HASH_KEY", raising=False)
    assert main(["run"]) == 2 and not started
    err = capsys.readouterr().err
    assert err.startswith("maatwerk-hub: MAATWERK_HASH_KEY is not set") and err.count("\n") == 1
    monkeypatch.setenv("MAATWERK_HASH_KEY", "an-own-secret-of-this-hub-0123456789")
    assert main(["run"]) == 0 and started == [b"an-own-secret-of-this-hub-0123456789"]


def test_dev_mode_keeps_the_dev_hash_key(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    started: list[bytes] = []

    async def serve(settings: Settings) -> None:
        started.append(settings.hash_key)

    monkeypatch.setattr("hub.cli.serve._serve", serve)
    monkeypatch.delenv("MAATWERK_HASH_KEY", raising=False)
    monkeypatch.setenv("MAATWERK_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("MAATWERK_REGISTRY", raising=False)
    assert main(["run", "--dev-keys"]) == 0 and started == [DEV_HASH_KEY.encode()]


def test_the_refusal_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MAATWERK_KEYS_DIR": str(tmp_path / "keys"),
           "MAATWERK_STATE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    done = subprocess.run([sys.executable, "-m", "hub", "run"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "MAATWERK_HASH_KEY is not set" in done.stderr and "Traceback" not in done.stderr
