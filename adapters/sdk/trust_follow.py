"""Wire the signed trust document into an SDK client: what a reference adapter runs.

Configured with ``MAATWERK_TRUST_AUTHORITY`` (the registry authority's public key, base64url;
unset: none of this runs) and optionally ``MAATWERK_TRUST_URL`` (the hub's ``/trust``) and/or
``MAATWERK_TRUST_FILE`` (a published file), read every ``MAATWERK_TRUST_SECONDS``:

1. :func:`attach_trust` opens the store (``<state dir>/trust.json``, verified again), hands its
   registry to the client (a restart works from the last good document), and handles
   ``trust.update``: the document inside is verified under the authority key
   (:meth:`TrustStore.accept`) -- never trusted because the hub signed the message -- and a
   newer one becomes the client's registry. A lower serial, a bad signature, another
   authority's or an expired document is refused: logged, counted (``store.refused``), and the
   message is taken off the inbox (it is genuine; its content is what is refused).
2. :func:`follow_trust` sends a ``trust.query`` (when the registry lets the participant send
   one) so the hub answers with the current document, then follows the URL and/or file.
"""

from __future__ import annotations

import asyncio
import json
import logging

from adapters.sdk.client import HubClient
from adapters.sdk.config import AdapterSettings
from adapters.sdk.delivery import Delivery
from adapters.sdk.trust import TrustStore
from hub.contract.registry import Registry
from hub.contract.trust import TrustError, authority_public_key

log = logging.getLogger("maatwerk.sdk.trust")


def _use(client: HubClient, registry: Registry) -> None:
    try:
        client.use_registry(registry)
    except ValueError as exc:  # this participant is not in the document
        log.error("trust document not used: %s", exc)


def attach_trust(client: HubClient, settings: AdapterSettings) -> TrustStore | None:
    """The client's trust store, handling ``trust.update``; None when no authority is set."""
    if not settings.trust_authority:
        return None
    store = TrustStore.open(settings.trust_store, authority_public_key(settings.trust_authority),
                            on_registry=lambda registry: _use(client, registry),
                            clock=client.clock)
    if store.registry is not None:
        _use(client, store.registry)

    @client.on("trust.update")
    async def on_update(delivery: Delivery) -> None:
        body = delivery.document.get("body") or {}
        raw = json.dumps(body.get("document"), ensure_ascii=False).encode()
        try:
            if store.accept(raw):
                log.info("trust.update accepted: serial %s", body.get("serial"))
        except TrustError as exc:
            log.error("trust.update refused, keeping serial %s: %s",
                      store.current.serial if store.current else None, exc)

    return store


async def query_trust(client: HubClient, store: TrustStore) -> None:
    """Ask the hub for the current document (answered with a ``trust.update``)."""
    if "trust.query" not in client.participant.sends:
        return
    body = {"known_serial": store.current.serial} if store.current else {}
    await client.send(client.message(type="trust.query", recipient=client.registry.hub.id,
                                     case_id="trust", body=body))


async def follow_trust(client: HubClient, store: TrustStore, settings: AdapterSettings,
                       stop: asyncio.Event) -> None:
    """Query once, then follow the configured URL and/or file until ``stop``."""
    try:
        await query_trust(client, store)
    except Exception as exc:  # the URL, the file or the next broadcast still make it current
        log.warning("trust.query not sent: %s", exc)
    tasks = []
    if settings.trust_url:
        tasks.append(store.follow(settings.trust_url, interval=settings.trust_seconds,
                                  stop=stop))
    if settings.trust_file:
        tasks.append(store.follow_file(settings.trust_file, interval=settings.trust_seconds,
                                       stop=stop))
    await asyncio.gather(*tasks)
