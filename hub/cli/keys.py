"""``maatwerk-hub keys``: generate and revoke participant key pairs."""

from __future__ import annotations

import argparse
from pathlib import Path

from hub.config import Settings
from hub.contract import keys


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

    rev = actions.add_parser("revoke", help="mark a published key revoked from now")
    rev.add_argument("participant", metavar="PARTICIPANT")
    rev.add_argument("kid", metavar="KID")
    rev.add_argument("--keys-dir", type=Path, help="default: $MAATWERK_KEYS_DIR or ./keys")
    rev.set_defaults(handler=_revoke)


def _keys_dir(args: argparse.Namespace) -> Path:
    return args.keys_dir or Settings.from_env().keys_dir


def _generate(args: argparse.Namespace) -> int:
    entry = keys.generate(_keys_dir(args), args.participant, valid_days=args.valid_days)
    print(f"{args.participant}: kid {entry.kid}, valid until {entry.not_after.date().isoformat()}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    keys.revoke(_keys_dir(args), args.participant, args.kid)
    print(f"{args.participant}: key {args.kid} revoked")
    return 0
