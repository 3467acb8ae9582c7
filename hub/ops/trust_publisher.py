"""The trust document over the hub: broadcast each new serial, answer ``trust.query``.

Each replica, right after its configuration reload check (every ``MAATWERK_RELOAD_SECONDS``,
:mod:`hub.ops.reload`), reads ``MAATWERK_TRUST_FILE``. When its bytes changed it verifies the
document under the registry authority's published key (``KEYS_DIR/registry-authority.json``):
signature, validity, and a serial not lower than the one it holds. A valid new serial is then
*claimed* in the shared state (:mod:`hub.state.trust_serials`); the replica that wins the claim,
in the same transaction,

- queues a signed ``trust.update`` (the whole signed document) in the outbox for every
  participant of the document that the hub's registry knows (it has an inbox), ids derived
  from serial, hash and recipient (:func:`hub.contract.trust.broadcast_id`);
- writes the ``trust_document`` audit record (serial, SHA-256, versions; no personal data),

and publishes the outbox at once. So each serial is broadcast and audited once, however many
replicas run; after a crash the outbox publishes what was claimed. A document that does not
verify is refused (``/readyz`` ``trust.error``, log ``trust document refused``); the hub keeps
the last good one for ``trust.query``. Without a published authority key nothing is broadcast.

``trust.query`` (a participant asks): the replica reads the file again and answers with a
``trust.update`` holding the newest valid document (id ``notice_id("trust.update", <query
id>)``); with no document it sends nothing (the query is still recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from uuid import uuid5

from hub.contract import keys, trust
from hub.contract.errors import KeyStoreError
from hub.contract.messages import Purpose
from hub.contract.notary import NOTICE_NAMESPACE, Notary, Thread, notice_id
from hub.contract.registry import Registry
from hub.contract.trust import TrustDocument, TrustError
from hub.core.outcomes import Route
from hub.core.router import Router
from hub.state import outbox, trust_serials
from hub.state.audit import AuditLog
from hub.state.audit_events import entry_for_trust
from hub.state.database import Database

log = logging.getLogger("maatwerk.trust")
CASE = "trust"
"""The case id of the hub's trust.update messages (no household's case)."""


class TrustPublisher:
    def __init__(self, *, trust_file: Path, keys_dir: Path, db: Database, audit: AuditLog,
                 notary: Notary, router: Router, registry: Callable[[], Registry],
                 clock: Callable[[], datetime], replica: str) -> None:
        self.trust_file = trust_file
        self.keys_dir = keys_dir
        self.db = db
        self.audit = audit
        self.notary = notary
        self.router = router
        self.registry = registry
        self.clock = clock
        self.replica = replica
        self.current: TrustDocument | None = None
        self.raw: bytes | None = None
        self.error: str | None = None
        self.broadcasts = 0
        self._seen: str | None = None
        self._lock = asyncio.Lock()

    def _authority_keys(self) -> list[bytes]:
        path = keys.public_keys_path(self.keys_dir, trust.AUTHORITY)
        if not path.exists():
            return []
        with contextlib.suppress(KeyStoreError):
            return [entry.raw for entry in keys.read_public_entries(path)]
        return []

    def _verify(self, raw: bytes) -> TrustDocument:
        authorities = self._authority_keys()
        if not authorities:
            raise TrustError(f"no registry authority key published "
                             f"({keys.public_keys_path(self.keys_dir, trust.AUTHORITY)})")
        errors = []
        for authority in authorities:
            try:
                return trust.verify(raw, authority, now=self.clock(), current=self.current)
            except TrustError as exc:
                errors.append(str(exc))
        raise TrustError("; ".join(errors))

    async def check(self) -> int:
        """Read the trust file; on a new valid serial claim it and broadcast it. Returns the
        number of trust.update messages this replica queued."""
        async with self._lock:
            try:
                raw = await asyncio.to_thread(self.trust_file.read_bytes)
            except FileNotFoundError:
                return 0
            sha256 = trust.document_sha256(raw)
            if sha256 == self._seen:
                return 0
            self._seen = sha256
            try:
                document = self._verify(raw)
            except TrustError as exc:
                self.error = str(exc)
                log.error("trust document refused; the last good one stays", extra={
                    "event": "trust_refused", "error": str(exc)[:1000],
                    "serial": self.current.serial if self.current else None})
                return 0
            self.error = None
            self.current, self.raw = document, raw
            queued = await self._claim(document, raw, sha256)
        if queued:
            await self.router.flush_outbox()
        return queued

    async def _claim(self, document: TrustDocument, raw: bytes, sha256: str) -> int:
        known = self.registry().participants
        recipients = sorted(p.id for p in document.participants
                            if p.kind != "hub" and p.id in known)
        body = {"serial": document.serial, "document": json.loads(raw)}
        thread = Thread(case_id=CASE, purpose=Purpose.COORDINATION,
                        conversation_id=uuid5(NOTICE_NAMESPACE, f"trust:{sha256}"))
        now = self.clock()
        versions = trust.versions_of(document)
        async with self.db.transaction() as tx:
            outcome = await trust_serials.claim(
                tx, serial=document.serial, sha256=sha256, registry_version=versions["registry"],
                policy_version=versions["policy"], agreements_version=versions["agreements"],
                recipients=len(recipients), by=self.replica)
            if outcome is not trust_serials.Claim.CLAIMED:
                if outcome is trust_serials.Claim.CONFLICT:
                    self.error = f"serial {document.serial} was published with another document"
                    log.error("trust document serial conflict", extra={
                        "event": "trust_conflict", "serial": document.serial})
                return 0
            for recipient in recipients:
                envelope, signed = self.notary.sign(
                    type="trust.update", recipient=recipient, body=body, now=now, thread=thread,
                    message_id=trust.broadcast_id(document.serial, sha256, recipient))
                await outbox.add(tx, envelope, signed)
            await self.audit.append(entry_for_trust(
                serial=document.serial, sha256=sha256, versions=versions,
                recipients=len(recipients), replica=self.replica), tx)
        self.broadcasts += 1
        log.info("trust document broadcast", extra={
            "event": "trust_broadcast", "serial": document.serial, "sha256": sha256[:16],
            "recipients": len(recipients)})
        return len(recipients)

    async def answer_query(self, route: Route) -> None:
        """Local handler of ``trust.query``: a ``trust.update`` with the document held now."""
        await self.check()  # the file as it is now: another replica may have broadcast it
        if self.raw is None or self.current is None:
            log.warning("trust.query from %s: no trust document to send", route.sender.id)
            return
        envelope, signed = self.notary.sign(
            type="trust.update", recipient=route.sender.id, now=self.clock(),
            body={"serial": self.current.serial, "document": json.loads(self.raw)},
            about=route.envelope, message_id=notice_id("trust.update", route.envelope.id))
        await self.router.publish_signed(envelope, signed)

    def details(self) -> dict[str, object]:
        """For ``/readyz``: the serial this replica holds and, when refused, why."""
        info: dict[str, object] = {"serial": self.current.serial if self.current else None}
        if self.error is not None:
            info["error"] = self.error
        return info
