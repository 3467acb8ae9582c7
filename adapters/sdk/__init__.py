"""The Maatwerk Hub adapter SDK: what an agency or municipality adapter needs, and no more.

The public API is exactly :data:`__all__` (guarded by tests/unit/test_sdk_api.py); everything
else in the package is internal and may change.
"""

from adapters.sdk.backoffice import BackOffice, BackOfficeAnswer
from adapters.sdk.client import Delivery, GiveUp, Handler, HubClient, Reply
from adapters.sdk.config import AdapterSettings, describe_variables
from adapters.sdk.errors import AdapterError, PermanentError, TransientError

__all__ = [
    "AdapterError",
    "AdapterSettings",
    "BackOffice",
    "BackOfficeAnswer",
    "Delivery",
    "GiveUp",
    "Handler",
    "HubClient",
    "PermanentError",
    "Reply",
    "TransientError",
    "describe_variables",
]
