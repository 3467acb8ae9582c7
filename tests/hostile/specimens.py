"""Hostile messages and the reason the hub must refuse each one with.

A *recipe* is plain data drawn by hypothesis (which field, which value, where); :class:`Forge`
turns it into bytes, signed with a real participant's key where that makes the attack stronger
(a correctly signed message with an ill-typed field is still refused). Each :class:`Specimen`
says which reason codes are acceptable, or none when the message is valid and must be routed (a
change of form only, which leaves the RFC 8785 canonical form -- and so the signature -- intact).

The expectations are written from the contract (README, pipeline steps), not computed with the
hub's code.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from hub.contract.errors import ReasonCode
from hub.contract.messages import new_document
from hub.contract.signing import sign_document
from tests.helpers import BSN, timeout_request_body

R = ReasonCode
LIMIT = 262_144  # MAATWERK_MAX_MESSAGE_BYTES default (256 KiB)
_cases = itertools.count(1)


@dataclass(frozen=True)
class Specimen:
    category: str
    raw: bytes
    expect: frozenset[ReasonCode]  # empty: a valid message that must be routed
    message_id: str | None  # the id the refusal names (None: no readable id)
    note: str = ""
    id_certain: bool = True  # False: named when the hub could parse it, else no id

    @property
    def routed(self) -> bool:
        return not self.expect

    def __repr__(self) -> str:  # hypothesis prints it: keep it short
        return (f"Specimen({self.category}: {self.note[:120]!r}, {len(self.raw)} bytes, "
                f"expect {sorted(self.expect) or 'routed'})")


def encode(document: Any, **dumps: Any) -> bytes:
    options: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}
    options.update(dumps)
    return json.dumps(document, **options).encode("utf-8")


class Forge:
    """Builds time-out requests from ``sender`` (published with its own broker user)."""

    def __init__(self, key: Ed25519PrivateKey, *, sender: str = "gm0193",
                 recipient: str = "cjib", other_key: Ed25519PrivateKey | None = None) -> None:
        self.key = key
        self.other_key = other_key
        self.sender = sender
        self.recipient = recipient

    def document(self, recipient: str | None = None) -> dict[str, Any]:
        to = recipient or self.recipient
        return new_document(type="timeout.request", sender=self.sender, recipient=to,
                            case_id=f"HOSTILE-{next(_cases)}", body=timeout_request_body(to),
                            created_at=datetime.now(UTC))

    def sign(self, document: dict[str, Any], key: Ed25519PrivateKey | None = None) -> dict[
        str, Any
    ]:
        return sign_document(document, key or self.key)

    def valid(self) -> tuple[dict[str, Any], bytes]:
        signed = self.sign(self.document())
        return signed, encode(signed)


Recipe = Callable[[Forge], Specimen]


# -- paths in a document ---------------------------------------------------------------------

def _parent(document: Any, path: str) -> tuple[Any, str | int]:
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = document
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    node, last = _parent(document, path)
    node[last] = value


def get_path(document: dict[str, Any], path: str) -> Any:
    node, last = _parent(document, path)
    return node[last]


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    for python, name in ((int, "int"), (float, "float"), (str, "str"), (list, "array"),
                         (dict, "object")):
        if isinstance(value, python):
            return name
    raise TypeError(value)


# -- 1. wrong types ---------------------------------------------------------------------------

KINDS: dict[str, set[str]] = {
    "type": {"str"}, "schema_version": {"str"}, "sender": {"str"}, "recipient": {"str"},
    "case_id": {"str"}, "conversation_id": {"str"}, "created_at": {"str"},
    "expires_at": {"str"}, "purpose": {"str"}, "body": {"object"}, "body.bsn": {"str"},
    "body.references": {"object"}, "body.references.cjib_payment_references": {"array", "null"},
    "body.references.cjib_payment_references.0": {"str"}, "body.requested_from": {"str"},
    "body.requested_months": {"int"}, "body.reason_code": {"str"}, "body.scope": {"array"},
    "body.scope.0": {"str"}, "body.debt_assistance_started": {"bool"},
    "signature": {"object"}, "signature.alg": {"str"}, "signature.kid": {"str"},
    "signature.value": {"str"},
}

json_scalars = (st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def wrong_type(forge: Forge, path: str, value: Any) -> Specimen:
    document = forge.document()
    if path.startswith("signature"):  # the signature itself is what is mangled
        document = forge.sign(document)
        set_path(document, path, value)
    else:  # a correctly signed message with an ill-typed field
        set_path(document, path, value)
        document = forge.sign(document)
    expect = {R.UNKNOWN_TYPE} if path == "type" else {R.SCHEMA_VIOLATION}
    return Specimen("wrong type", encode(document), frozenset(expect), document["id"],
                    f"{path} = {value!r}")


def _wrong_for(path: str) -> st.SearchStrategy[Recipe]:
    values = json_values.filter(lambda v: kind(v) not in KINDS[path])
    return values.map(lambda v: partial(wrong_type, path=path, value=v))


wrong_types: st.SearchStrategy[Recipe] = st.sampled_from(sorted(KINDS)).flatmap(_wrong_for)


# -- 2. huge strings ----------------------------------------------------------------------------

MAX_LENGTH = {"type": 40, "sender": 32, "recipient": 32, "case_id": 64, "purpose": 40,
              "body.bsn": 9, "body.situation_summary": 4000, "body.reason_code": 40,
              "body.requested_from": 10, "signature.kid": 64}


def huge(forge: Forge, path: str, length: int, char: str) -> Specimen:
    document = forge.document()
    text = char * length
    if path.startswith("signature"):
        document = forge.sign(document)
        set_path(document, path, text)
    else:
        set_path(document, path, text)
        document = forge.sign(document)
    raw = encode(document)
    if len(raw) > LIMIT:
        expect, message_id = {R.OVERSIZE}, None
    else:
        expect = {R.UNKNOWN_TYPE} if path == "type" else {R.SCHEMA_VIOLATION}
        message_id = document["id"]
    return Specimen("huge string", raw, frozenset(expect), message_id,
                    f"{path}: {length} x {char!r}")


huge_strings: st.SearchStrategy[Recipe] = st.sampled_from(sorted(MAX_LENGTH)).flatmap(
    lambda path: st.builds(
        partial, st.just(huge), path=st.just(path),
        length=st.one_of(st.integers(MAX_LENGTH[path] + 1, MAX_LENGTH[path] + 64),
                         st.integers(MAX_LENGTH[path] + 1, 300_000)),
        char=st.sampled_from(["a", "7", "é", "€", "\U0001d11e"]),
    )
)


# -- 3. deep nesting ----------------------------------------------------------------------------

OPENERS = {"array": ("[", "]"), "object": ('{"a":', "}")}


def nested(depth: int, shape: str, leaf: str = "1") -> bytes:
    opener, closer = OPENERS[shape]
    return (opener * depth + leaf + closer * depth).encode()


def nesting(forge: Forge, depth: int, shape: str, where: str) -> Specimen:
    deep = nested(depth, shape)
    if where == "root":
        raw = deep
        expect = {R.MALFORMED_JSON} if shape == "array" else {R.MALFORMED_JSON, R.UNKNOWN_TYPE}
        message_id: str | None = None
    else:
        document = forge.document()
        placeholder = "@@DEEP@@"
        if where == "extra":
            document["x"] = placeholder
        else:
            set_path(document, where, placeholder)
        document = forge.sign(document)
        raw = encode(document).replace(json.dumps(placeholder).encode(), deep)
        expect = {R.MALFORMED_JSON, R.SCHEMA_VIOLATION}
        message_id = document["id"]
    if len(raw) > LIMIT:
        expect, message_id = {R.OVERSIZE}, None
    # Too deep for the parser: no readable id. Parsed, but too deep for the schema: named.
    return Specimen("deep nesting", raw, frozenset(expect), message_id,
                    f"{depth} nested {shape}s at {where}", id_certain=message_id is None)


def _nesting(depth: st.SearchStrategy[int]) -> st.SearchStrategy[Recipe]:
    return st.builds(
        partial, st.just(nesting), depth=depth, shape=st.sampled_from(sorted(OPENERS)),
        where=st.sampled_from(["root", "body", "extra", "body.scope.0", "body.references"]))


deep_nesting = _nesting(st.one_of(st.integers(2, 3000), st.integers(3000, 140_000)))
# Shallow enough for any JSON parser in the hub (Python's json stops near 1,000 levels).
shallow_nesting = _nesting(st.integers(2, 500))


# -- 4. unicode look-alikes -----------------------------------------------------------------------

DIGIT_ZEROS = {"fullwidth": 0xFF10, "arabic-indic": 0x0660, "devanagari": 0x0966,
               "math-bold": 0x1D7CE}
# Latin letter or digit -> a character that looks the same (Cyrillic, Armenian, Cherokee...)
HOMOGLYPHS = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445",
    "y": "\u0443", "i": "\u0456", "j": "\u0458", "s": "\u0455", "d": "\u0501", "h": "\u04bb",
    "g": "\u0261", "0": "\u041e", "1": "\u04cf", "H": "\u041d", "O": "\u041e", "S": "\u0405",
    "T": "\u0422", "I": "\u0406", "E": "\u0415", "L": "\u13de", "t": "\u0442", "m": "\u043c",
    "u": "\u057d", "r": "\u0433",
}


def lookalike(forge: Forge, path: str, script: str, picks: list[int]) -> Specimen:
    document = forge.document()
    original = get_path(document, path)
    chars = list(original)
    if path == "body.bsn":
        candidates = list(range(len(chars)))
        zero = DIGIT_ZEROS[script]
        convert: Callable[[str], str] = lambda c: chr(zero + int(c))  # noqa: E731
    elif script == "fullwidth":
        candidates = [i for i, c in enumerate(chars) if c.isascii() and c.isalnum()]
        convert = lambda c: chr(ord(c) + 0xFEE0)  # noqa: E731
    else:
        candidates = [i for i, c in enumerate(chars) if c in HOMOGLYPHS]
        convert = HOMOGLYPHS.__getitem__
    for pick in picks:
        index = candidates[pick % len(candidates)]
        chars[index] = convert(original[index])
    changed = "".join(chars)
    set_path(document, path, changed)
    document = forge.sign(document)
    expect = {R.UNKNOWN_TYPE} if path == "type" else {R.SCHEMA_VIOLATION}
    return Specimen("look-alike", encode(document), frozenset(expect), document["id"],
                    f"{path}: {original!r} -> {changed!r}")


lookalikes: st.SearchStrategy[Recipe] = st.one_of(
    st.builds(partial, st.just(lookalike), path=st.just("body.bsn"),
              script=st.sampled_from(sorted(DIGIT_ZEROS)),
              picks=st.lists(st.integers(0, 8), min_size=1, max_size=9)),
    st.builds(partial, st.just(lookalike),
              path=st.sampled_from(["sender", "recipient", "type", "purpose", "case_id",
                                    "body.reason_code", "body.scope.0", "schema_version"]),
              script=st.sampled_from(["cyrillic", "fullwidth"]),
              picks=st.lists(st.integers(0, 40), min_size=1, max_size=4)),
)


# -- 5. invalid BSNs ----------------------------------------------------------------------------

def is_bsn(value: str) -> bool:
    """The contract's rule: 9 ASCII digits, not 000000000, elfproef (weights 9..2, -1)."""
    if len(value) != 9 or not all("0" <= c <= "9" for c in value) or value == "000000000":
        return False
    return sum(int(c) * w for c, w in zip(value, (9, 8, 7, 6, 5, 4, 3, 2, -1),
                                          strict=True)) % 11 == 0


