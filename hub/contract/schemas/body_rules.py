"""The rules across body fields that the models check in a validator, in JSON Schema form.

A model validator is the rule; what is here says the same in draft 2020-12 (``if``/``then``,
``anyOf``, ``uniqueItems``), so that a standard validator refuses what the hub refuses. Each rule
is added to its body's definition under ``allOf`` with a ``$comment`` (the one sentence the schemas
README lists). ``tests/unit/test_schema_rules.py`` runs bodies through both and fails when the
model and the schema disagree. Rules no JSON Schema can carry (comparing two dates) are listed in
:mod:`hub.contract.rules` instead.
"""

from __future__ import annotations

from typing import Any

from hub.contract.bodies import Body, TimeoutResponse
from hub.contract.instruments import (
    ROLES_WITHOUT_APPROVAL,
    DeciderRole,
    DeviationRecord,
    InfoRefusal,
    InfoRequest,
    InfoResponse,
    RegisterUpdate,
)

_NOT_NULL = {"not": {"type": "null"}}


def _needs(*names: str) -> dict[str, Any]:
    """``then``: each of ``names`` is present and not null."""
    return {"required": list(names), "properties": {n: _NOT_NULL for n in names}}


def _when(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``if``: field ``name`` is present and matches ``schema`` (not vacuously true when absent)."""
    return {"properties": {name: schema}, "required": [name]}


_WITHOUT_CONTENT = {"additionalProperties": {"type": "null"}}  # every member null (or none)

BODY_RULES: dict[type[Body], list[dict[str, Any]]] = {
    TimeoutResponse: [
        {"if": _when("outcome", {"const": "declined"}), "then": _needs("reason_code"),
         "$comment": "A declined time-out needs a reason_code."},
        {"if": _when("outcome", {"enum": ["accepted", "partially_accepted"]}),
         "then": {
             "required": ["effective_from", "effective_until", "paused_scope"],
             "properties": {"effective_from": _NOT_NULL, "effective_until": _NOT_NULL,
                            "paused_scope": {"minItems": 1}},
         },
         "$comment": ("An accepted or partially accepted time-out names effective_from, "
                      "effective_until and what it pauses (paused_scope, not empty).")},
        {"if": _when("outcome", {"const": "partially_accepted"}), "then": _needs("reason_code"),
         "$comment": "A partially accepted time-out needs a reason_code for what is not."},
    ],
    DeviationRecord: [
        {"if": _when("decided_by_role", {"enum": [
            r.value for r in DeciderRole if r not in ROLES_WITHOUT_APPROVAL]}),
         "then": _needs("approval"),
         "$comment": ("A deviation needs the bestuurlijke approval (approval) unless "
                      "decided_by_role is "
                      + " or ".join(sorted(r.value for r in ROLES_WITHOUT_APPROVAL)) + ".")},
    ],
    InfoRequest: [
        {"properties": {"fields": {"uniqueItems": True}},
         "$comment": "Each field is asked once (fields has no duplicates)."},
    ],
    InfoResponse: [
        {"if": _when("outcome", {"const": "refused"}),
         "then": {"properties": {"items": {"anyOf": [{"type": "null"}, _WITHOUT_CONTENT]}}},
         "else": {"required": ["items"],
                  "properties": {"items": {"type": "object", "not": _WITHOUT_CONTENT}}},
         "$comment": ("An answered or partially answered response has items with at least one "
                      "member that is not null; a refused one has none.")},
        {"if": _when("outcome", {"const": "answered"}),
         "then": {"properties": {"refused_fields": {"maxItems": 0}}},
         "else": {"required": ["refused_fields"],
                  "properties": {"refused_fields": {"minItems": 1}}},
         "$comment": ("A partially answered or refused response lists refused_fields (not "
                      "empty); an answered one lists none.")},
        {"if": _when("refused_fields", {"minItems": 1}), "then": _needs("refusal_reason"),
         "$comment": "A response that refuses fields gives a refusal_reason."},
        {"if": _when("refusal_reason", {"const": InfoRefusal.NOT_ALLOWED_FOR_PURPOSE.value}),
         "then": _needs("rule"),
         "$comment": ("A refusal_reason not_allowed_for_purpose names the information rule "
                      "(rule).")},
    ],
    RegisterUpdate: [
        {"anyOf": [_needs(name) for name in RegisterUpdate.model_fields],
         "$comment": ("A register.update names at least one of "
                      + ", ".join(RegisterUpdate.model_fields) + " (not null).")},
    ],
}


def add_body_rules(schema: dict[str, Any]) -> None:
    """Put each body's rules under ``allOf`` in its definition in ``schema["$defs"]``."""
    by_name = {model.__name__: rules for model, rules in BODY_RULES.items()}
    for def_name, definition in schema.get("$defs", {}).items():
        rules = by_name.get(def_name)
        if rules:
            definition["allOf"] = rules


def body_rule_sentences(body: type[Body]) -> list[str]:
    """The one-sentence form of ``body``'s rules (for the README)."""
    return [str(rule["$comment"]) for rule in BODY_RULES.get(body, [])]
