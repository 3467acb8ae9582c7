"""``maatwerk-hub tokens``: the HTTP clients' token file (hashes only; see hub.contract.tokens)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hub.contract.tokens import ROLES, TokenFile

DEFAULT_FILE = "var/http-tokens.yaml"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "tokens", help="HTTP clients and their tokens (console, /metrics, municipality API)",
        description="Manage the token file named by MAATWERK_HTTP_TOKENS (the hub) or "
        "MAATWERK_ADAPTER_HTTP_TOKENS (the municipality API). The file holds SHA-256 hashes "
        "only; a new token is printed once and cannot be shown again.")
    parser.add_argument("--file", type=Path, default=None,
                        help=f"token file (default: $MAATWERK_HTTP_TOKENS or {DEFAULT_FILE})")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create (or replace) a client's token; prints it once",
                             description="Roles: metrics (/metrics), viewer (read-only: "
                             "console, /cases, /overdue, municipality GETs and pre-check), "
                             "operator (also publishing on the municipality API).")
    add.add_argument("client", metavar="CLIENT", help="client id, e.g. prometheus or zaaksysteem")
    add.add_argument("--role", required=True, choices=ROLES)
    add.set_defaults(handler=_add)
    remove = actions.add_parser("remove", help="revoke a client's token (effective at once)")
    remove.add_argument("client", metavar="CLIENT")
    remove.set_defaults(handler=_remove)
    listing = actions.add_parser("list", help="clients, roles and creation times (no tokens)")
    listing.set_defaults(handler=_list)


def _path(args: argparse.Namespace) -> Path:
    if args.file is not None:
        return Path(args.file)
    return Path(os.environ.get("MAATWERK_HTTP_TOKENS") or DEFAULT_FILE)


def _add(args: argparse.Namespace) -> int:
    tokens, token = TokenFile.load(_path(args), missing_ok=True).add(args.client, args.role)
    tokens.save()
    print(f"client {args.client} ({args.role}) written to {tokens.path}; its token, shown this "
          f"once:", file=sys.stderr)
    print(token)
    return 0


def _remove(args: argparse.Namespace) -> int:
    TokenFile.load(_path(args)).remove(args.client).save()
    print(f"client {args.client} removed")
    return 0


def _list(args: argparse.Namespace) -> int:
    tokens = TokenFile.load(_path(args), missing_ok=True)
    for c in tokens.clients:
        print(f"{c.id:<24} {c.role:<9} created {c.created}")
    print(f"{len(tokens.clients)} clients in {tokens.path}")
    return 0
