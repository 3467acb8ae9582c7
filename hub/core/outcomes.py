"""What the pipeline decides about one inbound message: route it, refuse it, or answer a duplicate.

The outcome types live apart from the pipeline that makes them, so the router, the audit entries
and the benchmarks can name them without importing the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from hub.contract.errors import ReasonCode
from hub.contract.messages import Envelope
from hub.contract.registry import Participant
from hub.state.config_versions import Stamp
from hub.state.database import StoreUnavailableError
from hub.state.seen import MessageRecord


class OriginalInProgressError(StoreUnavailableError):
    """An answer arrived before the hub finished recording its original: retry, don't refuse."""


class CaseInProgressError(OriginalInProgressError):
    """A refusal by the case's state while another message of the case is still being recorded:
    decide again shortly (the state may be about to change), don't refuse yet."""


@dataclass(frozen=True)
class Inbound:
    """One delivery from the hub's inbound queue, as the broker handed it over."""

    body: bytes
    user_id: str | None
    redelivered: bool = False
    message_id: str | None = None  # the AMQP property; must equal the envelope id
    replay: bool = False
    """Sent back from the dead letters (:mod:`hub.core.replay`): a refusal may be re-decided."""
    waited: float = 0.0
    """Seconds this delivery has been retried in this process (the router sets it)."""


@dataclass(frozen=True)
class Route:
    """Deliver ``body`` unchanged to ``recipient``'s inbox."""

    envelope: Envelope
    body: bytes
    sender: Participant
    recipient: Participant
    policy_version: str
    rule: str
    stamp: Stamp | None = None  # every version the decision used (None: fixed configuration)
    info_rule: str | None = None
    """For an ``info.request``: the information rule it was matched to (issue 13)."""


@dataclass(frozen=True)
class Refuse:
    """Dead-letter the message and, when the broker named a known participant, tell it why."""

    reason: ReasonCode
    detail: str
    message_id: UUID | None
    notify: Participant | None
    envelope: Envelope | None = None
    claimed: bool = False
    rule: str | None = None
    field_paths: tuple[str, ...] = ()
    policy_version: str | None = None
    case_id: str | None = None  # read from the message even when it did not validate
    conversation_id: UUID | None = None
    content_sha256: str | None = None  # the content digest, when the signature verified
    stamp: Stamp | None = None


@dataclass(frozen=True)
class Duplicate:
    """The id was seen before: answer the original outcome again, route nothing."""

    envelope: Envelope
    sender: Participant
    original: MessageRecord


Outcome = Route | Refuse | Duplicate
