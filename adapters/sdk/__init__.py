"""The Maatwerk Hub adapter SDK: what an agency or municipality adapter needs, and no more.

The public API is exactly :data:`__all__` (guarded by tests/unit/test_sdk_api.py); everything
else in the package is internal and may change. It includes every exception the SDK raises or
expects from a handler, the contract's included (the tree: :mod:`hub.contract.errors`), so an
adapter catches them without importing the hub; tests/unit/test_exceptions.py keeps it complete.
"""

from adapters.sdk.backoffice import BackOffice, BackOfficeAnswer
from adapters.sdk.client import HubClient
from adapters.sdk.config import AdapterSettings, describe_variables
from adapters.sdk.delivery import Delivery, GiveUp, Handler, Reply
from adapters.sdk.errors import AdapterError, PermanentError, TransientError
from adapters.sdk.registry_watch import watch_registry
from adapters.sdk.trust import TrustStore
from hub.contract.canonical import JsonError
from hub.contract.errors import ConfigError, HubError, KeyStoreError, PolicyRefusal, Refusal
from hub.contract.trust import TrustError

__all__ = [
    "AdapterError",
    "AdapterSettings",
    "BackOffice",
    "BackOfficeAnswer",
    "ConfigError",
    "Delivery",
    "GiveUp",
    "Handler",
    "HubClient",
    "HubError",
    "JsonError",
    "KeyStoreError",
    "PermanentError",
    "PolicyRefusal",
    "Refusal",
    "Reply",
    "TransientError",
    "TrustError",
    "TrustStore",
    "describe_variables",
    "watch_registry",
]
