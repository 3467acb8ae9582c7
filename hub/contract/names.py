"""Names of the broker topology: the published contract of where messages go.

- ``maatwerk.inbound`` (exchange, direct): every participant publishes here with routing
  key ``inbound``.
- ``maatwerk.hub.inbound`` (quorum queue): bound to it; hub replicas consume it.
- ``maatwerk.deliver`` (exchange, direct): the hub publishes verified messages here with the
  recipient's participant id as routing key.
- ``maatwerk.inbox.<participant>`` (quorum queue): one per participant, bound with its id.
- ``maatwerk.dead-letter`` (exchange, fanout) and ``maatwerk.dead-letter`` (quorum queue): refused
  and poison messages, with the reason in the headers ``x-maatwerk-reason``,
  ``x-maatwerk-detail`` and ``x-maatwerk-source``.
"""

from __future__ import annotations

INBOUND_EXCHANGE = "maatwerk.inbound"
INBOUND_ROUTING_KEY = "inbound"
HUB_QUEUE = "maatwerk.hub.inbound"
DELIVER_EXCHANGE = "maatwerk.deliver"
DEAD_LETTER_EXCHANGE = "maatwerk.dead-letter"
DEAD_LETTER_QUEUE = "maatwerk.dead-letter"
INBOX_PREFIX = "maatwerk.inbox."

HEADER_REASON = "x-maatwerk-reason"
HEADER_DETAIL = "x-maatwerk-detail"
HEADER_SOURCE = "x-maatwerk-source"


def inbox(participant_id: str) -> str:
    """The inbox queue of a participant."""
    return f"{INBOX_PREFIX}{participant_id}"
