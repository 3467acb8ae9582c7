"""Every way Maatwerk Hub can say "no", in one place.

Exception tree: every exception the hub, the adapter SDK, the reference adapters and the demo
define and raise on purpose (tests/unit/test_exceptions.py fails when a class is missing here or
the SDK does not export one it can raise)::

    Exception
    ├── HubError                    hub.contract.errors: base of all the hub raises on purpose
    │   ├── ConfigError             a configuration, registry, policy or agreements file, or an
    │   │                           environment variable, is wrong; the message names the entry
    │   ├── KeyStoreError           a private key cannot be generated, read or used
    │   ├── Refusal                 an inbound message is refused; carries a ReasonCode
    │   │   └── PolicyRefusal       refused by the data-sharing policy: rule and field paths
    │   ├── StoreUnavailableError   hub.state.database: the state store cannot be reached or
    │   │   │                       refused a write; the caller retries and loses nothing
    │   │   ├── AuditWriteError     hub.state.audit: an audit record could not be written;
    │   │   │                       nothing may be acknowledged until it is
    │   │   └── OriginalInProgressError  hub.core.outcomes: an answer arrived before its original
    │   │       │                   was recorded; retried, not refused, not counted as a failure
    │   │       └── CaseInProgressError  hub.core.outcomes: a refusal by case state while
    │   │                           another message of the case is in hand; decided again
    │   ├── DeliveryLostError       hub.core.router: the channel a message came on is gone; the
    │   │                           broker redelivers it (no ack, no retry here)
    │   ├── BrokerAdminError        hub.core.broker_admin: the management API refused or could
    │   │                           not be reached
    │   ├── DeadLetterError         hub.ops.deadletters: no such dead letter, or a purge asked
    │   │                           for more than one thing at once
    │   ├── TrustError              hub.contract.trust: a trust document is refused (signature,
    │   │                           authority key, validity or an older serial)
    │   └── DemoError               demo: the demo could not start or a step did not happen in time
    ├── ValueError
    │   ├── JsonError               hub.contract.canonical: bytes that are not acceptable JSON for
    │   │                           a message, or a value that cannot be canonicalised
    │   └── PublishError            adapters.cases: a message a reference adapter would send that
    │                               the hub would refuse; names the field
    └── AdapterError                adapters.sdk.errors: what a handler raises to steer the SDK
        ├── TransientError          try again later: retried in-process, then the give-up answer
        │                           or the dead-letter queue
        └── PermanentError          will never succeed: the message goes to the dead-letter queue

The adapter SDK (``adapters.sdk``) exports every one of these it can raise to its caller or
expects from a handler: the contract's (HubError, ConfigError, KeyStoreError, Refusal,
PolicyRefusal, JsonError, TrustError) and its own (AdapterError, TransientError,
PermanentError). Besides these, the hub and the SDK let builtin errors through for programming
mistakes (``ValueError``
for an unknown message type or participant, ``TypeError`` for an unknown settings field) and the
broker client's errors (aio-pika's ``AMQPError``) for a lost connection.

Every refusal has a named :class:`ReasonCode`. The codes are part of the published contract: they
appear in ``notice.refused`` bodies, in the dead-letter headers and as a metric label.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic_core import PydanticCustomError


class ReasonCode(StrEnum):
    """Why a message was refused. Stable strings: adapters switch on them."""

    OVERSIZE = "oversize"
    MALFORMED_JSON = "malformed_json"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA_VIOLATION = "schema_violation"
    MISSING_USER_ID = "missing_user_id"
    USER_ID_MISMATCH = "user_id_mismatch"
    UNKNOWN_SENDER = "unknown_sender"
    MISSING_SIGNATURE = "missing_signature"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    KEY_NOT_VALID = "key_not_valid"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    CLOCK_SKEW = "clock_skew"
    UNAUTHORISED_TYPE = "unauthorised_type"
    UNAUTHORISED_RECIPIENT = "unauthorised_recipient"
    POLICY_NO_RULE = "policy_no_rule"
    POLICY_FIELD_NOT_ALLOWED = "policy_field_not_allowed"
    POLICY_SPECIAL_CATEGORY = "policy_special_category"
    TIMEOUT_RULE = "timeout_rule"
    ESCALATION_RULE = "escalation_rule"
    BRIDGING_RULE = "bridging_rule"
    ID_REUSED = "id_reused"
    UNKNOWN_CONVERSATION = "unknown_conversation"
    UNROUTABLE = "unroutable"
    PARTICIPANT_NOT_ADMITTED = "participant_not_admitted"
    """A municipality without mandate (bestuurlijke afspraken) in the Maatwerkregister."""
    POLICY_LEGAL_GROUND = "policy_legal_ground"
    """An information request names another legal ground than the information rule's."""
    ID_CONFLICT = "id_conflict"
    MESSAGE_ID_MISMATCH = "message_id_mismatch"
    LIFETIME_EXCEEDED = "lifetime_exceeded"
    PARTICIPANT_SUSPENDED = "participant_suspended"


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """A configuration, registry or policy file is wrong; the message names the entry and field."""


class KeyStoreError(HubError):
    """A private key cannot be generated, read or used."""


class Refusal(HubError):
    """An inbound message is refused with a named reason.

    ``field_paths`` are JSON Pointers (RFC 6901) into the whole message, e.g. ``/body/bsn``:
    the one path style of every refusal.
    """

    def __init__(
        self, reason: ReasonCode, detail: str, *, field_paths: list[str] | None = None
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field_paths = list(field_paths or [])


RULE_ERROR = "contract_rule"


def rule_error(message: str, *fields: str) -> PydanticCustomError:
    """A contract rule across fields failed (raise it in a model validator); names the fields,
    relative to the model, in the error's context so the refusal's field_paths can name them."""
    return PydanticCustomError(RULE_ERROR, message, {"fields": fields})


def json_pointer(*parts: object) -> str:
    """The RFC 6901 JSON Pointer of a path: ``("body", "scope", 0)`` -> ``/body/scope/0``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class PolicyRefusal(Refusal):
    """Refused by the data-sharing policy: names the rule (if any) and the offending field paths."""

    def __init__(
        self, reason: ReasonCode, detail: str, *, rule: str | None, field_paths: list[str]
    ) -> None:
        super().__init__(reason, detail, field_paths=field_paths)
        self.rule = rule
