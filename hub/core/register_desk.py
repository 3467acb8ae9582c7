"""The Maatwerkregister's answers: the registry file's entries with the contact overrides that
participants published themselves (``register.update``, kept in :mod:`hub.state.register_contacts`).

Only admitted participants are listed: a municipality without a mandate is not in the register's
answers (it is not active), and the hub itself never is.
"""

from __future__ import annotations

from typing import Any

from hub.contract.registry import Registry

CONTACT_FIELDS = ("contact_point", "email", "phone")


def apply_update(current: dict[str, str], update: Any) -> dict[str, str]:
    """``current`` overrides with the fields that ``update`` (a RegisterUpdate body) names."""
    return {**current, **{k: getattr(update, k) for k in CONTACT_FIELDS
                          if getattr(update, k, None) is not None}}


def entries(registry: Registry, overrides: dict[str, dict[str, str]], *, ids: set[str],
            kinds: set[str]) -> list[dict[str, Any]]:
    """``register.answer`` entries matching ``ids`` and ``kinds`` (empty: all)."""
    out = []
    for p in registry.document.participants:
        if p.kind == "hub" or not p.admitted:
            continue
        if (ids and p.id not in ids) or (kinds and p.kind not in kinds):
            continue
        contact = {"contact_point": p.contact.contact_point, "email": p.contact.email,
                   "phone": p.contact.phone, **overrides.get(p.id, {})}
        out.append({"id": p.id, "name": p.name, "kind": p.kind, **contact})
    return out
