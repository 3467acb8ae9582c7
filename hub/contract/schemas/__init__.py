"""Everything under ``schemas/``, generated from the models, byte for byte the same on every run.

- ``json/<type>.schema.json``: a JSON Schema (draft 2020-12) per message type, and
  ``json/registry.schema.json`` for the participant registry;
- ``asyncapi.yaml``: the AsyncAPI 3.0.0 description of the broker topology and the messages;
- ``test-vectors/``: fixed keys, signed messages and refusals, and JCS examples, so that a team in
  another language can check its canonicalisation and signing with nothing but these files.

:func:`export` writes the tree; :func:`stale` names what differs from a directory on disk. Both use
:func:`render`, the single in-memory rendering of the tree.

The package is split by what it writes: :mod:`.json_schema`, :mod:`.asyncapi`, :mod:`.vectors`
(with the keys in :mod:`.vector_keys`) and :mod:`.files` (the tree, export and check).
"""

from hub.contract.schemas.asyncapi import asyncapi_document
from hub.contract.schemas.files import export, render, stale, stale_report
from hub.contract.schemas.json_schema import message_schema, registry_schema
from hub.contract.schemas.vector_keys import TEST_KEYS, vector_registry

__all__ = [
    "TEST_KEYS",
    "asyncapi_document",
    "export",
    "message_schema",
    "registry_schema",
    "render",
    "stale",
    "stale_report",
    "vector_registry",
]
