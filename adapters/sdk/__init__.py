"""The Maatwerk Hub adapter SDK: what an agency or municipality adapter needs, and no more."""

from adapters.sdk.client import Delivery, Handler, HubClient, Reply
from adapters.sdk.errors import AdapterError, PermanentError, TransientError

__all__ = [
    "AdapterError",
    "Delivery",
    "Handler",
    "HubClient",
    "PermanentError",
    "Reply",
    "TransientError",
]
