"""``maatwerk-hub register``: read the participant registry (the Maatwerkregister)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.config import Settings
from hub.contract.errors import ConfigError
from hub.contract.registry import Registry, load_registry


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("register", help="list and show registry participants")
    parser.add_argument("--registry", type=Path, help="default: $MAATWERK_REGISTRY or the demo")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = actions.add_parser("list", help="one line per participant")
    lst.add_argument("--json", action="store_true", help="print JSON instead")
    lst.set_defaults(handler=_list)
    show = actions.add_parser("show", help="everything the registry says of one participant")
    show.add_argument("participant", metavar="ID")
    show.set_defaults(handler=_show)


def registry_from_args(args: argparse.Namespace) -> Registry:
    settings = Settings.from_env()
    return load_registry(getattr(args, "registry", None) or settings.registry_path,
                         settings.keys_dir)


def _list(args: argparse.Namespace) -> int:
    registry = registry_from_args(args)
    participants = registry.document.participants
    if args.json:
        print(json.dumps([p.model_dump(mode="json") for p in participants], indent=2))
        return 0
    for p in participants:
        print(f"{p.id:<16} {p.kind:<13} {p.contact.email:<36} {p.contact.phone:<18} {p.name}")
    return 0


def _show(args: argparse.Namespace) -> int:
    participant = registry_from_args(args).get(args.participant)
    if participant is None:
        raise ConfigError(f"no participant {args.participant!r} in the registry")
    print(json.dumps(participant.model_dump(mode="json"), indent=2))
    return 0
