"""Errors a handler raises to tell the SDK what to do with a message.

Exception tree::

    AdapterError
    ├── TransientError    try again later: the message returns to the inbox (delivery limit applies)
    └── PermanentError    will never succeed: the message goes to the dead-letter queue
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of the adapter SDK's errors."""


class TransientError(AdapterError):
    """The handler may succeed later (back office down, timeout)."""


class PermanentError(AdapterError):
    """The handler will never succeed for this message."""
