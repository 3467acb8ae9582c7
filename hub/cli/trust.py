"""``maatwerk-hub trust authority|sign|show|verify``: the signed trust document.

``sign`` reads the registry, published keys, policy and agreements (the same sources as the hub),
validates them, and writes the next serial to MAATWERK_TRUST_FILE, signed with the
registry-authority key (``KEYS_DIR/private/registry-authority*.pem``, made by ``trust
authority``; never the hub's message-signing key). Running hubs serve the file at ``/trust``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.config import Settings
from hub.contract import keys, trust
from hub.contract.config_bundle import Sources
from hub.contract.errors import ConfigError, HubError
from hub.contract.messages import utc_now
from hub.contract.signing import b64url


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("trust", help="make, sign, show and verify the trust document",
                            description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    auth = actions.add_parser("authority", help="generate the registry-authority key pair")
    auth.add_argument("--keys-dir", type=Path, help="default: $MAATWERK_KEYS_DIR")
    auth.set_defaults(handler=_authority)
    sign = actions.add_parser("sign", help="sign the next serial of the trust document")
    sign.add_argument("--out", type=Path, help="default: $MAATWERK_TRUST_FILE")
    sign.add_argument("--valid-days", type=int, default=trust.DEFAULT_VALID_DAYS)
    sign.set_defaults(handler=_sign)
    show = actions.add_parser("show", help="print a trust document's header (not verified)")
    show.add_argument("file", type=Path, metavar="FILE")
    show.set_defaults(handler=_show)
    verify = actions.add_parser("verify", help="verify a trust document (exit 2 if refused)")
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument("--authority", required=True, metavar="PUBLIC_KEY",
                        help="the registry authority's public key, base64url")
    verify.set_defaults(handler=_verify)


def _authority(args: argparse.Namespace) -> int:
    keys_dir = args.keys_dir or Settings.from_env().keys_dir
    entry = keys.generate(keys_dir, trust.AUTHORITY)
    print(f"registry authority key {entry.kid}; public key (configure it in every adapter as "
          f"MAATWERK_TRUST_AUTHORITY): {entry.public_key}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    print(sign_next(Settings.from_env(), out=args.out, valid_days=args.valid_days))
    return 0


def sign_next(settings: Settings, *, out: Path | None = None,
              valid_days: int = trust.DEFAULT_VALID_DAYS) -> str:
    """Sign the next serial from ``settings``' sources into ``out`` (default
    MAATWERK_TRUST_FILE); the line to print."""
    out = out or settings.trust_file
    bundle = Sources(keys_dir=settings.keys_dir, registry_path=settings.registry_path,
                     policy_path=settings.policy_path,
                     agreements_path=settings.agreements_path).load()
    previous = 0
    if out.exists():
        try:
            previous = int(json.loads(out.read_text("utf-8"))["serial"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{out}: cannot read the previous serial: {exc}") from exc
    now = utc_now()
    entries = keys.read_public_entries(keys.public_keys_path(settings.keys_dir, trust.AUTHORITY))
    authority = keys.current_private_key(settings.keys_dir, trust.AUTHORITY, entries, now)
    document = trust.build(bundle, serial=previous + 1, issued_at=now, valid_days=valid_days)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(trust.sign(document, authority))
    tmp.replace(out)
    return (f"{out}: serial {previous + 1}, valid until {document['valid_until']}, "
            f"{len(document['participants'])} participants")


def resign_after_change(*, keys_dir: Path | None = None, registry_path: Path | None = None) -> None:
    """After ``participant`` or ``keys`` changed the registry or keys: sign and publish the next
    trust document when this machine holds the registry authority key (running hubs broadcast
    it as ``trust.update``); otherwise say that it was not re-signed and how to do it."""
    settings = Settings.from_env()
    changes: dict[str, Path] = {}
    if keys_dir is not None:
        changes["keys_dir"] = keys_dir
    if registry_path is not None:
        changes["registry_path"] = registry_path
    settings = settings.replace(**changes) if changes else settings
    public = keys.public_keys_path(settings.keys_dir, trust.AUTHORITY)
    how = ("run 'maatwerk-hub trust sign' where the registry authority key is "
           "(KEYS_DIR/private/registry-authority*.pem, made once by 'maatwerk-hub trust "
           "authority') to publish the change to every participant")
    if not public.exists():
        print(f"trust document not re-signed: no registry authority key in "
              f"{settings.keys_dir}; {how}")
        return
    try:
        print(f"trust document re-signed: {sign_next(settings)}")
    except HubError as exc:
        print(f"trust document not re-signed: {exc}; {how}")


def _show(args: argparse.Namespace) -> int:
    data = json.loads(args.file.read_text("utf-8"))
    print(json.dumps({k: v for k, v in data.items() if k != "participants"}, indent=2))
    print(f"participants: {', '.join(p['id'] for p in data.get('participants', []))}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    public = trust.authority_public_key(args.authority)
    document = trust.verify(args.file.read_bytes(), public, now=utc_now())
    print(f"{args.file}: valid, serial {document.serial}, signed by {b64url(public)[:8]}..., "
          f"valid until {document.valid_until.isoformat()}")
    return 0
