"""CJIB: the noodstop -- collection of the named payment references is suspended, no surcharges."""

from adapters.agencies.base import AgencyProfile
from hub.contract.bodies import DeclineReason as R

PROFILE = AgencyProfile(
    participant="cjib",
    instrument="noodstop: suspend collection of the payment references, no new surcharges",
    pause_path="/noodstops",
    references={"cjib_payment_references": "payment_references"},
    refusals={"kenmerk_onbekend": R.REFERENCE_UNKNOWN, "noodstop_actief": R.ALREADY_PAUSED,
              "maximum_bereikt": R.MAXIMUM_EXCEEDED, "afspraken_geschonden": R.NO_LEGAL_ROOM},
    extra={"stop_surcharges": True},
    scope=("collection", "surcharges"),
)
