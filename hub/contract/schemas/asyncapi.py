"""The AsyncAPI 3.0.0 document: the broker topology, its properties and headers, the messages."""

from __future__ import annotations

from typing import Any

from hub.contract import names
from hub.contract.errors import ReasonCode
from hub.contract.messages import MESSAGE_SPECS, SCHEMA_VERSION
from hub.contract.schemas.common import (
    EXTENSIONS_RULE,
    GENERATED,
    RECEIPT_ID_RULE,
    SIGNATURE_RULE,
)
from hub.contract.schemas.readmes import DUPLICATE_RULE

_AMQP_BINDING = "0.3.0"
_S = {"type": "string"}

# What is on the wire, per channel: the AMQP basic properties and the headers, exactly as they
# are set (by the participant on inbound, by the hub on inbox and dead-letter deliveries). A
# test publishes through a real broker and compares every delivery with these tables.
AMQP_PROPERTIES: dict[str, dict[str, dict[str, Any]]] = {
    "inbound": {
        "message_id": {"required": True, "description": (
            "The envelope id, character for character; else refused with message_id_mismatch.")},
        "user_id": {"required": True, "description": (
            "Your broker user (registry broker_user); the broker refuses any other.")},
        "delivery_mode": {"required": True, "const": 2, "description": "Persistent."},
        "content_type": {"required": False, "const": "application/json"},
    },
    "inbox": {
        "message_id": {"required": True, "description": "The envelope id."},
        "type": {"required": True, "description": "The envelope type, e.g. timeout.request."},
        "content_type": {"required": True, "const": "application/json"},
        "delivery_mode": {"required": True, "const": 2},
    },
    "deadLetter": {
        "message_id": {"required": False, "description": (
            "The envelope id when it could be read, else the publisher's message_id.")},
        "delivery_mode": {"required": True, "const": 2},
        "timestamp": {"required": False, "description": (
            "When the hub or an adapter dead-lettered it (the age that retention counts).")},
        "user_id": {"required": False, "description": (
            "An adapter's dead letter: the adapter's own broker user (validated by RabbitMQ).")},
        "type": {"required": False, "description": "An adapter's dead letter: the message type."},
        "content_type": {"required": False, "const": "application/json"},
    },
}
_DELIVERY_COUNT = {"required": False, "description": (
    "Set by RabbitMQ (quorum queues), not by the hub: earlier deliveries of this message.")}
AMQP_HEADERS: dict[str, dict[str, dict[str, Any]]] = {
    "inbound": {},
    "inbox": {
        names.HEADER_SENDER: {"required": True, "description": (
            "The envelope sender (hub for the hub's own messages). Informative: trust only the "
            "verified signature.")},
        names.HEADER_RULE: {"required": False, "description": (
            "On a routed participant message: the policy rule that allowed it.")},
        names.HEADER_POLICY_VERSION: {"required": False, "description": (
            "On a routed participant message: the policy version that allowed it.")},
        "x-maatwerk-redelivered": {"required": False, "description": (
            "true on a dead letter the hub delivered again (maatwerk-hub deadletters replay).")},
        "x-delivery-count": _DELIVERY_COUNT,
    },
    "deadLetter": {
        names.HEADER_REASON: {"required": True, "description": "Reason code, or poison."},
        names.HEADER_DETAIL: {"required": True, "description": (
            "One line explaining the reason; no field values.")},
        names.HEADER_SOURCE: {"required": True, "description": (
            "Who dead-lettered it: hub (a refusal) or adapter:<id> (an SDK adapter gave up); a "
            "poison message dead-lettered by the queue's delivery limit carries RabbitMQ's "
            "x-death instead of these headers.")},
        names.HEADER_USER_ID: {"required": False, "description": (
            "A refusal: the broker user that published it (empty when the message had no "
            "user_id).")},
        names.HEADER_SEAL: {"required": False, "description": (
            "A refusal: HMAC of the hub's key over x-maatwerk-user-id and the body's SHA-256; "
            "a replay trusts the user id only under a valid seal.")},
        names.HEADER_QUEUE: {"required": False, "description": (
            "An adapter's dead letter: the inbox it was taken from.")},
        "x-delivery-count": _DELIVERY_COUNT,
    },
}


