"""``maatwerk-hub sign|verify|schemas``: the message contract from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from hub.config import Settings
from hub.contract import keys, schemas
from hub.contract.authenticate import Limits, authenticate
from hub.contract.errors import ConfigError, HubError, Refusal
from hub.contract.messages import parse_document
from hub.contract.registry import load_registry
from hub.contract.signing import sign_document

DEFAULT_SCHEMAS_DIR = Path("schemas")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sign``, ``verify`` and ``schemas`` commands."""
    sign = sub.add_parser(
        "sign", help="sign a message with a private key",
        description="Prints MESSAGE with a fresh signature (alg, kid, value), as indented JSON. "
        "The message is not validated: run verify on the result.",
    )
    sign.add_argument("message", type=Path, metavar="MESSAGE.json", help="'-' reads stdin")
    sign.add_argument("--key", type=Path, required=True, metavar="PEM",
                      help="PKCS#8 PEM Ed25519 private key (mode 0600)")
    sign.set_defaults(handler=_sign)

    verify = sub.add_parser(
        "verify", help="check a signed message as the hub would",
        description="Checks schema, signature, key validity and expiry. Exit 0 and 'ok: ...' "
        "when all hold; exit 1 and 'refused: REASON: DETAIL' otherwise.",
    )
    verify.add_argument("message", type=Path, metavar="MESSAGE.json", help="'-' reads stdin")
    verify.add_argument("--registry", type=Path, metavar="FILE",
                        help="default: $MAATWERK_REGISTRY or the demo registry")
    verify.add_argument("--keys-dir", type=Path, metavar="DIR",
                        help="published public keys; default: $MAATWERK_KEYS_DIR or ./keys")
    verify.add_argument("--now", type=_parse_now, metavar="ISO8601",
                        help="check as of this moment, e.g. 2026-11-23T10:05:00Z (default: now)")
    verify.set_defaults(handler=_verify)

    group = sub.add_parser("schemas", help="generate or check schemas/ (JSON Schema, AsyncAPI, "
                           "test vectors)")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write the generated tree",
        description="Writes JSON Schemas, asyncapi.yaml and test vectors; removes files that "
        "are no longer generated.",
    )
    export.add_argument("--dir", type=Path, default=DEFAULT_SCHEMAS_DIR,
                        help="target directory (default: schemas)")
    export.set_defaults(handler=_export)
    check = actions.add_parser(
        "check", help="fail when the tree differs from what export would write",
        description="Exit 0 when DIR is exactly what export would write; exit 1 listing every "
        "missing, different or extra file.",
    )
    check.add_argument("--dir", type=Path, default=DEFAULT_SCHEMAS_DIR,
                       help="directory to check (default: schemas)")
    check.set_defaults(handler=_check)


def _parse_now(text: str) -> datetime:
    """An aware ISO 8601 moment; ``Z`` is accepted. argparse turns ValueError into a usage line."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-23T10:05:00Z")
    return moment


_parse_now.__name__ = "ISO 8601 time with zone"


def _read(path: Path) -> bytes:
    """The bytes of ``path`` ('-' is stdin); an unreadable file is one clear error line."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _sign(args: argparse.Namespace) -> int:
    document = parse_document(_read(args.message))
    signed = sign_document(document, keys.load_private_key(args.key))
    print(json.dumps(signed, indent=2, ensure_ascii=False))
    return 0


def _verify(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    registry = load_registry(args.registry or settings.registry_path,
                             args.keys_dir or settings.keys_dir)
    raw = _read(args.message)
    now = args.now or datetime.now(UTC)
    try:
        limits = Limits(max_message_bytes=settings.max_message_bytes,
                        clock_skew_seconds=settings.clock_skew_seconds)
        result = authenticate(raw, None, registry, now, limits=limits, check_identity=False)
    except Refusal as refusal:
        print(f"refused: {refusal.reason.value}: {refusal.detail}")
        return 1
    envelope = result.envelope
    if envelope is None:  # pragma: no cover - authenticate() sets it or raises
        return 1
    print(f"ok: {envelope.type} {envelope.id} from {envelope.sender}, "
          f"key {envelope.signature.kid}")
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        paths = schemas.export(args.dir)
    except OSError as exc:
        raise HubError(f"cannot write {args.dir}: {exc}") from exc
    print(f"wrote {len(paths)} files under {args.dir}")
    return 0


def _check(args: argparse.Namespace) -> int:
    if not args.dir.is_dir():
        raise ConfigError(f"{args.dir} is not a directory; run: maatwerk-hub schemas export "
                          f"--dir {args.dir}")
    report = schemas.stale_report(args.dir)
    if not report:
        print(f"{args.dir}: up to date")
        return 0
    for rel, state in report:
        print(f"stale: {args.dir / rel} ({state})")
    print(f"{len(report)} stale file(s); run: maatwerk-hub schemas export --dir {args.dir}")
    return 1
