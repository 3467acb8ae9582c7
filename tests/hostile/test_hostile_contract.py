"""Hostile input the schema lets through: agency reference fields take any string."""

from __future__ import annotations

import pytest

from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import parse_document, validate_document
from tests.hostile.specimens import LIMIT, Forge, encode

SMUGGLED = "Jan Jansen, Dorpsstraat 1, verslaafd, schulden bij de buren. " * 1500


@pytest.mark.parametrize("reference", ["not-sixteen-digits", SMUGGLED])
def test_a_reference_field_does_not_carry_free_text(forge: Forge, reference: str) -> None:
    document = forge.document()
    document["body"]["references"]["cjib_payment_references"] = [reference]
    raw = encode(forge.sign(document))
    assert len(raw) < LIMIT
    with pytest.raises(Refusal) as refused:
        validate_document(parse_document(raw), raw)
    assert refused.value.reason is ReasonCode.SCHEMA_VIOLATION
