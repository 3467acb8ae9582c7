"""A robust AMQP connection over several broker nodes, tried in turn.

aio_pika's robust connection reconnects to the one URL it was given. This subclass picks the next
URL of the list before every connection attempt (the first, and each reconnect), so when the node
it is on goes, the next attempt goes to another node; channels, queues and consumers are restored
there by the robust connection as usual. ``connected`` is clear while no node is reached: a
reconnecting connection is not a live one (readiness reads :func:`is_live`).

The hub has the same class (``hub/core/failover.py``): adapters may import only the hub's
contract, which holds no broker client.
"""

from __future__ import annotations

import logging
from typing import Any

from aio_pika import RobustConnection
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

from hub.contract.brokers import node_of, redact

log = logging.getLogger("maatwerk.sdk.broker")

RECONNECT_SECONDS = 1.0


class FailoverConnection(RobustConnection):
    """:class:`RobustConnection` whose every connection attempt takes the next URL."""

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        self.urls = list(urls)
        self._turn = 0
        self.node: str | None = None
        # aiormq reads the login mechanism from the URL's query (aio_pika.connect puts it there):
        # every node's URL carries it, or a certificate login falls back to PLAIN.
        self._query = {"auth": kwargs["auth"]} if kwargs.get("auth") else {}
        super().__init__(self._url(self.urls[0]), **kwargs)

    def _url(self, url: str) -> URL:
        return URL(url).update_query(self._query) if self._query else URL(url)

    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802 (the hook)
        url = self.urls[self._turn % len(self.urls)]
        self._turn += 1
        self.url = self._url(url)
        # The node of the latest transport; whether it is live is ``connected`` (see is_live).
        # Set before connecting: a transport whose channel restore failed may be kept and
        # repaired in place by the robust connection, without a new attempt.
        self.node = node_of(url)
        connect = super()._RobustConnection__connect_transport  # type: ignore[misc]
        try:
            await connect()
        except Exception as exc:
            log.warning("broker %s not reached: %s", redact(url), exc)
            raise
        log.info("connected to broker node %s", self.node,
                 extra={"event": "broker_connected", "node": self.node})


async def connect_failover(urls: list[str], **kwargs: Any) -> FailoverConnection:
    """Connect to the first node of ``urls`` that answers; on a drop, go on to the next."""
    kwargs.setdefault("reconnect_interval", RECONNECT_SECONDS)
    last: Exception | None = None
    for _ in urls:  # fail fast only when no node answers at all
        connection = FailoverConnection(urls, **kwargs)
        try:
            await connection.connect()
            return connection
        except Exception as exc:
            last = exc
            urls = urls[1:] + urls[:1]
    raise ConnectionError(f"no broker node answered: {last}") from last


def is_live(connection: AbstractRobustConnection | None) -> bool:
    """Connected now (not closed, not reconnecting)."""
    return (connection is not None and not connection.is_closed
            and connection.connected.is_set())
