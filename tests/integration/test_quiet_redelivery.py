"""Issue 16: a redelivery the hub caused itself is finished quietly.

A replica that recorded a message and died before acknowledging it leaves the broker to redeliver
the message (``redelivered`` set). The record is decided already: the surviving replica acks it
and sends nothing, in particular no ``notice.duplicate`` to a sender that published once. A copy
the *sender* published again is a new delivery and is still answered as a duplicate.
"""

from __future__ import annotations

import asyncio

import pytest

from hub.core.outcomes import Inbound
from hub.service import HubService
from tests.conftest import ClientFactory
from tests.helpers import collect, settled, timeout_request_body
from tests.resilience.common import wait_until

pytestmark = [pytest.mark.broker]


async def test_a_redelivered_decided_message_is_acked_without_a_notice(
    hub: HubService, client: ClientFactory,
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    notices = await collect(gm, "notice.duplicate")
    delivered = await collect(cjib, "timeout.request")
    document = gm.message(type="timeout.request", recipient="cjib", case_id="QUIET-1",
                          body=timeout_request_body("cjib"))
    raw = gm.sign(document)
    await gm.publish_raw(raw, message_id=document["id"])
    await wait_until(lambda: len(delivered) == 1, 20, "routed once")
    await settled(hub)  # the hub's record is committed: the ack is all that could be lost

    # What the broker hands the surviving replica after the first one died before its ack:
    # the same bytes, from the same broker user, flagged redelivered.
    user = gm.participant.broker_user
    await hub.router._with_retry(Inbound(body=raw, user_id=user, redelivered=True,
                                         message_id=document["id"]))
    await asyncio.sleep(1.5)
    assert notices == [], "a redelivery the hub caused itself is not the sender's duplicate"
    assert len(delivered) == 1, "and the recipient does not get it again"
    assert hub.metrics.redeliveries_finished._value.get() == 1
    assert hub.metrics.duplicates._value.get() == 0

    # The sender publishing the same id again is a duplicate, and is told so.
    await gm.publish_raw(raw, message_id=document["id"])
    await wait_until(lambda: len(notices) == 1, 20, "the sender's copy answered")
    assert str(notices[0].envelope.body.original_message_id) == document["id"]  # type: ignore[union-attr]
    assert len(delivered) == 1
