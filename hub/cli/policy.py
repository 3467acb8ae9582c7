"""``maatwerk-hub policy``: check the data-sharing policy and explain what it does to a message."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from hub.config import Settings
from hub.contract.errors import ConfigError
from hub.contract.messages import Purpose, parse_document
from hub.contract.policy import Policy, check_policy, load_policy
from hub.contract.registry import Registry, load_registry


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("policy", help="check the data-sharing policy; explain a message")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    check = actions.add_parser(
        "check", help="validate a policy against the registry (exit 1 on any error)",
        description="Load a policy, report unreachable and contradictory rules (errors), expired "
                    "rules and receivers without a rule (warnings). Exit 1 on an error.",
    )
    check.add_argument("policy", metavar="FILE", type=Path, nargs="?",
                       help="policy YAML (default: $MAATWERK_POLICY or the embedded default)")
    check.add_argument("--registry", type=Path, help="default: $MAATWERK_REGISTRY or the demo")
    check.set_defaults(handler=_check)

    explain = actions.add_parser(
        "explain", help="show per body field whether the policy lets it through",
        description="Print every present body field of MESSAGE.json with its data category and "
                    "whether it is allowed (by which rule) or refused (why). The message need not "
                    "be signed. Exit 0 when the whole message would pass, 1 otherwise.",
    )
    explain.add_argument("message", metavar="MESSAGE.json", type=Path)
    explain.add_argument("--policy", type=Path, help="default: $MAATWERK_POLICY or embedded")
    explain.add_argument("--registry", type=Path, help="default: $MAATWERK_REGISTRY or the demo")
    explain.add_argument("--at", metavar="ISO", help="evaluate at this time (default: now, UTC)")
    explain.set_defaults(handler=_explain)

    diff = actions.add_parser(
        "diff", help="per recipient and type: fields newly allowed and no longer allowed",
        description="Compare two policy files: for each message type, recipient and purpose, "
                    "the body fields the new policy newly allows (with its legal grounds) and no "
                    "longer allows (with the old grounds). Exit 0 either way.",
    )
    diff.add_argument("old", metavar="OLD", type=Path)
    diff.add_argument("new", metavar="NEW", type=Path)
    diff.set_defaults(handler=_diff)


def _diff(args: argparse.Namespace) -> int:
    from hub.contract.policy_diff import render

    print(render(load_policy(args.old), load_policy(args.new)))
    return 0


def _sources(args: argparse.Namespace, policy_path: Path | None) -> tuple[Policy, Registry]:
    settings = Settings.from_env()
    registry = load_registry(args.registry or settings.registry_path, settings.keys_dir)
    return load_policy(policy_path or settings.policy_path), registry


def _check(args: argparse.Namespace) -> int:
    try:
        policy, registry = _sources(args, args.policy)
    except ConfigError as exc:
        print(f"maatwerk-hub: {exc}", file=sys.stderr)
        return 1
    findings = check_policy(policy, registry)
    for f in findings:
        print(f"{f.level:<7} {f.rule or '-'}: {f.text}")
    errors = sum(f.level == "error" for f in findings)
    print(f"policy {policy.version} (published {policy.published}): {len(policy.rules)} rules, "
          f"{errors} errors, {len(findings) - errors} warnings (registry {registry.version})")
    return 1 if errors else 0


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--at {value!r}: expected an ISO 8601 date or time") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _explain(args: argparse.Namespace) -> int:
    at = _parse_at(args.at)
    try:
        raw = args.message.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.message}: cannot read: {exc.strerror}") from exc
    document = parse_document(raw)
    policy, registry = _sources(args, args.policy)
    lines = policy.explain(document, registry, at)
    recipient = registry.get(str(document.get("recipient")))
    if recipient is None:  # explain() has refused this already
        raise ConfigError(f"recipient {document.get('recipient')!r} is not in the registry")
    rule = policy.rule_for(document["type"], Purpose(document["purpose"]), recipient, at)
    print(f"{document['type']} to {recipient.id} ({recipient.kind}) for {document['purpose']}, "
          f"policy {policy.version}: " + (f"rule {rule.id}" if rule else "NO RULE applies"))
    width = max((len(x.path) for x in lines), default=4)
    for x in lines:
        verdict = f"ALLOWED by rule {x.rule}" if x.allowed else f"REFUSED: {x.why}"
        category = x.category.value if x.category else "unknown"
        print(f"  {x.path:<{width}}  {category:<11}  {verdict}")
    passes = rule is not None and all(x.allowed for x in lines)
    print("the message would pass" if passes else "the message would be refused")
    return 0 if passes else 1
