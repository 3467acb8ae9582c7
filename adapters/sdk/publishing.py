"""Publishing until the broker confirms: the same bytes, the same id, as often as it takes.

A publish whose confirm was lost with a broker node (a connection closed, a channel gone while
it reconnects to another node, a nack from a queue that lost its leader, no answer at all) may
still have reached the broker. Publishing the very same signed bytes again is safe: the hub's
duplicate step recognises the id and routes nothing twice, and a recipient's SDK drops an id it
has handled. So :meth:`HubClient.send` retries such failures, with backoff, for at most
``within`` seconds (``MAATWERK_PUBLISH_PATIENCE``), and raises the last error after that. Errors
that another attempt cannot mend (access refused, an unknown exchange) are raised at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import stamina
from aio_pika.exceptions import AMQPConnectionError, ChannelInvalidStateError, DeliveryError

log = logging.getLogger("maatwerk.sdk")

#: Failures after which the broker may or may not hold the message: publish it again.
RETRIED: tuple[type[Exception], ...] = (
    TimeoutError, ConnectionError, AMQPConnectionError, ChannelInvalidStateError, DeliveryError,
)


async def publish_until_confirmed(
    publish: Callable[[], Awaitable[None]], *, message_id: str, within: float,
    attempt_timeout: float = 5.0,
) -> int:
    """Call ``publish`` (one publish of fixed bytes, awaiting its confirm) until it succeeds.

    Each attempt may take ``attempt_timeout`` s; the attempts stop ``within`` s after the first.
    Returns the number of attempts that failed before the confirm came.
    """
    failed = 0
    async for attempt in stamina.retry_context(
            on=RETRIED, attempts=None, timeout=within, wait_initial=0.25, wait_max=2.0,
            wait_jitter=0.25):
        with attempt:
            try:
                await asyncio.wait_for(publish(), attempt_timeout)
            except RETRIED as exc:
                failed += 1
                log.warning("publish not confirmed, sending the same bytes again",
                            extra={"event": "publish_retry", "message_id": message_id,
                                   "attempt": failed, "error": type(exc).__name__})
                raise
    return failed