def _headers_schema(channel: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    table = AMQP_HEADERS[channel]
    properties = {
        name: {**_S, **({"const": v["const"]} if "const" in v else {}),
               **({"description": v["description"]} if "description" in v else {}),
               **(extra or {}).get(name, {})}
        for name, v in table.items()
    }
    return {"type": "object", "properties": properties,
            "required": [n for n, v in table.items() if v["required"]]}


def _wire(channel: str) -> dict[str, Any]:
    return {"properties": AMQP_PROPERTIES[channel], "headers": AMQP_HEADERS[channel]}


def _message_component(type_name: str) -> dict[str, Any]:
    spec = MESSAGE_SPECS[type_name]
    return {
        "name": type_name,
        "title": type_name,
        "summary": spec.summary,
        "contentType": "application/json",
        "payload": {"$ref": f"./json/{type_name}.schema.json"},
        "correlationId": {
            "description": "Messages of one exchange share conversation_id.",
            "location": "$message.payload#/conversation_id",
        },
        "headers": {**_headers_schema("inbox"), "required": [], "description": (
            "Headers of an inbox delivery (set by the hub); publish to the inbound exchange "
            "with none. The channel's x-maatwerk-amqp says which are set where.")},
        "bindings": {"amqp": {"messageType": type_name, "bindingVersion": _AMQP_BINDING}},
        "x-maatwerk": {
            "needs_receipt": spec.needs_receipt,
            "answered_by": list(spec.responses),
            "answers": list(spec.replies_to),
        },
    }


def _channel_messages() -> dict[str, Any]:
    return {t: {"$ref": f"#/components/messages/{t}"} for t in MESSAGE_SPECS}


def _operation_messages(channel: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{t}"} for t in MESSAGE_SPECS]


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the hub's broker contract."""
    reasons = [r.value for r in ReasonCode]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Maatwerk Hub",
            "version": SCHEMA_VERSION,
            "description": (
                "Signed, minimal case messages between municipalities, agencies, the Landelijk "
                "Maatwerkloket and the Landelijk Escalatie Team, routed by the hub over "
                "RabbitMQ.\n\n"
                "Every participant publishes to the inbound exchange and consumes its own inbox "
                "queue. The hub checks each message (schema, broker user, signature and key, "
                "expiry, authorisation, data-sharing policy) and delivers it to the recipient's "
                "inbox or refuses it: the sender gets a notice.refused and the original goes to "
                "the dead-letter queue.\n\n"
                f"Signature: {SIGNATURE_RULE}\n\n"
                f"Duplicates: {DUPLICATE_RULE}\n\n"
                f"Receipts and answers: {RECEIPT_ID_RULE} Which types need a receipt and which "
                "answers each expects: x-maatwerk on every message, and schemas/README.md.\n\n"
                "Properties and headers: each channel's x-maatwerk-amqp lists every AMQP "
                "property and header on it, as the hub sets them (required: always present).\n\n"
                f"Extensions: {EXTENSIONS_RULE} In this document x-maatwerk and x-maatwerk-amqp "
                "are specification extensions (AsyncAPI allows x- fields).\n\n"
                f"{GENERATED}\n"
            ),
            "license": {"name": "EUPL-1.2"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "amqp": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "Development broker (compose); plain AMQP on localhost only.",
            },
            "amqps": {
                "host": "broker.maatwerkhub.example:5671",
                "protocol": "amqps",
                "protocolVersion": "0.9.1",
                "description": "Production broker: TLS, one broker user per participant.",
            },
        },
        "channels": {
            "inbound": {
                "address": names.INBOUND_EXCHANGE,
                "title": "Inbound exchange",
                "description": (
                    f"Every participant publishes here with routing key "
                    f"'{names.INBOUND_ROUTING_KEY}'. The hub consumes the bound queue "
                    f"'{names.HUB_QUEUE}'."
                ),
                "messages": _channel_messages(),
                "x-maatwerk-amqp": _wire("inbound"),
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": names.INBOUND_EXCHANGE, "type": "direct", "durable": True,
                            "autoDelete": False, "vhost": "/",
                        },
                        "bindingVersion": _AMQP_BINDING,
                    }
                },
            },
            "inbox": {
                "address": names.inbox("{participant}"),
                "title": "Participant inbox",
                "description": (
                    f"Quorum queue of one participant, bound to the exchange "
                    f"'{names.DELIVER_EXCHANGE}' with the participant id as routing key. Only "
                    "that participant's broker user may consume it.\n\n"
                    "Do not declare this queue; consume it as it is. The hub's topology declares "
                    "it (arguments in the binding below), and a participant's broker user may "
                    "configure nothing: a queue.declare (amqplib assertQueue, pika "
                    "queue_declare) is refused with 403 ACCESS_REFUSED. Call basic.consume on "
                    "the name (amqplib channel.consume) with manual acknowledgement."
                ),
                "parameters": {
                    "participant": {
                        "description": "Participant id from the registry, e.g. gm0193 or cjib.",
                    }
                },
                "messages": _channel_messages(),
                "x-maatwerk-amqp": _wire("inbox"),
                "bindings": {
                    "amqp": {
                        "is": "queue",
                        "queue": {
                            "name": names.inbox("{participant}"), "durable": True,
                            "exclusive": False, "autoDelete": False, "vhost": "/",
                            "x-declared-by": "the hub: do not declare; consume as is",
                            "x-arguments": {
                                "x-queue-type": "quorum",
                                "x-dead-letter-exchange": names.DEAD_LETTER_EXCHANGE,
                                "x-delivery-limit": "MAATWERK_DELIVERY_LIMIT (default 5)",
                            },
                        },
                        "bindingVersion": _AMQP_BINDING,
                    }
                },
            },
            "deadLetter": {
                "address": names.DEAD_LETTER_QUEUE,
                "title": "Dead-letter queue",
                "description": (
                    f"Refused and poison messages, fanned out from the exchange "
                    f"'{names.DEAD_LETTER_EXCHANGE}'. The body is the original bytes; the "
                    "headers say why. For operators, never for participants."
                ),
                "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
                "x-maatwerk-amqp": _wire("deadLetter"),
                "bindings": {
                    "amqp": {
                        "is": "queue",
                        "queue": {
                            "name": names.DEAD_LETTER_QUEUE, "durable": True, "exclusive": False,
                            "autoDelete": False, "vhost": "/",
                        },
                        "bindingVersion": _AMQP_BINDING,
                    }
                },
            },
        },
        "operations": {
            "sendToHub": {
                "action": "send",
                "title": "A participant sends a message to the hub",
                "channel": {"$ref": "#/channels/inbound"},
                "messages": _operation_messages("inbound"),
                "bindings": {
                    "amqp": {
                        "deliveryMode": 2,
                        "userId": "the participant's broker_user",
                        "mandatory": True,
                        "ack": True,
                        "bindingVersion": _AMQP_BINDING,
                    }
                },
            },
            "receiveFromInbox": {
                "action": "receive",
                "title": "A participant receives from its own inbox",
                "description": (
                    "Acknowledge only after the message is stored durably, then send a signed "
                    "receipt when the type needs one."
                ),
                "channel": {"$ref": "#/channels/inbox"},
                "messages": _operation_messages("inbox"),
                "bindings": {"amqp": {"ack": True, "bindingVersion": _AMQP_BINDING}},
            },
            "receiveDeadLetters": {
                "action": "receive",
                "title": "Operators inspect refused and poison messages",
                "channel": {"$ref": "#/channels/deadLetter"},
                "messages": [{"$ref": "#/channels/deadLetter/messages/deadLetter"}],
            },
        },
        "components": {
            "messages": {
                **{t: _message_component(t) for t in MESSAGE_SPECS},
                "deadLetter": {
                    "name": "deadLetter",
                    "title": "Refused or poison message",
                    "summary": "The original message bytes, with the reason in the headers.",
                    "headers": _headers_schema("deadLetter", {
                        names.HEADER_REASON: {"enum": [*reasons, "poison"]}}),
                    "payload": {"description": "The original bytes, unchanged."},
                },
            },
        },
    }

