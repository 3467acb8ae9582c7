"""BSN, OIN, CBS code and case id validation (hub.contract.identifiers)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from hub.contract.identifiers import (
    Bsn,
    CaseId,
    elfproef,
    validate_bsn,
    validate_case_id,
    validate_cbs_code,
    validate_oin,
)


def _fullwidth(digits: str) -> str:
    """The same digits as FULLWIDTH DIGIT characters (U+FF10..U+FF19): Unicode digits, not ASCII."""
    return "".join(chr(0xFF10 + int(d)) for d in digits)


FULLWIDTH_BSN = _fullwidth("123456782")


@pytest.mark.parametrize("bsn", ["123456782", "111222333"])
def test_valid_bsn_passes(bsn: str) -> None:
    assert elfproef(bsn)
    assert validate_bsn(bsn) == bsn


def test_all_zeros_passes_the_arithmetic_but_is_refused() -> None:
    assert elfproef("000000000")
    with pytest.raises(ValueError, match="not a BSN"):
        validate_bsn("000000000")


def test_elfproef_failure_is_refused() -> None:
    assert not elfproef("123456789")
    with pytest.raises(ValueError, match="elfproef"):
        validate_bsn("123456789")


@pytest.mark.parametrize(
    "value",
    ["12345678", "1234567820", "", "12345678a", "1234 5678", "-12345678", FULLWIDTH_BSN],
)
def test_bsn_needs_nine_ascii_digits(value: str) -> None:
    assert not elfproef(value)
    with pytest.raises(ValueError, match="9 digits"):
        validate_bsn(value)


def test_fullwidth_digits_are_unicode_digits() -> None:
    assert FULLWIDTH_BSN.isdigit() and not FULLWIDTH_BSN.isascii()


def test_bsn_type_reports_through_pydantic() -> None:
    adapter = TypeAdapter(Bsn)
    assert adapter.validate_python("123456782") == "123456782"
    with pytest.raises(ValidationError, match="elfproef"):
        adapter.validate_python("123456789")


def test_oin_has_twenty_digits() -> None:
    assert validate_oin("00000001000000005000") == "00000001000000005000"
    for bad in ("0000000100000000500", "000000010000000050000", "0000000100000000500a", ""):
        with pytest.raises(ValueError, match="20 digits"):
            validate_oin(bad)


def test_oin_refuses_unicode_digits() -> None:
    with pytest.raises(ValueError):
        validate_oin(_fullwidth("0" * 20))


def test_cbs_code() -> None:
    assert validate_cbs_code("GM0193") == "GM0193"
    for bad in ("gm0193", "GM193", "GM01930", "0193", "GM019a", " GM0193"):
        with pytest.raises(ValueError, match="GM"):
            validate_cbs_code(bad)


def test_case_id_must_not_hide_a_bsn() -> None:
    assert validate_case_id("ZW-2026-0042") == "ZW-2026-0042"
    assert validate_case_id("case-1234567") == "case-1234567"
    for bad in ("case-123456782", "12345678", "x12345678y"):
        with pytest.raises(ValueError, match="8 or more digits"):
            validate_case_id(bad)


def test_case_id_type_combines_pattern_and_bsn_rule() -> None:
    adapter = TypeAdapter(CaseId)
    assert adapter.validate_python("ZW-2026-0042") == "ZW-2026-0042"
    for bad in ("case-123456782", "-leading-dash", "", "a" * 65, "with space"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
