"""``maatwerk-hub audit verify``, ``audit show --case CASE_ID``, ``audit checkpoint export`` and
``ledger purge --older-than``.

All read ``MAATWERK_STATE_URL`` (and ``MAATWERK_HASH_KEY``); none prints personal data. ``verify``
and ``checkpoint export`` also read the registry (the hub's public keys, ``MAATWERK_KEYS_DIR``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from hub.config import Settings
from hub.contract.errors import ConfigError
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.messages import utc_iso
from hub.contract.notary import Notary
from hub.contract.registry import load_registry
from hub.state import checkpoints
from hub.state.audit import AuditLog
from hub.state.audit_chain import AuditRecord
from hub.state.database import open_database
from hub.state.migrations import migrate
from hub.state.retention import MIN_DAYS, PurgeResult, closed_cases, purge

T = TypeVar("T")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser(
        "audit", help="verify and read the hash-chained audit trail",
        description="The audit trail records every routing decision and ledger event in "
        "MAATWERK_STATE_URL; each record is chained to the one before by SHA-256.",
    )
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="recompute the whole chain and check the signed checkpoints",
        description="Exit 0 when every record matches its hash and links to the one before it "
        "and every signed checkpoint (stored, and each --checkpoint FILE) verifies with the "
        "hub's key and matches the chain; 1 when a record was edited, removed or reordered (the "
        "first bad seq is named) or the chain was rewritten before a checkpoint.",
    )
    verify.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="FILE",
                        help="also check an exported checkpoint kept elsewhere (repeatable)")
    verify.set_defaults(handler=_verify)
    checkpoint = actions.add_parser(
        "checkpoint", help="export a signed checkpoint of the chain's head")
    checkpoint_actions = checkpoint.add_subparsers(dest="checkpoint_action", required=True,
                                                   metavar="ACTION")
    export = checkpoint_actions.add_parser(
        "export", help="write the latest signed checkpoint (JSON) to keep elsewhere",
        description="Writes the latest checkpoint the hub signed (the chain's head seq and hash, "
        "signed with the hub's Ed25519 key) as one JSON document. With --new, signs the head "
        "now first (needs the hub's private key under MAATWERK_KEYS_DIR/private). Keep the "
        "file outside the database (a ticket, a write-once store); 'audit verify --checkpoint "
        "FILE' checks it later.",
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.add_argument("--new", action="store_true", help="sign the current head now")
    export.set_defaults(handler=_export)
    show = actions.add_parser(
        "show", help="print a case's audit records (no personal data)",
        description="Prints the audit records of one case in order. Records hold ids, codes and "
        "hashes only; the data subject is a keyed hash, never a BSN.",
    )
    show.add_argument("--case", required=True, metavar="CASE_ID", dest="case_id")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    show.set_defaults(handler=_show)

    ledger = sub.add_parser("ledger", help="maintain the ledger (retention)")
    ledger_actions = ledger.add_subparsers(dest="action", required=True, metavar="ACTION")
    purge_parser = ledger_actions.add_parser(
        "purge", help="remove personal data of closed cases older than DAYS",
        description="A case is closed when all its time-outs ended or were declined, no receipt "
        "or response is awaited and nothing is unsent or in progress. Cases closed with no "
        "activity for DAYS days lose their expectations, time-outs and sent outbox messages; "
        "message rows stay as tombstones without case; the audit chain gets a purge record per "
        "case and stays verifiable.",
    )
    purge_parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    purge_parser.add_argument("--dry-run", action="store_true",
                              help="list the cases that would be purged, change nothing")
    purge_parser.set_defaults(handler=_purge)


async def _with_audit(action: Callable[[AuditLog], Awaitable[T]]) -> T:
    settings = Settings.from_env()
    db = await open_database(settings.state_url)
    try:
        await migrate(db)
        return await action(AuditLog(db, hash_key=settings.hash_key))
    finally:
        await db.close()


def _verify(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    registry = load_registry(settings.registry_path, settings.keys_dir)
    given = [_read_checkpoint(path) for path in args.checkpoint]

    async def run(audit: AuditLog) -> int:
        result = await audit.verify()
        print(result.describe())
        if not result.ok:
            return 1
        signed = await checkpoints.stored(audit.db)
        problems = [p for c in [*signed, *given]
                    if (p := await checkpoints.check(c, audit, registry)) is not None]
        for problem in problems:
            print(f"audit chain BROKEN at a signed {problem}")
        if problems:
            return 1
        if signed or given:
            last = max([*signed, *given], key=lambda c: c.seq)
            print(f"signed checkpoints ok: {len(signed)} stored, {len(given)} given; latest at "
                  f"record {last.seq} ({utc_iso(last.time)})")
        else:
            print("no signed checkpoint yet (the hub signs the head every "
                  f"{checkpoints.EVERY_SECONDS:.0f} s while the chain grows)")
        return 0

    return asyncio.run(_with_audit(run))


def _read_checkpoint(path: Path) -> checkpoints.Checkpoint:
    try:
        return checkpoints.Checkpoint.from_document(json.loads(path.read_text()))
    except (OSError, ValueError, ConfigError) as exc:
        raise ConfigError(f"--checkpoint {path}: {exc}") from None


def _export(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    registry = load_registry(settings.registry_path, settings.keys_dir)

    async def run(audit: AuditLog) -> checkpoints.Checkpoint | None:
        if args.new:
            key = load_private_key(private_key_path(settings.keys_dir, registry.hub.id))
            notary = Notary(registry, key)
            return await checkpoints.write(audit, registry.hub.id, notary.countersign,
                                           datetime.now(UTC))
        return await checkpoints.latest(audit.db)

    found = asyncio.run(_with_audit(run))
    if found is None:
        raise ConfigError("no checkpoint to export: the chain is empty" if args.new else
                          "no signed checkpoint stored yet: use --new to sign the head now")
    text = found.to_json() + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"checkpoint at record {found.seq} written to {args.out}", file=sys.stderr)
    return 0


def render(record: AuditRecord) -> str:
    shown = record.to_json()
    subject = record.attributes.get("dpl.core.data_subject_id", "-")
    party = f"{record.sender or '-'} -> {record.recipient or '-'}"
    why = " ".join(x for x in (record.reason, f"rule {record.rule}" if record.rule else "") if x)
    return (f"{record.seq:>6}  {shown['time']}  {record.event:<13} {record.message_type or '-':<20}"
            f" {party:<28} {record.decision or '-'} {why}".rstrip()
            + f"  subject={subject} body={(record.body_hash or '-')[:16]} "
            f"trace={record.trace_id} span={record.span_id}")


def _show(args: argparse.Namespace) -> int:
    async def run(audit: AuditLog) -> list[AuditRecord]:
        return await audit.for_case(args.case_id)

    records = asyncio.run(_with_audit(run))
    for record in records:
        print(json.dumps(record.to_json(), sort_keys=True) if args.json else render(record))
    if not records:
        print(f"no audit records for case {args.case_id}")
    return 0 if records else 1


def _purge(args: argparse.Namespace) -> int:
    if args.older_than < MIN_DAYS:
        raise ConfigError(f"--older-than {args.older_than}: give at least {MIN_DAYS} day")
    now = datetime.now(UTC)

    async def run(audit: AuditLog) -> PurgeResult:
        if args.dry_run:
            cases = await closed_cases(audit.db, now - timedelta(days=args.older_than))
            return PurgeResult(cases=cases, rows={})
        return await purge(audit.db, audit, older_than_days=args.older_than, now=now)

    result = asyncio.run(_with_audit(run))
    verb = "would purge" if args.dry_run else "purged"
    print(f"{verb} {len(result.cases)} closed case(s) older than {args.older_than} days"
          + (f": {', '.join(result.cases)}" if result.cases else ""))
    if result.rows:
        print("rows: " + ", ".join(f"{t} {n}" for t, n in sorted(result.rows.items())))
    return 0
