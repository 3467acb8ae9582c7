"""The routing pipeline: every inbound message passes these steps, in this order.

1. size limit                      -> ``oversize``
2. parse (JSON, type, schema)      -> ``malformed_json``, ``unknown_type``, ``schema_violation``
3. broker identity (AMQP user_id)  -> ``missing_user_id``, ``user_id_mismatch``, ``unknown_sender``
   AMQP message_id = envelope id    -> ``message_id_mismatch``
4. signature (registered key)      -> ``missing_signature``, ``unknown_key``, ``key_revoked``,
                                      ``key_not_valid``, ``bad_signature``
5. freshness                       -> ``expired``, ``clock_skew``
   lifetime (agreements)           -> ``lifetime_exceeded``
6. duplicate (durable, shared)     -> same id, same canonical bytes: not an error, the original
                                      outcome is answered again; same id, other content from the
                                      same sender: ``id_conflict``; another sender: ``id_reused``
7. authorisation (registry)        -> ``participant_suspended`` (sender or recipient),
                                      ``unauthorised_type``, ``unauthorised_recipient``
   conversation (answers)          -> ``unknown_conversation``
   time-out rules (agreements)     -> ``timeout_rule``
   escalation and overbrugging     -> ``escalation_rule``, ``bridging_rule``
   admission (Maatwerkregister)    -> ``participant_not_admitted``
   information rules (policy)      -> ``policy_no_rule``, ``policy_legal_ground``,
                                      ``policy_field_not_allowed``
   case in hand                    -> a refusal by the case's state (the four steps above) waits
                                      while an earlier message of the case is being recorded, at
                                      most ``CASE_PATIENCE`` s, then stands
8. data-sharing policy             -> ``policy_no_rule``, ``policy_field_not_allowed``,
                                      ``policy_special_category``

Step 9, routing to the recipient's inbox, is the router's (:mod:`hub.core.router`): this module
decides,
it does no I/O but the state store. Each step is a small function that passes or raises
a
:class:`~hub.contract.errors.Refusal`; :meth:`Pipeline.process` reads top to bottom as the list
above.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.contract.agreements import Agreements
from hub.contract.authenticate import Authentication, Limits, authenticate, content_digest
from hub.contract.errors import PolicyRefusal, ReasonCode, Refusal
from hub.contract.identifiers import validate_case_id
from hub.contract.messages import (
    MESSAGE_SPECS,
    Envelope,
    message_id_of,
    utc_iso,
)
from hub.contract.policy import Policy
from hub.contract.registry import Participant, Registry
from hub.contract.signing import signing_input
from hub.core.escalation_rules import check_escalation_rules
from hub.core.instrument_rules import check_admitted, check_information
from hub.core.outcomes import (
    CaseInProgressError,
    Duplicate,
    Inbound,
    OriginalInProgressError,
    Outcome,
    Refuse,
    Route,
)
from hub.core.timeout_rules import check_timeout_rules
from hub.state.config_versions import Active, Stamp
from hub.state.seen import ANSWERABLE, PROCESSING, REFUSED, MessageRecord, MessageStore
from hub.state.timeouts import TimeoutTable

Clock = Callable[[], datetime]
# Seconds a refusal by the case's state waits for another message of the case in hand: long
# enough for a batch to commit under load, short enough that a message stuck in hand (a crashed
# replica's, until the broker redelivers it) does not hold the case up.
CASE_PATIENCE = 10.0


# -- the steps ---------------------------------------------------------------------------------

def content_hash(document: dict[str, Any]) -> str:
    """The content digest of a signed message (:func:`content_digest`), computed afresh."""
    return content_digest(signing_input(document), document)


def check_lifetime(envelope: Envelope, agreements: Agreements) -> None:
    """Step 5: ``expires_at - created_at`` is at most the agreed lifetime of the type."""
    latest = agreements.max_lifetime(envelope.type).after(envelope.created_at)
    if envelope.expires_at > latest:
        raise Refusal(
            ReasonCode.LIFETIME_EXCEEDED,
            f"expires_at {utc_iso(envelope.expires_at)} is after {utc_iso(latest)}: a "
            f"{envelope.type} may live at most until then (agreements {agreements.version})",
            field_paths=["/expires_at"],
        )


async def check_duplicate(
    store: MessageStore, envelope: Envelope, inbound: Inbound, now: datetime, digest: str
) -> MessageRecord | None:
    """Claim the id; return the earlier record when this id was already handled or is in hand.

    The same id with the same canonical bytes (``digest``) is a copy: its earlier record is
    returned, so the original outcome is answered again. The same id with other content is
    refused (``id_conflict``, or ``id_reused`` from another sender), never routed.

    A *redelivered* message whose claim is still ``processing`` belonged to a hub that died before
    deciding: it is taken over (returns None) so nothing is lost. A first delivery that finds a
    claim in progress is a copy published twice; the other copy is decided elsewhere. A
    *replayed* dead letter whose earlier outcome was a refusal is decided again (one replay
    wins the conditional update).
    """
    claim = await store.claim(envelope, now, digest)
    if claim.new:
        return None
    if claim.record.sender != envelope.sender:
        raise Refusal(ReasonCode.ID_REUSED, "this message id is used by another sender",
                      field_paths=["/id"])
    if claim.record.content_sha256 not in (None, digest):
        raise Refusal(
            ReasonCode.ID_CONFLICT,
            f"message id {envelope.id} was used before for other content; a message sent again "
            "must have the same canonical bytes (same created_at, body and signature)",
            field_paths=["/id"],
        )
    if claim.record.status == PROCESSING and inbound.redelivered:
        return None
    if (claim.record.status == REFUSED and inbound.replay
            and await store.reclaim_refused(envelope.id)):
        return None  # an operator replays a refused message: decide it again
    return claim.record


async def wait_for_case(store: MessageStore, envelope: Envelope, inbound: Inbound) -> None:
    """Before a refusal by the case's state stands: is another message of the case in hand?

    Only a message of the case claimed earlier counts (:meth:`MessageStore.earlier_in_hand`),
    so two refusals never wait for each other. The hub records a decision after the recipient's
    inbox confirmed it, in groups: the recipient
    can act on a message, and its next message (a settlement after the LET's decision, a lift
    after an acceptance) reach the hub before the first one's record is committed. Such a
    refusal is decided again shortly (:class:`CaseInProgressError`, retried by the router), for
    at most ``CASE_PATIENCE`` s, so nothing stuck in hand can hold the case for ever.
    """
    if inbound.waited < CASE_PATIENCE and await store.earlier_in_hand(envelope.case_id,
                                                                      envelope.id):
        raise CaseInProgressError(
            f"another message of case {envelope.case_id} is still being recorded")


def authorise(envelope: Envelope, sender: Participant, registry: Registry) -> Participant:
    """The sender may send this type; the recipient exists and may receive it."""
    if envelope.type not in sender.sends:
        raise Refusal(ReasonCode.UNAUTHORISED_TYPE, f"{sender.id} may not send {envelope.type}")
    recipient = registry.get(envelope.recipient)
    if recipient is None:
        raise Refusal(ReasonCode.UNAUTHORISED_RECIPIENT, f"{envelope.recipient} is not registered")
    if envelope.type not in recipient.receives:
        raise Refusal(
            ReasonCode.UNAUTHORISED_RECIPIENT, f"{recipient.id} does not receive {envelope.type}"
        )
    return recipient


def check_active(participant: Participant) -> None:
    """A suspended participant neither sends nor receives (its inbox is kept)."""
    if participant.status == "suspended":
        raise Refusal(ReasonCode.PARTICIPANT_SUSPENDED, f"{participant.id} is suspended")


async def check_conversation(store: MessageStore, envelope: Envelope) -> None:
    """An answer must answer a message the hub routed between the same two parties, in the same
    case and conversation, of a type it may answer."""
    spec = MESSAGE_SPECS[envelope.type]
    if envelope.in_reply_to is None or not spec.replies_to:
        return
    original = await store.get(envelope.in_reply_to)
    if original is not None and original.status == PROCESSING:
        # The recipient answered between our confirmed publish and our record of it: a few
        # milliseconds. Try again shortly rather than refuse a genuine answer.
        raise OriginalInProgressError(f"{original.id} is still being routed")
    if original is None or original.status not in ANSWERABLE:
        raise Refusal(ReasonCode.UNKNOWN_CONVERSATION,
                      f"in_reply_to {envelope.in_reply_to} names no message routed by the hub")
    expected = (original.sender, original.recipient) if spec.follows_up else (
        original.recipient, original.sender)
    if (envelope.sender, envelope.recipient) != expected:
        raise Refusal(ReasonCode.UNKNOWN_CONVERSATION,
                      f"message {original.id} is not between {envelope.sender} and "
                      f"{envelope.recipient} in this direction")
    if (original.conversation_id, original.case_id) != (envelope.conversation_id,
                                                       envelope.case_id):
        raise Refusal(ReasonCode.UNKNOWN_CONVERSATION,
                      f"message {original.id} belongs to another case or conversation")
    if "*" not in spec.replies_to and original.type not in spec.replies_to:
        raise Refusal(ReasonCode.UNKNOWN_CONVERSATION,
                      f"{envelope.type} cannot answer {original.type}")


# -- the pipeline ------------------------------------------------------------------------------

PipelineSettings = Limits  # steps 1 and 5 are the pipeline's only numbers


CurrentConfig = Callable[[], Awaitable[Active]]


class Pipeline:
    """``current`` gives the committed configuration before each decision (hub.ops.reload);
    without it the pipeline decides under the registry, policy and agreements it was given."""

    def __init__(
        self, *, registry: Registry, policy: Policy, agreements: Agreements,
        store: MessageStore, settings: PipelineSettings, clock: Clock,
        current: CurrentConfig | None = None,
    ) -> None:
        self.agreements = agreements
        self.registry = registry
        self.policy = policy
        self.current = current
        self.store = store
        self.timeouts = TimeoutTable(store.db)
        self.settings = settings
        self.clock = clock

    async def process(self, inbound: Inbound) -> Outcome:
        """Run the steps in order; the first refusal ends it. One configuration throughout."""
        stamp: Stamp | None = None
        registry, policy, agreements = self.registry, self.policy, self.agreements
        if self.current is not None:
            active = await self.current()
            stamp = active.stamp
            registry, policy = active.bundle.registry, active.bundle.policy
            agreements = active.bundle.agreements
        now = self.clock()
        state = _State(inbound, registry, stamp)
        try:
            auth = authenticate(inbound.body, inbound.user_id, registry, now,
                                limits=self.settings, into=state.auth,
                                message_id=inbound.message_id)
            envelope, sender, document = _authenticated(auth)
            check_lifetime(envelope, agreements)
            state.digest = auth.content_sha256 or content_hash(document)
            original = await check_duplicate(self.store, envelope, inbound, now, state.digest)
            if original is not None:
                return Duplicate(envelope=envelope, sender=sender, original=original)
            state.claimed = True
            check_active(sender)
            recipient = authorise(envelope, sender, registry)
            check_active(recipient)
            check_admitted(sender, recipient)
            try:
                await check_conversation(self.store, envelope)
                await check_timeout_rules(self.timeouts, envelope, agreements)
                await check_escalation_rules(self.store.db, envelope)
                info_rule = await check_information(self.store.db, envelope, sender, recipient,
                                                    policy)
            except Refusal:
                await wait_for_case(self.store, envelope, inbound)
                raise
            decision = policy.evaluate(envelope, document, recipient, now)
        except Refusal as refusal:
            return state.refuse(refusal, policy.version)
        return Route(envelope=envelope, body=inbound.body, sender=sender, recipient=recipient,
                     policy_version=decision.version, rule=decision.rule, stamp=stamp,
                     info_rule=info_rule)


def _authenticated(auth: Authentication) -> tuple[Envelope, Participant, dict[str, Any]]:
    if auth.envelope is None or auth.sender is None or auth.document is None:
        raise RuntimeError("authenticate() returned without envelope, sender or document")
    return auth.envelope, auth.sender, auth.document


class _State:
    """What the pipeline learned before it stopped, to word the refusal."""

    def __init__(self, inbound: Inbound, registry: Registry, stamp: Stamp | None) -> None:
        self.inbound = inbound
        self.registry = registry
        self.stamp = stamp
        self.auth = Authentication()
        self.claimed = False
        self.digest: str | None = None

    def refuse(self, refusal: Refusal, policy_version: str) -> Refuse:
        policy = refusal if isinstance(refusal, PolicyRefusal) else None
        notify = self.registry.by_broker_user(self.inbound.user_id or "")
        envelope = self.auth.envelope
        document = self.auth.document or {}
        return Refuse(
            reason=refusal.reason,
            detail=refusal.detail,
            message_id=envelope.id if envelope else (
                message_id_of(document) or _uuid(self.inbound.message_id)),
            notify=notify if notify is not None and notify.kind != "hub" else None,
            envelope=envelope,
            claimed=self.claimed,
            rule=policy.rule if policy else None,
            field_paths=tuple(refusal.field_paths),
            policy_version=policy_version if policy else None,
            stamp=self.stamp,
            case_id=envelope.case_id if envelope else _case_id(document.get("case_id")),
            conversation_id=envelope.conversation_id if envelope else _uuid(
                document.get("conversation_id")),
            content_sha256=self.digest,
        )


def _uuid(value: Any) -> UUID | None:
    """``value`` as a UUID, when it is a string that reads as one."""
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _case_id(value: Any) -> str | None:
    """A case id read from a message that did not validate, when it is a valid case id (and so
    carries no BSN-like run of digits)."""
    if not isinstance(value, str) or not _CASE_ID.fullmatch(value):
        return None
    try:
        return validate_case_id(value)
    except ValueError:
        return None


_CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