def invalid_bsn(forge: Forge, value: str) -> Specimen:
    document = forge.document()
    document["body"]["bsn"] = value
    document = forge.sign(document)
    return Specimen("invalid BSN", encode(document), frozenset({R.SCHEMA_VIOLATION}),
                    document["id"], f"bsn {value!r}")


invalid_bsns: st.SearchStrategy[Recipe] = st.one_of(
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.text(alphabet="0123456789", max_size=12),
    st.text(alphabet="0123456789 .-", min_size=9, max_size=11),
    st.sampled_from(["000000000", "123456789", "12345678", "0123456782", " 123456782",
                     "123456782 ", "123-45-6782"]),
).filter(lambda v: not is_bsn(v)).map(lambda v: partial(invalid_bsn, value=v))


# -- 6. NaN and Infinity --------------------------------------------------------------------------

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1E999", "1e-400000"]


def non_finite(forge: Forge, literal: str, path: str) -> Specimen:
    document = forge.document()
    placeholder = "@@NUMBER@@"
    if path == "extra":
        document["x"] = placeholder
    else:
        set_path(document, path, placeholder)
    document = forge.sign(document)
    raw = encode(document).replace(json.dumps(placeholder).encode(), literal.encode())
    if literal in ("NaN", "Infinity", "-Infinity"):  # not JSON at all
        expect, message_id = {R.MALFORMED_JSON}, None
    else:  # valid JSON numbers out of range (inf, or 0.0 for 1e-400000): no field takes a float
        expect, message_id = {R.SCHEMA_VIOLATION}, document["id"]
    return Specimen("NaN/Infinity", raw, frozenset(expect), message_id, f"{path} = {literal}")


