"""``maatwerk-hub participant add|suspend|resume|remove``: join and leave without restarts.

Each command edits the registry file (``MAATWERK_REGISTRY`` or ``--registry``) atomically after
validating the whole new registry; every running hub replica picks the change up within
``MAATWERK_RELOAD_SECONDS`` (:mod:`hub.ops.reload`), declares a new participant's inbox and
decides under the new registry. The file is rewritten from its parsed content: comments and
YAML anchors are not kept.

- ``add FILE``: FILE holds one registry entry (YAML). Creates its broker user with least
  privilege (publish to the inbound exchange, read its own inbox, configure nothing) and its
  inbox, then adds the entry. Its public key is published with ``keys generate`` (dev) or by
  the operator from the participant's own submission, as ``KEYS_DIR/<id>.json``.
- ``suspend ID``: its messages (sent and addressed to it) are refused ``participant_suspended``;
  its inbox and broker user are kept. ``resume ID`` undoes it.
- ``remove ID``: drops the entry and deletes its broker user; the inbox is kept for the
  operator to drain.

Each command then re-signs the trust document (next serial to ``MAATWERK_TRUST_FILE``, which
running hubs broadcast as ``trust.update``) when the registry authority key is in
``KEYS_DIR/private/``; otherwise it says that the document was not re-signed and how to do it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import aio_pika
import yaml
from pydantic import ValidationError

from hub.cli.trust import resign_after_change
from hub.config import Settings
from hub.contract import names
from hub.contract.errors import ConfigError
from hub.contract.registry import (
    Participant,
    RegistryDocument,
    describe_errors,
    read_yaml,
    strip_extensions,
)
from hub.contract.tls import connect_kwargs
from hub.core import topology
from hub.core.broker_admin import (
    DEFAULT_MANAGEMENT_URL,
    BrokerAdmin,
    load_passwords,
    permissions_for,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("participant", help="add, suspend, resume or remove a participant",
                            description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser, broker: bool) -> None:
        p.add_argument("--registry", type=Path, help="default: $MAATWERK_REGISTRY")
        if broker:
            p.add_argument("--management-url", default=DEFAULT_MANAGEMENT_URL)
            p.add_argument("--vhost", default="/")
            p.add_argument("--passwords", type=Path, default=Path("var/broker-passwords.json"),
                           help="JSON map user -> password; a new user gets a random one (0600)")
            p.add_argument("--amqp-url", help="default: $AMQP_URL (declares the inbox)")

    add = actions.add_parser("add", help="validate an entry, create its broker user and inbox, "
                             "publish the new registry")
    add.add_argument("file", type=Path, metavar="FILE", help="YAML file with one entry")
    common(add, broker=True)
    add.set_defaults(handler=_add)
    for name, handler, text in (("suspend", _suspend, "refuse its messages, keep its inbox"),
                                ("resume", _resume, "end a suspension"),
                                ("remove", _remove, "drop it and its broker user, keep inbox")):
        action = actions.add_parser(name, help=text)
        action.add_argument("participant", metavar="ID")
        common(action, broker=name == "remove")
        action.set_defaults(handler=handler)


def _registry_path(args: argparse.Namespace) -> Path:
    path: Path | None = args.registry or Settings.from_env().registry_path
    if path is None:
        raise ConfigError("name the registry file: --registry or MAATWERK_REGISTRY (the embedded "
                          "demo registry cannot be edited)")
    return path


def _read(path: Path) -> dict[str, Any]:
    _, raw = read_yaml(path, "registry.yaml")
    raw = strip_extensions(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("participants"), list):
        raise ConfigError(f"{path}: not a registry (no participants list)")
    return raw


def _write(path: Path, raw: dict[str, Any]) -> RegistryDocument:
    """Validate the whole registry, then replace the file atomically."""
    try:
        document = RegistryDocument.model_validate_json(json.dumps(raw, default=str))
    except ValidationError as exc:
        raise ConfigError(describe_errors(str(path), raw, exc, "participants")) from exc
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(json.loads(json.dumps(raw, default=str)), sort_keys=False,
                                  allow_unicode=True))
    tmp.replace(path)
    return document


def _entry(raw: dict[str, Any], participant_id: str) -> dict[str, Any]:
    for entry in raw["participants"]:
        if isinstance(entry, dict) and entry.get("id") == participant_id:
            return entry
    raise ConfigError(f"{participant_id} is not in the registry")


def _add(args: argparse.Namespace) -> int:
    path = _registry_path(args)
    raw = _read(path)
    _, entry = read_yaml(args.file, "registry.yaml")
    if not isinstance(entry, dict):
        raise ConfigError(f"{args.file}: one registry entry (a mapping) expected")
    try:
        participant = Participant.model_validate_json(json.dumps(entry, default=str))
    except ValidationError as exc:
        raise ConfigError(describe_errors(str(args.file), entry, exc, "participants")) from exc
    if participant.kind == "hub":
        raise ConfigError("a second hub cannot be added")
    candidate = {**raw, "participants": [*raw["participants"], entry]}
    try:  # validate everything (unique id and broker user) before touching the broker
        RegistryDocument.model_validate_json(json.dumps(candidate, default=str))
    except ValidationError as exc:
        raise ConfigError(describe_errors(str(path), candidate, exc, "participants")) from exc
    settings = Settings.from_env()
    amqp_url = args.amqp_url or settings.amqp_url
    password = load_passwords(args.passwords, [participant.broker_user])[participant.broker_user]

    async def provision() -> None:
        async with BrokerAdmin(args.management_url) as admin:
            await admin.ensure_user(participant.broker_user, password)
            await admin.set_permissions(args.vhost, participant.broker_user,
                                        permissions_for(participant))
        connection = await aio_pika.connect(amqp_url, **connect_kwargs(amqp_url, settings.tls))
        async with connection:
            channel = await connection.channel()
            deliver = await channel.get_exchange(names.DELIVER_EXCHANGE)
            await topology.declare_inbox(channel, deliver, participant.id,
                                         settings.delivery_limit)

    asyncio.run(provision())
    _write(path, candidate)
    print(f"{participant.id}: broker user {participant.broker_user} (password in "
          f"{args.passwords}), inbox {names.inbox(participant.id)}; registry {path} updated; "
          "running hubs pick it up within MAATWERK_RELOAD_SECONDS")
    if not participant.admitted:
        print(f"{participant.id}: not admitted to the Maatwerkregister yet: its messages are "
              "refused (participant_not_admitted) until its entry records a mandate")
    resign_after_change(registry_path=path)
    return 0


def _set_status(args: argparse.Namespace, status: str) -> int:
    path = _registry_path(args)
    raw = _read(path)
    _entry(raw, args.participant)["status"] = status
    _write(path, raw)
    print(f"{args.participant}: {status}")
    resign_after_change(registry_path=path)
    return 0


def _suspend(args: argparse.Namespace) -> int:
    return _set_status(args, "suspended")


def _resume(args: argparse.Namespace) -> int:
    return _set_status(args, "active")


def _remove(args: argparse.Namespace) -> int:
    path = _registry_path(args)
    raw = _read(path)
    entry = _entry(raw, args.participant)
    if entry.get("kind") == "hub":
        raise ConfigError("the hub cannot be removed")
    raw["participants"] = [e for e in raw["participants"] if e is not entry]
    _write(path, raw)

    async def delete_user() -> None:
        async with BrokerAdmin(args.management_url) as admin:
            await admin.delete_user(str(entry["broker_user"]))

    asyncio.run(delete_user())
    print(f"{args.participant}: removed, broker user {entry['broker_user']} deleted, inbox "
          f"{names.inbox(args.participant)} kept")
    resign_after_change(registry_path=path)
    return 0
