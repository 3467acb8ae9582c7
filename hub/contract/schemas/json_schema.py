"""The JSON Schemas (draft 2020-12): one per message type, and one for the registry."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from hub.contract.bodies import CATEGORY_KEY
from hub.contract.identifiers import validate_bsn, validate_cbs_code
from hub.contract.messages import MESSAGE_MODELS, MESSAGE_SPECS, SCHEMA_VERSION, Purpose
from hub.contract.registry import RegistryDocument
from hub.contract.rules import rules_for
from hub.contract.schemas.body_rules import add_body_rules
from hub.contract.schemas.common import (
    BASE_URI,
    DIALECT,
    ENVELOPE_RULES,
    GENERATED,
    RECEIPT_ID_RULE,
    Files,
    json_bytes,
)

_IDENTIFIER_HINTS: dict[Any, dict[str, Any]] = {
    validate_bsn: {
        "pattern": "^[0-9]{9}$",
        "not": {"const": "000000000"},
        "description": (
            "BSN: 9 digits, not 000000000, passing the elfproef (weights 9..2, -1; listed rule "
            "bsn-elfproef, which a schema cannot express)."
        ),
    },
    validate_cbs_code: {
        "pattern": "^GM[0-9]{4}$",
        "description": "CBS municipality code, e.g. GM0193.",
    },
}


def _identifier_hints(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Schema additions for fields typed as a validated identifier (BSN, CBS code)."""
    hints: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        for meta in info.metadata:
            hint = _IDENTIFIER_HINTS.get(getattr(meta, "func", None))
            if hint is not None:
                hints[name] = hint
    return hints


def _add_identifier_hints(schema: dict[str, Any]) -> None:
    """Give BSN and CBS-code fields a pattern, which the validators alone do not publish."""
    bodies = {spec.body.__name__: spec.body for spec in MESSAGE_SPECS.values()}
    for def_name, definition in schema.get("$defs", {}).items():
        model = bodies.get(def_name)
        if model is None:
            continue
        for field_name, hint in _identifier_hints(model).items():
            definition["properties"][field_name].update(hint)


CASE_ID_RULE = {
    "not": {"pattern": "[0-9]{8}"},
    "description": (
        "Opaque case id; never a run of 8 or more digits (it could be a BSN)."
    ),
}


def _with_header(schema: dict[str, Any], file_name: str, title: str, description: str) -> Any:
    rest = {k: v for k, v in schema.items() if k not in ("title", "description")}
    return {
        "$schema": DIALECT,
        "$id": f"{BASE_URI}json/{file_name}",
        "title": title,
        "description": description,
        "$comment": GENERATED,
        **rest,
    }


def message_schema(type_name: str) -> dict[str, Any]:
    """The JSON Schema of one message type, with the contract facts the model alone cannot say."""
    spec = MESSAGE_SPECS[type_name]
    schema = MESSAGE_MODELS[type_name].model_json_schema()
    properties = schema["properties"]
    properties["purpose"] = {
        "enum": [p.value for p in Purpose if p in spec.purposes],
        "title": "Purpose",
        "type": "string",
        "description": "Why the data is exchanged; the purposes this message type allows.",
    }
    if spec.reply:
        properties["in_reply_to"] = {
            "format": "uuid",
            "title": "In Reply To",
            "type": "string",
            "description": "The id of the message this one answers.",
        }
        required: list[str] = schema["required"]
        required.insert(required.index("conversation_id") + 1, "in_reply_to")
    if '"#/$defs/Purpose"' not in json.dumps(schema):
        schema["$defs"].pop("Purpose", None)
    _add_identifier_hints(schema)
    add_body_rules(schema)
    properties["case_id"].update(CASE_ID_RULE)
    schema["x-maatwerk"] = {
        "type": spec.type,
        "schema_version": SCHEMA_VERSION,
        "purposes": [p.value for p in Purpose if p in spec.purposes],
        "reply": spec.reply,
        "needs_receipt": spec.needs_receipt,
        "responses": list(spec.responses),
        "data_category_key": CATEGORY_KEY,
        "receipt_id": RECEIPT_ID_RULE if spec.needs_receipt else None,
        "rules": [rule.published() for rule in rules_for(type_name)],
    }
    return dict(
        _with_header(
            schema, f"{type_name}.schema.json", f"{type_name} message",
            f"{spec.summary} {ENVELOPE_RULES}",
        )
    )


def registry_schema() -> dict[str, Any]:
    """The JSON Schema of the participant registry file (the Maatwerkregister)."""
    return dict(
        _with_header(
            RegistryDocument.model_json_schema(), "registry.schema.json",
            "Maatwerk Hub participant registry",
            "The Maatwerkregister: participants, contact points, broker users, public keys and "
            "the message types each may send and receive. Top-level keys starting with x- are "
            "ignored (they hold YAML anchors).",
        )
    )


def json_schema_files() -> Files:
    files = {f"json/{t}.schema.json": json_bytes(message_schema(t)) for t in MESSAGE_SPECS}
    files["json/registry.schema.json"] = json_bytes(registry_schema())
    return files

