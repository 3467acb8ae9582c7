"""The bodies of the trust document's two message types (issue 12, docs/federation.md).

- ``trust.query`` (participant -> hub): "send me the current trust document";
- ``trust.update`` (hub -> participant): the signed trust document itself, broadcast to every
  participant when a new serial is published and sent to a participant that asked.

The document in ``trust.update`` is exactly the JSON object the registry authority signed (as
served at ``/trust``): a reader verifies it under the configured authority key
(:func:`hub.contract.trust.verify`), never merely because the hub signed the message around it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from hub.contract.bodies import Body, DataCategory, field
from hub.contract.identifiers import whole_number

C = DataCategory
# Constraint inside the type, so that it holds (and is published) also as ``Serial | None``.
Serial = Annotated[int, Field(ge=1), BeforeValidator(whole_number)]


class TrustQuery(Body):
    """Participant -> hub: ask for the current trust document (answered with ``trust.update``)."""

    known_serial: Serial | None = field(C.OPERATIONAL, default=None,
                                     description="the serial the participant holds, if any")


class TrustUpdate(Body):
    """Hub -> participant: the current signed trust document (verify it under the authority
    key before use)."""

    serial: Serial = field(C.OPERATIONAL)
    document: dict[str, Any] = Field(
        json_schema_extra={"x-data-category": C.CONTACT.value},
        description="the signed trust document (format maatwerk-trust/1), as the registry "
        "authority signed it; its participants list carries professionals' contact points")

    @model_validator(mode="after")
    def _same_serial(self) -> TrustUpdate:
        if self.document.get("serial") != self.serial:
            raise ValueError("serial must be the document's serial")
        return self


__all__ = ["TrustQuery", "TrustUpdate"]