non_finites: st.SearchStrategy[Recipe] = st.builds(
    partial, st.just(non_finite), literal=st.sampled_from(NON_FINITE),
    path=st.sampled_from(["body.requested_months", "body.debt_assistance_started", "extra",
                          "body.scope.0", "created_at", "body.references"]),
)


# -- 7. duplicate keys ----------------------------------------------------------------------------

REDIRECTS: dict[str, list[Any]] = {
    "recipient": ["duo", "uwv", "loket", "cjib"],
    "sender": ["gm0363", "gm0193"],
    "type": ["escalation.request", "timeout.request"],
    "id": [],  # filled with a fresh uuid
    "case_id": ["OTHER-CASE"],
    "purpose": ["pmm.escalation"],
    "body.bsn": ["111222333", BSN],
    "body.requested_months": [12, 1, 4],
    "body.scope": [["seizure"]],
    "signature": [],  # the same signature again
}


def duplicate_key(forge: Forge, key: str, choice: int, position: str) -> Specimen:
    document = forge.sign(forge.document())
    raw = encode(document).decode()
    name = key.rsplit(".", 1)[-1]
    options = REDIRECTS[key] or [str(uuid4()) if key == "id" else document["signature"]]
    value = options[choice % len(options)]
    pair = f"{json.dumps(name)}:{json.dumps(value, separators=(',', ':'))}"
    if key.startswith("body."):
        start = raw.index('"body":{') + len('"body":{')
        end = raw.index('},"signature":')
    else:
        start, end = 1, len(raw) - 1
    raw = raw[:start] + pair + "," + raw[start:] if position == "first" else (
        raw[:end] + "," + pair + raw[end:])
    return Specimen("duplicate key", raw.encode(), frozenset({R.MALFORMED_JSON}), None,
                    f"{key} again ({position}) = {value!r}")


