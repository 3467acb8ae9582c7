"""RFC 8785 (JCS) canonicalisation and the strict JSON reader (hub.contract.canonical).

Expected outputs are copied from the text of RFC 8785, not produced by our own code.
"""

from __future__ import annotations

import json
import struct

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.contract.canonical import JsonError, canonicalize, loads_strict

# RFC 8785 section 3.2.2: the sample input ...
RFC_SAMPLE_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
# ... its canonical form (section 3.2.2) ...
RFC_SAMPLE_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)
# ... and its UTF-8 bytes as printed in section 3.2.4.
RFC_SAMPLE_UTF8 = """
7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d
"""

# RFC 8785 section 3.2.3: property sorting by UTF-16 code units.
RFC_SORTING_INPUT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""
RFC_SORTED_KEYS = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]

# RFC 8785 appendix B: IEEE 754 bit patterns and their ECMAScript serialisation.
RFC_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def test_rfc_sample_canonical_text() -> None:
    assert canonicalize(json.loads(RFC_SAMPLE_INPUT)).decode("utf-8") == RFC_SAMPLE_OUTPUT


def test_rfc_sample_utf8_bytes() -> None:
    assert canonicalize(json.loads(RFC_SAMPLE_INPUT)) == bytes.fromhex(RFC_SAMPLE_UTF8)


def test_rfc_property_sorting() -> None:
    canonical = canonicalize(json.loads(RFC_SORTING_INPUT)).decode("utf-8")
    assert list(json.loads(canonical)) == RFC_SORTED_KEYS
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical == expected


@pytest.mark.parametrize(("bits", "expected"), RFC_NUMBERS)
def test_rfc_number_serialisation(bits: str, expected: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonicalize(value).decode("ascii") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1E30, 4.50, 2e-3, 0.000000000000000000000000001]", "[1e+30,4.5,0.002,1e-27]"),
        ('"\\u0000\\u001f\\u007f"', '"\\u0000\\u001f\u007f"'),
        ('"\\t\\b\\f\\n\\r"', '"\\t\\b\\f\\n\\r"'),
        ('{ "b" : [ ] , "a" : { "d" : 1 , "c" : 2 } }', '{"a":{"c":2,"d":1},"b":[]}'),
    ],
)
def test_whitespace_escapes_and_nesting(text: str, expected: str) -> None:
    assert canonicalize(json.loads(text)).decode("utf-8") == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_canonicalize_refuses_non_finite_numbers(value: float) -> None:
    with pytest.raises(JsonError):
        canonicalize({"x": value})


def test_loads_strict_reads_plain_json() -> None:
    assert loads_strict(b'{"a": [1, 2.5, "\xc3\xa9", null, true]}') == {
        "a": [1, 2.5, "\u00e9", None, True]
    }


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b'{"a": {"b": 1, "b": 1}}', "duplicate key"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": -Infinity}', "-Infinity"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": "\xc3"}', "not UTF-8"),
        (b'{"a": 1', "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_loads_strict_refuses(raw: bytes, fragment: str) -> None:
    with pytest.raises(JsonError, match=fragment):
        loads_strict(raw)


def test_loads_strict_refuses_deep_nesting() -> None:
    with pytest.raises(JsonError):
        loads_strict(b"[" * 100_000 + b"]" * 100_000)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 60), max_value=2 ** 60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_json_values)
def test_the_shortcut_gives_the_rfc8785_bytes(value: object) -> None:
    """canonicalize() skips rfc8785 for plain values (json.dumps): the bytes must be the same,
    and what rfc8785 refuses the shortcut refuses too."""
    _agrees_with_rfc8785(value)


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [True, False, None, "x\u2028\x7f\x00\"\\/"], "é": 4.0},
    {"n": 4.0}, {"n": 2 ** 53}, {"k": "\ud800"}, [{"z": {"y": "€😀"}}], "\U0010ffff"])
def test_the_shortcut_and_its_fallbacks_agree_with_rfc8785(value: object) -> None:
    _agrees_with_rfc8785(value)


def _agrees_with_rfc8785(value: object) -> None:
    """Same bytes as rfc8785, or refused (JsonError) where rfc8785 refuses."""
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(JsonError):
            canonicalize(value)
        return
    assert canonicalize(value) == expected
