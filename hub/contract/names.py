"""Names of the broker topology: the published contract of where messages go.

- ``maatwerk.inbound`` (exchange, direct): every participant publishes here with routing
  key ``inbound``.
- ``maatwerk.hub.inbound`` (quorum queue): bound to it; hub replicas consume it.
- ``maatwerk.deliver`` (exchange, direct): the hub publishes verified messages here with the
  recipient's participant id as routing key.
- ``maatwerk.inbox.<participant>`` (quorum queue): one per participant, bound with its id.
- ``maatwerk.dead-letter`` (exchange, fanout) and ``maatwerk.dead-letter`` (quorum queue): refused
  and poison messages, with the reason in the headers ``x-maatwerk-reason``,
  ``x-maatwerk-detail`` and ``x-maatwerk-source`` (``hub``, ``adapter:<id>``, or absent when
  the broker dead-lettered it: then ``x-death`` says why); the hub also seals the original
  ``user_id`` in ``x-maatwerk-user-id`` / ``x-maatwerk-seal``. Participants may publish here too
  (an adapter's reject, with its reason), as their own ``user_id``.
- ``maatwerk.replay`` (exchange, direct) and ``maatwerk.hub.replay`` (quorum queue): dead letters
  sent back by ``maatwerk-hub deadletters replay``; only hub users may publish here, and the hub
  acts only on sealed requests (:mod:`hub.core.deadletters`).

Deliveries to an inbox carry ``x-maatwerk-sender`` (the envelope sender) and, on a routed
participant message, ``x-maatwerk-rule`` and ``x-maatwerk-policy-version`` (the policy rule
that allowed it). The AsyncAPI document lists them all; a test compares it with real deliveries.
"""

from __future__ import annotations

INBOUND_EXCHANGE = "maatwerk.inbound"
INBOUND_ROUTING_KEY = "inbound"
HUB_QUEUE = "maatwerk.hub.inbound"
DELIVER_EXCHANGE = "maatwerk.deliver"
DEAD_LETTER_EXCHANGE = "maatwerk.dead-letter"
DEAD_LETTER_QUEUE = "maatwerk.dead-letter"
INBOX_PREFIX = "maatwerk.inbox."
REPLAY_EXCHANGE = "maatwerk.replay"
REPLAY_QUEUE = "maatwerk.hub.replay"
REPLAY_ROUTING_KEY = "replay"

HEADER_REASON = "x-maatwerk-reason"
HEADER_DETAIL = "x-maatwerk-detail"
HEADER_SOURCE = "x-maatwerk-source"
HEADER_USER_ID = "x-maatwerk-user-id"
HEADER_SEAL = "x-maatwerk-seal"
HEADER_QUEUE = "x-maatwerk-queue"
HEADER_REPLAY = "x-maatwerk-replay"
HEADER_REPLAY_TO = "x-maatwerk-replay-to"
HEADER_SENDER = "x-maatwerk-sender"
HEADER_RULE = "x-maatwerk-rule"
HEADER_POLICY_VERSION = "x-maatwerk-policy-version"
HUB_SOURCE = "hub"


def inbox(participant_id: str) -> str:
    """The inbox queue of a participant."""
    return f"{INBOX_PREFIX}{participant_id}"
