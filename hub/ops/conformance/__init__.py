"""The conformance kit: test a live adapter, in any language, through the broker.

The kit stands where the hub stands (it signs as the hub and as the senders it plays, delivers
to the adapter's inbox and consumes what the adapter publishes), so it runs on a vhost where no
hub runs. ``maatwerk-hub conformance PARTICIPANT`` is its command; docs/conformance.md says what
it checks and how to run it in CI.
"""

from hub.ops.conformance.checks import CHECKS, CheckResult
from hub.ops.conformance.report import Report, junit_xml, render
from hub.ops.conformance.runner import run_conformance
from hub.ops.conformance.settings import KitSettings, describe_variables

__all__ = [
    "CHECKS",
    "CheckResult",
    "KitSettings",
    "Report",
    "describe_variables",
    "junit_xml",
    "render",
    "run_conformance",
]
