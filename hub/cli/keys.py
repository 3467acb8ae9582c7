"""``maatwerk-hub keys``: generate, rotate and revoke participant key pairs."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.cli.trust import resign_after_change
from hub.config import Settings
from hub.contract import keys
from hub.contract.key_submission import make_request, verify_request
from hub.contract.messages import utc_now


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("keys", help="generate and revoke participant keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    gen = actions.add_parser(
        "generate", help="make an Ed25519 key pair for a participant",
        description="Writes KEYS_DIR/private/ID.pem (mode 0600) and publishes the public key in "
        "KEYS_DIR/ID.json, where the registry loader finds it.",
    )
    gen.add_argument("participant", metavar="PARTICIPANT")
    gen.add_argument("--keys-dir", type=Path, help="default: $MAATWERK_KEYS_DIR or ./keys")
    gen.add_argument("--valid-days", type=int, default=keys.DEFAULT_VALID_DAYS)
    gen.set_defaults(handler=_generate)

    rot = actions.add_parser(
        "rotate", help="make the next key pair; the old keys stay valid until their end",
        description="Writes KEYS_DIR/private/ID.KID.pem (0600) and adds the new public key to "
        "KEYS_DIR/ID.json. Running hubs pick it up within MAATWERK_RELOAD_SECONDS; messages "
        "signed under the old key are accepted until its not_after (the overlap). Revoke the "
        "old key with 'keys revoke' when every signer uses the new one. With the registry "
        "authority key in KEYS_DIR/private/, the trust document is re-signed and published.",
    )
    rot.add_argument("participant", metavar="PARTICIPANT")
    rot.add_argument("--keys-dir", type=Path, help="default: $MAATWERK_KEYS_DIR or ./keys")
    rot.add_argument("--valid-days", type=int, default=keys.DEFAULT_VALID_DAYS)
    rot.add_argument("--not-before", type=_time, help="ISO 8601 time the new key becomes "
                     "valid (default: now)")
    rot.set_defaults(handler=_rotate)

    rev = actions.add_parser(
        "revoke", help="mark a published key revoked (from now or --at TIME)",
        description="Messages signed under the key are refused key_revoked from that time; "
        "running hubs pick the change up within MAATWERK_RELOAD_SECONDS. With the registry "
        "authority key in KEYS_DIR/private/, the trust document is re-signed and published.")
    rev.add_argument("participant", metavar="PARTICIPANT")
    rev.add_argument("kid", metavar="KID", help="the key's kid; a kid may begin with '-' "
                     "(base64url), so put it last, after '--': keys revoke cjib --at TIME -- KID")
    rev.add_argument("--at", type=_time, help="ISO 8601 time of the revocation (default: now)")
    rev.add_argument("--keys-dir", type=Path, help="default: $MAATWERK_KEYS_DIR or ./keys")
    rev.set_defaults(handler=_revoke)


    sub_ = actions.add_parser(
        "submit", help="participant side: make a key pair here and write a signed request",
        description="Writes KEYS_DIR/private/ID.KID.pem (0600) and REQUEST (default "
        "ID.KID.key-request.json): the public key, signed with the new key itself (proof of "
        "possession). Send REQUEST to the operator; the private key never leaves.")
    sub_.add_argument("participant", metavar="PARTICIPANT")
    sub_.add_argument("--keys-dir", type=Path, help="default: $MAATWERK_KEYS_DIR or ./keys")
    sub_.add_argument("--valid-days", type=int, default=keys.DEFAULT_VALID_DAYS)
    sub_.add_argument("--out", type=Path, metavar="REQUEST")
    sub_.set_defaults(handler=_submit)
    acc = actions.add_parser(
        "accept", help="operator side: verify a key request and publish its public key",
        description="Verifies that REQUEST is signed with the key it submits, then adds the key "
        "to KEYS_DIR/ID.json (running hubs pick it up) and re-signs the trust document when "
        "the registry authority key is here.")
    acc.add_argument("request", type=Path, metavar="REQUEST")
    acc.add_argument("--keys-dir", type=Path, help="default: $MAATWERK_KEYS_DIR or ./keys")
    acc.set_defaults(handler=_accept)


def _keys_dir(args: argparse.Namespace) -> Path:
    return args.keys_dir or Settings.from_env().keys_dir


def _generate(args: argparse.Namespace) -> int:
    entry = keys.generate(_keys_dir(args), args.participant, valid_days=args.valid_days)
    print(f"{args.participant}: kid {entry.kid}, valid until {entry.not_after.date().isoformat()}")
    return 0


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a time zone (e.g. Z or +01:00)")
    return moment


def _rotate(args: argparse.Namespace) -> int:
    entry = keys.rotate(_keys_dir(args), args.participant, valid_days=args.valid_days,
                        not_before=args.not_before)
    print(f"{args.participant}: new kid {entry.kid}, valid {entry.not_before.isoformat()} to "
          f"{entry.not_after.isoformat()}; the old keys stay valid until their end")
    resign_after_change(keys_dir=_keys_dir(args))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    keys.revoke(_keys_dir(args), args.participant, args.kid, now=args.at)
    when = args.at.isoformat() if args.at else "now"
    print(f"{args.participant}: key {args.kid} revoked from {when}")
    resign_after_change(keys_dir=_keys_dir(args))
    return 0


def _submit(args: argparse.Namespace) -> int:
    keys_dir = _keys_dir(args)
    key = Ed25519PrivateKey.generate()
    entry = keys.public_entry(key, not_before=utc_now(), valid_days=args.valid_days)
    keys.write_private_key(keys.private_key_path(keys_dir, args.participant, entry.kid), key)
    out: Path = args.out or Path(f"{args.participant}.{entry.kid}.key-request.json")
    out.write_bytes(make_request(args.participant, key, entry, utc_now()))
    print(f"{args.participant}: new kid {entry.kid}; send {out} to the hub operator "
          "('maatwerk-hub keys accept'); the private key stays in "
          f"{keys.private_key_path(keys_dir, args.participant, entry.kid)}")
    return 0


def _accept(args: argparse.Namespace) -> int:
    keys_dir = _keys_dir(args)
    participant, entry = verify_request(args.request.read_bytes(), utc_now())
    path = keys.public_keys_path(keys_dir, participant)
    entries = keys.read_public_entries(path)
    if any(e.kid == entry.kid for e in entries):
        print(f"{participant}: key {entry.kid} is published already")
        return 0
    keys.write_public_entries(path, [*entries, entry])
    print(f"{participant}: key {entry.kid} (proof of possession verified) published in {path}")
    resign_after_change(keys_dir=keys_dir)
    return 0
