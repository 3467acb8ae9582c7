"""Issue 11: every rule of the models is in the schemas or listed (x-maatwerk.rules), and both say
the same as the hub.

For each body with rules across fields, a grid of bodies goes through a standard validator plus
the listed rules (``standard_verdict`` of test_vector_agreement) and through the hub's models:
they must agree on every one. And every integer in every message accepts a zero fraction.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from hub.contract.errors import Refusal
from hub.contract.messages import MESSAGE_MODELS, MESSAGE_SPECS, new_document, validate_document
from hub.contract.schemas.body_rules import BODY_RULES
from tests.unit.test_vector_agreement import standard_verdict

PARTIES = {"deviation.record": ("gm0193", "loket"), "info.request": ("gm0193", "cjib"),
           "info.response": ("cjib", "gm0193"), "timeout.suspend": ("cjib", "gm0193"),
           "register.update": ("gm0193", "hub"), "timeout.response": ("cjib", "gm0193")}


def _message(type_name: str, body: dict[str, Any]) -> dict[str, Any]:
    sender, recipient = PARTIES[type_name]
    reply = UUID(int=1) if MESSAGE_SPECS[type_name].reply else None
    document = new_document(type=type_name, sender=sender, recipient=recipient, case_id="ZW-1",
                            body=body, in_reply_to=reply)
    document["signature"] = {"alg": "Ed25519", "kid": "A" * 22, "value": "A" * 86}
    return document


def _absent(body: dict[str, Any]) -> dict[str, Any]:
    """``...`` marks a field left out."""
    return {k: v for k, v in body.items() if v is not ...}


def _grid(**choices: list[Any]) -> list[dict[str, Any]]:
    return [_absent(dict(zip(choices, values, strict=True)))
            for values in itertools.product(*choices.values())]


DEVIATION = {"rule": {"law": "participatiewet", "article": "58"},
             "decision_code": "recovery_deferred", "decision_text": "Uitgesteld.",
             "legal_ground": {"law": "awb", "article": "4:84"}}
APPROVAL = {"reference": "BA-1", "approved_on": "2026-01-15"}
CASES: list[tuple[str, dict[str, Any]]] = [
    *(("deviation.record", {**DEVIATION, **b}) for b in _grid(
        decided_by_role=["teamleider", "board", "director"], approval=[..., None, APPROVAL],
        period_from=["2026-12-01"], period_until=["2026-11-30", "2026-12-01", "2027-01-01"],
        amount_cents=[..., 12500, 12500.0, 12500.5, -1])),
    *(("info.request", {"bsn": "123456782", "purpose_code": "debt_overview",
                        "legal_ground": "pmm-afstemming", **b})
      for b in _grid(fields=[[], ["contact"], ["contact", "debt_references"],
                             ["contact", "contact"], ["contact", "debt_references", "contact"]])),
    *(("info.response", b) for b in _grid(
        outcome=["answered", "partially_answered", "refused"],
        items=[..., None, {}, {"debt_total_cents": None}, {"debt_total_cents": 1.0},
               {"debt_references": []}],
        refused_fields=[..., [], ["contact"]],
        refusal_reason=[..., None, "not_held", "not_allowed_for_purpose"],
        rule=[..., "info-x"])),
    *(("timeout.response", b) for b in _grid(
        outcome=["accepted", "partially_accepted", "declined"],
        effective_from=[..., None, "2026-12-01"], effective_until=[..., "2026-11-30", "2027-03-31"],
        paused_scope=[..., [], ["collection"]], reason_code=[..., None, "no_legal_room"])),
    *(("timeout.suspend", b) for b in _grid(
        suspended_from=["2027-01-10"], reason_code=["new_debts"],
        resume_on=[..., None, "2027-01-09", "2027-01-10", "2027-01-11"])),
    *(("register.update", b) for b in _grid(
        contact_point=[..., None, "Loket"], email=[..., None, "a@b.nl"],
        phone=[..., None, "+31 38 000 0000"])),
]


@pytest.mark.parametrize(("type_name", "body"), CASES,
                         ids=[f"{t}:{json.dumps(b, sort_keys=True)}" for t, b in CASES])
def test_schema_listed_rules_and_model_agree(type_name: str, body: dict[str, Any]) -> None:
    message = _message(type_name, body)
    predicted, _ = standard_verdict(message)
    try:
        validate_document(message)
        model_ok = True
    except Refusal as refusal:
        model_ok = False
        assert refusal.field_paths and all(p.startswith("/body/") for p in refusal.field_paths)
    assert (predicted is None) == model_ok, f"schema and listed rules: {predicted}"


def test_every_body_rule_belongs_to_a_message_body_and_has_a_sentence() -> None:
    bodies = {spec.body for spec in MESSAGE_SPECS.values()}
    for body, rules in BODY_RULES.items():
        assert body in bodies, body
        assert all(rule["$comment"].endswith(".") for rule in rules), body
    cases = {t for t, _ in CASES}
    assert {t for t, s in MESSAGE_SPECS.items() if s.body in BODY_RULES} <= cases


# -- whole numbers ---------------------------------------------------------------------------------

def _int_leaves(annotation: Any, metadata: tuple[Any, ...], path: str) -> Iterator[
        tuple[str, tuple[Any, ...]]]:
    """Every place an ``int`` is validated in ``annotation``: its path and its validators."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        yield from _int_leaves(base, (*metadata, *extra), path)
    elif annotation is int:
        yield path, metadata
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            yield from _int_leaves(info.annotation, tuple(info.metadata), f"{path}/{name}")
    elif origin in (Union, UnionType):
        for arg in get_args(annotation):
            yield from _int_leaves(arg, metadata, path)
    elif origin in (list, tuple, dict):  # the field's constraints are the container's
        for arg in get_args(annotation):
            yield from _int_leaves(arg, (), f"{path}/*")


LEAVES = sorted({(f"{t}{path}", meta) for t, model in MESSAGE_MODELS.items()
                 for path, meta in _int_leaves(model, (), "")}, key=lambda leaf: leaf[0])


def test_the_walk_finds_the_integers() -> None:
    paths = {path for path, _ in LEAVES}
    for path in ("timeout.request/body/requested_months", "bridging.repaid/body/amount_cents",
                 "timeout.request/body/references/toeslagen_years/*",
                 "info.response/body/items/debt_total_cents",
                 "deviation.record/body/amount_cents"):
        assert path in paths


@pytest.mark.parametrize(("path", "metadata"), LEAVES, ids=[path for path, _ in LEAVES])
def test_every_integer_accepts_a_zero_fraction(path: str, metadata: tuple[Any, ...]) -> None:
    """JSON Schema counts 4.0 as an integer and RFC 8785 writes it 4: the hub accepts it too
    (a bound may still refuse the value; a type error may not)."""
    adapter: TypeAdapter[int] = TypeAdapter(Annotated[int, *metadata],
                                            config=ConfigDict(strict=True))
    for value in (0.0, 1.0, 2026.0, 125000.0):
        try:
            assert adapter.validate_python(value) == int(value)
        except ValidationError as exc:
            assert {e["type"] for e in exc.errors()} & {"int_type", "int_from_float"} == set()
    with pytest.raises(ValidationError):
        adapter.validate_python(4.5)
