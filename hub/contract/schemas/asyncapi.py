"""The AsyncAPI 3.0.0 document: the broker topology, its properties and headers, the messages."""

from __future__ import annotations

from typing import Any

from hub.contract import names
from hub.contract.errors import ReasonCode
from hub.contract.messages import MESSAGE_SPECS, SCHEMA_VERSION
from hub.contract.schemas.common import GENERATED, SIGNATURE_RULE

_AMQP_BINDING = "0.3.0"


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
        "bindings": {"amqp": {"messageType": type_name, "bindingVersion": _AMQP_BINDING}},
        "x-amqp-properties": {
            "message_id": "the envelope id",
            "user_id": "the broker user of the sender (registry broker_user); the broker checks it",
            "delivery_mode": 2,
            "content_type": "application/json",
            "type": type_name,
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
                    "that participant's broker user may consume it."
                ),
                "parameters": {
                    "participant": {
                        "description": "Participant id from the registry, e.g. gm0193 or cjib.",
                    }
                },
                "messages": _channel_messages(),
                "bindings": {
                    "amqp": {
                        "is": "queue",
                        "queue": {
                            "name": names.inbox("{participant}"), "durable": True,
                            "exclusive": False, "autoDelete": False, "vhost": "/",
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
                    "headers": {
                        "type": "object",
                        "properties": {
                            names.HEADER_REASON: {
                                "type": "string", "enum": [*reasons, "poison"],
                                "description": "Reason code of the refusal, or poison.",
                            },
                            names.HEADER_DETAIL: {
                                "type": "string",
                                "description": "One line explaining the reason; no field values.",
                            },
                            names.HEADER_SOURCE: {
                                "type": "string",
                                "description": "Broker user (participant) that published it.",
                            },
                        },
                        "required": [names.HEADER_REASON, names.HEADER_DETAIL],
                    },
                    "payload": {"description": "The original bytes, unchanged."},
                },
            },
        },
    }

