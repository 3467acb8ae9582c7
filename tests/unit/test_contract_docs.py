"""Issue 11: what an outside team reads agrees with the hub (points 1, 7, 8, 11, 12)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import jsonschema
import pytest
import yaml

from hub.contract.errors import Refusal
from hub.contract.messages import MESSAGE_SPECS, new_document, validate_document
from hub.contract.notary import NOTICE_NAMESPACE, notice_id

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
AGENCIES = ("belastingdienst", "cjib", "duo", "svb", "uwv")
# Draft 2020-12 keywords (core, applicator, validation, format, meta-data, content).
STANDARD = {
    "$schema", "$id", "$ref", "$defs", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor",
    "$vocabulary", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
    "prefixItems", "items", "contains", "properties", "patternProperties",
    "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties", "type",
    "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains",
    "minContains", "maxProperties", "minProperties", "required", "dependentRequired", "format",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
    "contentEncoding", "contentMediaType", "contentSchema",
}
EXTENSIONS = {"x-maatwerk", "x-data-category"}


def _schema(type_name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / "json" / f"{type_name}.schema.json").read_text()))


def _keywords(node: Any, under_properties: bool = False) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if not under_properties:
                found.add(key)
            if key == "x-maatwerk":
                continue  # an annotation: its content is data, not schema
            found |= _keywords(value, under_properties=key in ("properties", "$defs"))
    elif isinstance(node, list):
        for item in node:
            found |= _keywords(item)
    return found


def test_point_8_every_keyword_is_standard_or_a_documented_extension() -> None:
    """A strict validator (ajv) accepts the schemas once told about the documented keywords."""
    readme = (SCHEMAS / "README.md").read_text()
    for name in [*MESSAGE_SPECS, "registry"]:
        unknown = _keywords(_schema(name)) - STANDARD
        assert unknown <= EXTENSIONS, f"{name}: {unknown - EXTENSIONS}"
    for keyword in EXTENSIONS:
        assert f"ajv.addKeyword('{keyword}')" in readme


def test_point_8_receipts_answers_and_id_derivation_are_documented() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    assert str(NOTICE_NAMESPACE) in readme
    for spec in MESSAGE_SPECS.values():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{spec.type}` |"))
        assert ("| yes |" in row) == spec.needs_receipt
        assert _schema(spec.type)["x-maatwerk"]["needs_receipt"] == spec.needs_receipt
    asyncapi = (SCHEMAS / "asyncapi.yaml").read_text()
    assert "namespace and the name 'receipt'" in asyncapi
    valid = {p.stem: json.loads(p.read_text())["message"]
             for p in (SCHEMAS / "test-vectors" / "valid").glob("*.json")}
    request, response = valid["01-timeout.request"], valid["02-timeout.response"]
    assert response["id"] == str(uuid5(UUID(request["id"]), "timeout.response"))
    assert valid["04-receipt"]["id"] == str(uuid5(UUID(response["id"]), "receipt"))
    duplicate = valid["22-notice.duplicate"]
    assert duplicate["id"] == str(notice_id("duplicate", UUID(request["id"])))
    assert duplicate["id"] == str(uuid5(NOTICE_NAMESPACE, f"duplicate:{request['id']}"))


def test_point_7_inbox_binding_says_consume_without_declaring() -> None:
    document = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text())
    inbox = document["channels"]["inbox"]
    assert "Do not declare this queue; consume it as it is" in inbox["description"]
    assert "do not declare" in inbox["bindings"]["amqp"]["queue"]["x-declared-by"]


def test_point_11_agency_pages_say_the_policy_refuses() -> None:
    for agency in AGENCIES:
        text = (ROOT / "docs" / "adapters" / f"{agency}.md").read_text()
        assert "removes everything else" not in text
        assert "refuses, deny by default" in text
    for path in (ROOT / "docs").rglob("*.md"):
        assert not re.search(r"policy (removes|strips)", path.read_text()), path


def test_point_12_public_key_files_and_format_are_written_down() -> None:
    for path in (ROOT / "README.md", ROOT / "docs" / "adapters" / "README.md",
                 SCHEMAS / "README.md"):
        text = path.read_text()
        assert "KEYS_DIR/<participant id>.json" in text, path
        assert "participants[].keys[]" in text, path
        for field in ("kid", "public_key", "not_before", "not_after", "revoked_at"):
            assert field in text, (path, field)


def _response(body: dict[str, Any]) -> dict[str, Any]:
    document = new_document(type="timeout.response", sender="cjib", recipient="gm0193",
                            case_id="ZW-1", body=body, in_reply_to=UUID(int=1))
    document["signature"] = {"alg": "Ed25519", "kid": "A" * 22, "value": "A" * 86}
    return document


BODIES = [
    {"outcome": outcome, **dates, **scope, **reason}
    for outcome, dates, scope, reason in itertools.product(
        ["accepted", "partially_accepted", "declined"],
        [{}, {"effective_from": "2026-12-01"},
         {"effective_from": "2026-12-01", "effective_until": "2027-03-31"},
         {"effective_from": None, "effective_until": "2027-03-31"}],
        [{}, {"paused_scope": []}, {"paused_scope": ["collection"]}],
        [{}, {"reason_code": "legal_obstacle"}, {"reason_code": None}],
    )
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: json.dumps(b, sort_keys=True))
def test_point_1_timeout_response_schema_and_model_agree(body: dict[str, Any]) -> None:
    document = _response(body)
    validator = jsonschema.Draft202012Validator(
        _schema("timeout.response"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    schema_ok = validator.is_valid(document)
    try:
        validate_document(document)
        model_ok = True
    except Refusal as refusal:
        model_ok = False
        assert refusal.field_paths and all(p.startswith("/body/") for p in refusal.field_paths)
    assert schema_ok == model_ok