duplicate_keys: st.SearchStrategy[Recipe] = st.builds(
    partial, st.just(duplicate_key), key=st.sampled_from(sorted(REDIRECTS)),
    choice=st.integers(0, 3), position=st.sampled_from(["first", "last"]),
)


# -- 8. not UTF-8 ---------------------------------------------------------------------------------

BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\x80", b"\xbf", b"\xed\xa0\x80",
             b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\xc3"]


def not_utf8(forge: Forge, bad: bytes, where: float, encoding: str | None) -> Specimen:
    document = forge.sign(forge.document())
    if encoding is not None:  # the whole message in another encoding
        raw = json.dumps(document, ensure_ascii=False).encode(encoding)
        note = f"encoded as {encoding}"
    else:
        clean = encode(document)  # ASCII only: any byte >= 0x80 here breaks UTF-8
        at = int(where * len(clean))
        raw = clean[:at] + bad + clean[at:]
        note = f"{bad!r} at byte {at}"
    return Specimen("not UTF-8", raw, frozenset({R.MALFORMED_JSON}), None, note)


def latin1_text(forge: Forge) -> Specimen:
    document = forge.document()
    document["body"]["situation_summary"] = "Schuldhulp via gemeente, café-eigenaar"
    raw = encode(forge.sign(document)).decode().encode("latin-1")
    return Specimen("not UTF-8", raw, frozenset({R.MALFORMED_JSON}), None, "latin-1 text")


