"""Free TCP ports on this machine, for the listeners that tests, benchmarks, the demo and the
sandbox's own RabbitMQ nodes open (the one place this is written)."""

from __future__ import annotations

import socket
from collections.abc import Sequence

# The default RabbitMQ node's ports (AMQPS, AMQP, management, distribution, CLI): never handed
# out, so a sandbox node or a test listener can not take them while that node is down.
RESERVED = (5671, 5672, 15672, 25672, 35672)


def free_port(avoid: Sequence[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now, none of :data:`RESERVED` or ``avoid``.

    The OS picks it; it stays free until someone binds it, so bind soon after asking."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in (*RESERVED, *avoid):
            return port
