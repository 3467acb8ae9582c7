"""Dutch identifiers, validated at the edge: BSN, OIN, CBS municipality code.

Facts (see the project's domain notes): a BSN has 9 digits and passes the *elfproef* with weights
9, 8, 7, 6, 5, 4, 3, 2, -1 (the weighted sum is divisible by 11); 000000000 passes the
arithmetic and is refused. An OIN has 20 digits. A CBS municipality code is ``GM`` and four digits.

Each validator raises :class:`ValueError` with a message a person can act on, so pydantic reports it
with the field path. The ``Annotated`` types below are what the message models use.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

_BSN_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_OIN_RE = re.compile(r"[0-9]{20}")
_CBS_RE = re.compile(r"GM[0-9]{4}")


def elfproef(digits: str) -> bool:
    """True when nine digits pass the BSN eleven test (weights 9..2, -1)."""
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits, _BSN_WEIGHTS, strict=True))
    return total % 11 == 0


def validate_bsn(value: str) -> str:
    """Return ``value`` when it is a plausible BSN; raise ValueError saying why not."""
    if not (len(value) == 9 and value.isascii() and value.isdigit()):
        raise ValueError("a BSN has exactly 9 digits (pad an 8-digit number with a leading zero)")
    if value == "000000000":
        raise ValueError("000000000 is not a BSN")
    if not elfproef(value):
        raise ValueError("not a valid BSN: the elfproef (weights 9..2, -1) fails")
    return value


def validate_oin(value: str) -> str:
    """Return ``value`` when it has the OIN form of 20 digits."""
    if not _OIN_RE.fullmatch(value):
        raise ValueError("an OIN has exactly 20 digits")
    return value


def validate_cbs_code(value: str) -> str:
    """Return ``value`` when it is a CBS municipality code such as GM0193."""
    if not _CBS_RE.fullmatch(value):
        raise ValueError("a CBS municipality code is 'GM' followed by 4 digits, e.g. GM0193")
    return value


def validate_case_id(value: str) -> str:
    """A case id is opaque and must never carry a BSN: no run of 8 or more digits."""
    if re.search(r"[0-9]{8,}", value):
        raise ValueError("a case_id must not contain a run of 8 or more digits (it could be a BSN)")
    return value


Bsn = Annotated[str, AfterValidator(validate_bsn)]
Oin = Annotated[str, AfterValidator(validate_oin)]
CbsCode = Annotated[str, AfterValidator(validate_cbs_code)]
ParticipantId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,31}$")]
CaseId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    AfterValidator(validate_case_id),
]


def whole_number(value: Any) -> Any:
    """A JSON number with a zero fraction (``4.0``) is the integer it writes (JSON Schema counts
    it as an integer; RFC 8785 writes it ``4``); anything else is left for strict validation."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer that also accepts a zero fraction (Java and C# serialisers emit 4.0).
WholeNumber = Annotated[int, BeforeValidator(whole_number)]
