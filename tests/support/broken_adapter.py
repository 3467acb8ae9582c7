"""A deliberately broken agency adapter: the SDK's client with one defect switched on.

The conformance kit must catch each defect, and report exactly the check that covers it
(tests/integration/test_conformance.py). :data:`DEFECTS` maps each defect to that check.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from aio_pika.abc import AbstractIncomingMessage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.sdk import BackOffice, Delivery, HubClient
from adapters.sdk.delivery import Handler
from hub.contract.authenticate import DEFAULT_SKEW_SECONDS, check_freshness, check_signature
from hub.contract.errors import Refusal
from hub.contract.messages import MESSAGE_SPECS, Envelope, parse_message, utc_iso
from hub.contract.notary import encode
from hub.contract.signing import sign_document

DEFECTS: dict[str, str] = {
    "no_receipt": "receipt.sent",
    "wrong_receipt_id": "receipt.id",
    "unsigned_receipt": "receipt.signed",
    "badly_signed_receipt": "receipt.signed",
    "receipt_message_id_differs": "receipt.signed",
    "acts_on_tampered": "refuses.tampered",
    "accepts_forged_hub_notice": "refuses.forged",
    "receipts_expired": "refuses.expired",
    "handles_duplicate_twice": "duplicate.once",
    "answers_forbidden_type": "answer.allowed",
}


class BrokenClient(HubClient):
    """:class:`HubClient` with ``defect`` (a key of :data:`DEFECTS`)."""

    defect = ""

    async def consume(self, handler: Handler | None = None) -> None:
        if self.defect == "handles_duplicate_twice":
            assert self._handled is not None

            async def never_seen(message_id: Any) -> bool:
                return False

            self._handled.seen = never_seen  # type: ignore[method-assign]
        await super().consume(handler)

    def _verify(self, document: dict[str, Any], envelope: Envelope) -> None:
        now = self.clock()
        if self.defect == "accepts_forged_hub_notice" and envelope.sender == self.registry.hub.id:
            pass  # "the hub's messages come through the hub: no need to check them"
        elif self.defect == "acts_on_tampered":
            # looks the key up (an unknown key is refused) but never checks the signature
            self.registry.key_for(envelope.sender, envelope.signature.kid,
                                  at=envelope.created_at, now=now)
        else:
            check_signature(document, envelope, self.registry, now)
        if self.defect != "receipts_expired":
            check_freshness(envelope, now, DEFAULT_SKEW_SECONDS)

    async def _on_message(self, message: AbstractIncomingMessage, handler: Handler) -> None:
        try:
            document, envelope = parse_message(message.body)
            self._verify(document, envelope)
        except Refusal:
            await message.reject(requeue=False)
            return
        await self._process(message, document, envelope, handler)

    async def _send_receipt(self, delivery: Delivery) -> None:
        if not MESSAGE_SPECS[delivery.envelope.type].needs_receipt or self.defect == "no_receipt":
            return
        receipt = delivery.reply("receipt", {"received_at": utc_iso(delivery.created_at)})
        if self.defect == "wrong_receipt_id":
            receipt["id"] = str(uuid4())
        if self.defect == "unsigned_receipt":
            await self.publish_raw(encode(receipt), message_id=receipt["id"])
        elif self.defect == "receipt_message_id_differs":
            await self.publish_raw(self.sign(receipt), message_id=str(uuid4()))
        elif self.defect == "badly_signed_receipt":
            forged = sign_document(receipt, Ed25519PrivateKey.generate())
            forged["signature"]["kid"] = self.participant.keys[0].kid
            await self.publish_raw(encode(forged), message_id=receipt["id"])
        else:
            await self.send(receipt)


def broken_agency(client: BrokenClient, backoffice: BackOffice, defect: str) -> AgencyAdapter:
    """The reference agency adapter on a broken client."""
    if defect not in DEFECTS:
        raise ValueError(f"unknown defect {defect!r}")
    client.defect = defect
    adapter = AgencyAdapter(client, backoffice, PROFILES[client.id])
    if defect == "answers_forbidden_type":
        lift = client.handlers["timeout.lift"]

        async def lift_and_answer(delivery: Delivery) -> dict[str, Any] | None:
            await lift(delivery)
            return delivery.reply("timeout.extend", {"extend_months": 1,
                                                     "reason_code": "other"})

        client.handlers["timeout.lift"] = lift_and_answer
    return adapter
