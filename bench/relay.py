"""The bare relay the hub is measured against: consume, publish with confirm, ack. Nothing else.

Same shape as the hub's router (``hub/core/router.py``) without the pipeline and the state: a
consumer
on ``bench.relay.inbound`` (quorum queue, prefetch 64 like the hub, one task per delivery), a
persistent, mandatory, confirmed publish of the unchanged body to ``bench.relay.deliver`` with the
recipient as routing key (taken from the ``x-bench-recipient`` header instead of the verified
envelope), then the ack. Run as ``python -m bench.relay`` so it gets its own process like the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from bench.topology import RECIPIENT_HEADER, RELAY_DELIVER, RELAY_INBOUND


async def relay(url: str, prefetch: int) -> None:
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await channel.set_qos(prefetch_count=prefetch)
    deliver: AbstractExchange = await channel.get_exchange(RELAY_DELIVER)
    queue = await channel.get_queue(RELAY_INBOUND)

    async def on_message(message: AbstractIncomingMessage) -> None:
        try:
            recipient = str((message.headers or {}).get(RECIPIENT_HEADER, ""))
            await deliver.publish(
                aio_pika.Message(
                    message.body, message_id=message.message_id, type="timeout.request",
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers={"x-maatwerk-sender": str(message.user_id or "")},
                ),
                routing_key=recipient, mandatory=True,
            )
            await message.ack()
        except Exception:
            await message.nack(requeue=True)

    tag = await queue.consume(on_message)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await queue.cancel(tag)
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1/"))
    parser.add_argument("--prefetch", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(relay(args.url, args.prefetch))


if __name__ == "__main__":
    main()
