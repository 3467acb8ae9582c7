"""``maatwerk-hub policy diff OLD NEW``: what a policy change lets through, per recipient and type.

Rules are grouped by message type, recipient (an id or ``kind X``) and purpose. For each group the
allowed body fields are expanded to the leaf fields they cover; the diff lists the fields newly
allowed (with the new rules' legal grounds) and no longer allowed (with the old ones').
Validity windows are shown, not evaluated: a rule that starts later still counts as allowing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.contract.messages import MESSAGE_SPECS
from hub.contract.policy import Policy, Rule, field_categories


@dataclass
class GroupDiff:
    message_type: str
    recipient: str
    purpose: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added_grounds: list[str] = field(default_factory=list)
    removed_grounds: list[str] = field(default_factory=list)


def _key(rule: Rule) -> tuple[str, str, str]:
    purpose = rule.purpose.value if rule.purpose is not None else "(any)"
    return rule.message_type, rule.selector, purpose


def _fields(rules: list[Rule]) -> set[str]:
    covered: set[str] = set()
    for rule in rules:
        leaves = field_categories(MESSAGE_SPECS[rule.message_type].body)
        for allowed in rule.allow:
            covered.update(p for p in leaves if p == allowed or p.startswith(allowed + "."))
            covered.add(allowed)
    return covered


def _grounds(rules: list[Rule]) -> list[str]:
    return sorted({f"{r.id}: {r.legal_ground or r.reason}" for r in rules})


def diff(old: Policy, new: Policy) -> list[GroupDiff]:
    groups: dict[tuple[str, str, str], tuple[list[Rule], list[Rule]]] = {}
    for rule in old.document.rules:
        groups.setdefault(_key(rule), ([], []))[0].append(rule)
    for rule in new.document.rules:
        groups.setdefault(_key(rule), ([], []))[1].append(rule)
    result = []
    for (message_type, recipient, purpose), (before, after) in sorted(groups.items()):
        was, now = _fields(before), _fields(after)
        if was == now:
            continue
        result.append(GroupDiff(
            message_type=message_type, recipient=recipient, purpose=purpose,
            added=sorted(now - was), removed=sorted(was - now),
            added_grounds=_grounds(after) if now - was else [],
            removed_grounds=_grounds(before) if was - now else []))
    return result


def render(old: Policy, new: Policy) -> str:
    lines = [f"policy {old.version} -> {new.version}"]
    changes = diff(old, new)
    for change in changes:
        lines.append(f"{change.message_type} to {change.recipient} (purpose {change.purpose}):")
        if change.added:
            lines.append(f"  newly allowed: {', '.join(change.added)}")
            lines.extend(f"    ground {g}" for g in change.added_grounds)
        if change.removed:
            lines.append(f"  no longer allowed: {', '.join(change.removed)}")
            lines.extend(f"    was {g}" for g in change.removed_grounds)
    if not changes:
        lines.append("no change in what reaches any recipient")
    return "\n".join(lines)
