"""What the municipality and loket adapters share: publish checked messages, keep what arrives.

- :class:`CaseStore`: a folder with one JSON file per message, per case
  (``<state>/cases/<case_id>/<received|sent>-<message id>.json``), written atomically.
- :class:`CaseAdapter`: publishes a message after checking it against the contract
  (:func:`hub.contract.messages.validate_document`) and the registry (what this participant may
  send,
  what the recipient may receive), and records every message it receives in the store and,
  when configured, POSTs it to a webhook (``Idempotency-Key: <message id>``; a webhook that
  fails is retried like a back office, then the message is dead-lettered).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from pydantic import TypeAdapter, ValidationError

from adapters.sdk.backoffice import BackOffice, BackOfficeAnswer
from adapters.sdk.client import HubClient
from adapters.sdk.delivery import Delivery, Reply
from adapters.sdk.errors import PermanentError
from hub.contract.errors import Refusal
from hub.contract.identifiers import CaseId
from hub.contract.messages import MESSAGE_SPECS, Purpose, validate_document

_CASE_ID: TypeAdapter[str] = TypeAdapter(CaseId)


class PublishError(ValueError):
    """A message that would be refused: names the field and what is wrong with it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class CaseStore:
    """The adapter's local record of the messages of each case."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _case_dir(self, case_id: str) -> Path:
        try:
            _CASE_ID.validate_python(case_id)
        except ValidationError as exc:
            raise PublishError("case_id", f"not a case id: {case_id!r}") from exc
        return self.folder / case_id

    def add(self, direction: str, document: dict[str, Any]) -> None:
        folder = self._case_dir(str(document["case_id"]))
        folder.mkdir(exist_ok=True)
        path = folder / f"{direction}-{document['id']}.json"
        if path.exists():
            return
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"direction": direction, "message": document},
                                        ensure_ascii=False, indent=1))
        os.replace(temporary, path)

    def find(self, case_id: str, message_id: str | UUID) -> dict[str, Any] | None:
        """A message of the case by id, sent or received."""
        for entry in self.case(case_id):
            if entry["message"]["id"] == str(message_id):
                message: dict[str, Any] = entry["message"]
                return message
        return None

    def case(self, case_id: str) -> list[dict[str, Any]]:
        """Every message of the case, oldest first: ``{"direction", "message"}`` each."""
        folder = self._case_dir(case_id)
        if not folder.is_dir():
            return []
        entries = [json.loads(p.read_text()) for p in folder.glob("*.json")]
        return sorted(entries, key=lambda e: (e["message"]["created_at"], e["direction"]))


class CaseAdapter:
    """A participant that starts cases (municipality) or runs them (loket)."""

    def __init__(self, client: HubClient, store: CaseStore, *, webhook_url: str | None = None,
                 webhook_timeout: float = 10.0) -> None:
        self.client = client
        self.store = store
        self.webhook_url = webhook_url
        self.webhook = BackOffice(webhook_url, timeout=webhook_timeout) if webhook_url else None
        for type_name in client.participant.receives:
            if type_name not in client.handlers:
                client.on(type_name)(self.receive)

    async def receive(self, delivery: Delivery) -> Reply:
        """Keep a received message (store, then webhook)."""
        self.store.add("received", delivery.document)
        if self.webhook is not None and self.webhook_url is not None:
            webhook, url = self.webhook, self.webhook_url
            answer = await delivery.once(
                "webhook",
                lambda: webhook.post(url, delivery.document,
                                     idempotency_key=str(delivery.envelope.id)),
                lambda a: a.to_json(), BackOfficeAnswer.from_json)
            if not answer.ok:
                raise PermanentError(f"webhook refused the message: {answer.status}")
        return None

    def build(self, *, type: str, recipient: str, case_id: str, body: dict[str, Any],
              in_reply_to: str | UUID | None = None, conversation_id: str | UUID | None = None,
              purpose: str | None = None, message_id: UUID | None = None) -> dict[str, Any]:
        """A signed-and-checked message document, or :class:`PublishError` naming the field."""
        me = self.client.participant
        if type not in MESSAGE_SPECS:
            raise PublishError("type", f"unknown message type {type!r}")
        if type not in me.sends:
            raise PublishError("type", f"{me.id} may not send {type}")
        target = self.client.registry.get(recipient)
        if target is None:
            raise PublishError("recipient", f"{recipient!r} is not in the registry")
        if type not in target.receives:
            raise PublishError("recipient", f"{recipient} does not receive {type}")
        if not isinstance(body, dict):
            raise PublishError("body", "must be a JSON object")
        envelope: dict[str, Any] = {}
        try:
            if in_reply_to is not None:
                envelope["in_reply_to"] = UUID(str(in_reply_to))
            if conversation_id is not None:
                envelope["conversation_id"] = UUID(str(conversation_id))
        except ValueError as exc:
            raise PublishError("in_reply_to" if "in_reply_to" not in envelope
                               else "conversation_id", "not a UUID") from exc
        if purpose is not None:
            try:
                envelope["purpose"] = Purpose(purpose)
            except ValueError as exc:
                raise PublishError("purpose", f"unknown purpose {purpose!r}") from exc
        try:
            document = self.client.message(type=type, recipient=recipient, case_id=case_id,
                                           body=body, **envelope)
        except ValueError as exc:
            raise PublishError("purpose", str(exc)) from exc
        if message_id is not None:
            document["id"] = str(message_id)
        signed = json.loads(self.client.sign(document))
        try:
            validate_document(signed)
        except Refusal as refusal:
            # The local API names fields dotted (body.bsn); the refusal has JSON Pointers.
            pointer = refusal.field_paths[0] if refusal.field_paths else ""
            field = ".".join(part.replace("~1", "/").replace("~0", "~")
                             for part in pointer.split("/")[1:])
            _, _, detail = refusal.detail.partition(": ")
            raise PublishError(field or "(message)", detail or refusal.detail) from refusal
        return document

    def answer_to(self, case_id: str, request_id: str | UUID, type: str) -> dict[str, Any]:
        """Envelope fields of an answer to a received message: same conversation, in reply to
        it, and an id derived from it (sent twice, the hub sees one message)."""
        request = self.store.find(case_id, request_id)
        if request is None:
            raise PublishError("in_reply_to", f"no message {request_id} in case {case_id}")
        return {"recipient": request["sender"], "case_id": case_id,
                "in_reply_to": request["id"], "conversation_id": request["conversation_id"],
                "message_id": uuid5(UUID(request["id"]), type)}

    async def publish(self, **message: Any) -> UUID:
        """Check, sign and publish (see :meth:`build`); returns the message id."""
        document = self.build(**message)
        message_id = await self.client.send(document)
        self.store.add("sent", document)
        return message_id

    async def aclose(self) -> None:
        if self.webhook is not None:
            await self.webhook.aclose()