not_utf8s: st.SearchStrategy[Recipe] = st.one_of(
    st.builds(partial, st.just(not_utf8), bad=st.sampled_from(BAD_BYTES),
              where=st.floats(0, 1), encoding=st.none()),
    st.builds(partial, st.just(not_utf8), bad=st.just(b""), where=st.just(0.0),
              encoding=st.sampled_from(["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])),
    st.just(latin1_text),
)


# -- 9. signatures over another canonical form ---------------------------------------------

def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):  # array order is meaning: keep it
        return [_shuffled(v, rng) for v in value]
    return value


SEPARATORS = [(",", ":"), (", ", ": "), (" ,", " : "), (",\r\n", ":\t"), ("\n,\n", "\n:\n")]
ESCAPES = {'"cjib"': '"\\u0063jib"', '"timeout.request"': '"timeout\\u002erequest"',
           '"gm0193"': '"\\u0067m0193"', '"collection"': '"c\\u006fllection"'}


def reformatted(forge: Forge, seed: int, indent: int | None, separators: int, ascii_only: bool,
                escapes: list[str]) -> Specimen:
    """Same message, other bytes: key order, whitespace, escapes. The JCS form is unchanged, so
    the signature verifies and the message is routed."""
    document = forge.sign(forge.document())
    rng = random.Random(seed)
    text = json.dumps(_shuffled(document, rng), indent=indent, ensure_ascii=ascii_only,
                      separators=SEPARATORS[separators])
    for token in escapes:
        text = text.replace(token, ESCAPES[token])
    text = " \n\t" * (seed % 3) + text + "\r\n" * (seed % 2)
    return Specimen("same JCS form", text.encode(), frozenset(), document["id"],
                    f"seed {seed}, indent {indent}, separators {SEPARATORS[separators]!r}, "
                    f"escapes {escapes}")


same_form: st.SearchStrategy[Recipe] = st.builds(
    partial, st.just(reformatted), seed=st.integers(0, 2**32), indent=st.none() | st.integers(0, 4),
    separators=st.integers(0, len(SEPARATORS) - 1), ascii_only=st.booleans(),
    escapes=st.lists(st.sampled_from(sorted(ESCAPES)), unique=True),
)


NUMBER_FORMS = ["4.0", "4e0", "4E+0", "40e-1", "0.4e1", "4.000"]


def number_form(forge: Forge, form: str) -> Specimen:
    """4 written as 4.0: the same JCS form (the signature holds), and an integer to JSON Schema:
    routed (Java and C# serialisers write integers so)."""
    document = forge.sign(forge.document())
    raw = encode(document).replace(b'"requested_months":4', b'"requested_months":' +
                                   form.encode())
    return Specimen("number form", raw, frozenset(), document["id"],
                    f"requested_months written as {form}")


number_forms: st.SearchStrategy[Recipe] = st.sampled_from(NUMBER_FORMS).map(
    lambda form: partial(number_form, form=form))


def _later(stamp: str, ms: int) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


TAMPERS: dict[str, Callable[[dict[str, Any], int], None]] = {
    "requested_months": lambda d, n: d["body"].update(requested_months=1 + (3 + n) % 3),
    "case_id": lambda d, n: d.update(case_id=f"{d['case_id']}x{n}"),
    "scope order": lambda d, n: d["body"].update(scope=d["body"]["scope"][::-1]),
    "scope added": lambda d, n: d["body"]["scope"].append("seizure"),
    "recipient": lambda d, n: d.update(recipient=["duo", "uwv", "svb"][n % 3]),
    "in_reply_to null": lambda d, n: d.update(in_reply_to=None),
    "created_at": lambda d, n: d.update(created_at=_later(d["created_at"], 1 + n)),
    "expires_at": lambda d, n: d.update(expires_at=_later(d["expires_at"], 86_400_000 * (1 + n))),
    "debt_assistance_started": lambda d, n: d["body"].update(debt_assistance_started=True),
    "bsn": lambda d, n: d["body"].update(bsn="111222333"),
    "reference": lambda d, n: d["body"]["references"].update(
        cjib_payment_references=[f"{1234567890123457 + n}"]),
    "conversation_id": lambda d, n: d.update(conversation_id=str(uuid4())),
}


def tampered(forge: Forge, change: str, n: int) -> Specimen:
    """Changed after signing: a semantic change, so the signature no longer verifies."""
    document = forge.sign(forge.document())
    TAMPERS[change](document, n)
    return Specimen("tampered", encode(document), frozenset({R.BAD_SIGNATURE}), document["id"],
                    change)


tampering: st.SearchStrategy[Recipe] = st.builds(
    partial, st.just(tampered), change=st.sampled_from(sorted(TAMPERS)), n=st.integers(0, 5))


OTHER_TYPES: dict[str, list[Any]] = {
    "body.requested_months": ["4", 4.5, [4], True],
    "body.debt_assistance_started": [0, "false", None, []],
    "body.bsn": [int(BSN), [BSN], {"bsn": BSN}],
    "body.scope": ["collection", {"0": "collection"}],
    "body.references.cjib_payment_references": ["1234567890123456", {"0": "1234567890123456"}],
    "body.requested_from": [20261201, ["2026-12-01"]],
    "case_id": [None, 1],
}


def other_type_signed(forge: Forge, path: str, choice: int) -> Specimen:
    """The signature covers a document where a value has another type ("4" instead of 4); sent
    with the proper type, it must not verify."""
    document = forge.document()
    if path == "body.debt_assistance_started":
        document["body"]["debt_assistance_started"] = False
    options = OTHER_TYPES[path]
    signed_form = json.loads(json.dumps(document))
    set_path(signed_form, path, options[choice % len(options)])
    signature = forge.sign(signed_form)["signature"]
    document["signature"] = signature
    return Specimen("signed another type", encode(document), frozenset({R.BAD_SIGNATURE}),
                    document["id"], f"signed with {path} = {options[choice % len(options)]!r}")


other_types: st.SearchStrategy[Recipe] = st.builds(
    partial, st.just(other_type_signed), path=st.sampled_from(sorted(OTHER_TYPES)),
    choice=st.integers(0, 3))


# -- fixed cases -------------------------------------------------------------------------------

def too_deep(forge: Forge) -> list[Specimen]:
    """Nested far beyond any recursion limit (10,000 arrays and more)."""
    return [
        nesting(forge, 10_000, "array", "root"),
        nesting(forge, 10_000, "array", "body"),
        nesting(forge, 10_000, "object", "extra"),
        nesting(forge, 100_000, "array", "root"),
    ]


def fixed(forge: Forge, *, deep: bool = True) -> list[Specimen]:
    """Cases worth having every run, whatever hypothesis draws."""
    out = too_deep(forge) if deep else []
    out += [
        nesting(forge, 400, "array", "body"),
        huge(forge, "body.situation_summary", LIMIT, "a"),
        huge(forge, "body.situation_summary", 4001, "a"),
        duplicate_key(forge, "recipient", 0, "last"),
        duplicate_key(forge, "recipient", 0, "first"),
        lookalike(forge, "body.bsn", "fullwidth", list(range(9))),
        lookalike(forge, "recipient", "cyrillic", [0]),
        lookalike(forge, "type", "cyrillic", [3]),
        reformatted(forge, 7, 2, 1, True, sorted(ESCAPES)),
        number_form(forge, "4.0"),
    ]
    for raw in (b"", b"null", b"[]", b'"timeout.request"', b"4", b"{}", b"{", b"\x00" * 16):
        expect = {R.UNKNOWN_TYPE} if raw == b"{}" else {R.MALFORMED_JSON}
        out.append(Specimen("not a message", raw, frozenset(expect), None, repr(raw)))
    for bad_id in (123, "not-a-uuid", None):
        document = forge.document()
        document["id"] = bad_id
        out.append(Specimen("bad id", encode(forge.sign(document)),
                            frozenset({R.SCHEMA_VIOLATION}), None, f"id {bad_id!r}"))
    if forge.other_key is not None:
        # signed with another participant's key: no key of the sender has that kid
        document = forge.sign(forge.document(), forge.other_key)
        out.append(Specimen("foreign key", encode(document), frozenset({R.UNKNOWN_KEY}),
                            document["id"], "signed with gm0363's key"))
        # impersonation: a correct message of gm0363, published by gm0193's broker user
        other = Forge(forge.other_key, sender="gm0363")
        document = other.sign(other.document())
        out.append(Specimen("impersonation", encode(document),
                            frozenset({R.USER_ID_MISMATCH}), document["id"],
                            "gm0363's message on gm0193's connection"))
    unsigned = forge.document()
    out.append(Specimen("unsigned", encode(unsigned), frozenset({R.SCHEMA_VIOLATION}),
                        unsigned["id"], "no signature"))
    return out


CATEGORIES: dict[str, st.SearchStrategy[Recipe]] = {
    "wrong type": wrong_types,
    "huge string": huge_strings,
    "deep nesting": deep_nesting,
    "look-alike": lookalikes,
    "invalid BSN": invalid_bsns,
    "NaN/Infinity": non_finites,
    "duplicate key": duplicate_keys,
    "not UTF-8": not_utf8s,
    "same JCS form": same_form,
    "number form": number_forms,
    "tampered": tampering,
    "signed another type": other_types,
}
# Over the broker, nesting beyond the parser's recursion limit has its own test.
BROKER_CATEGORIES = {**CATEGORIES, "deep nesting": shallow_nesting}


def draw(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """Up to ``count`` distinct examples of ``strategy``, outside a hypothesis test (for tests
    that publish them in bulk). Derandomised: the same examples every run."""
    from hypothesis import HealthCheck, Phase, given, settings

    out: list[Any] = []

    @settings(max_examples=count, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out
