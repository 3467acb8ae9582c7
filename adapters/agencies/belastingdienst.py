"""Belastingdienst incl. Toeslagen: pause collection and recovery of allowance years and tax
assessments."""

from adapters.agencies.base import AgencyProfile
from hub.contract.bodies import DeclineReason as R

PROFILE = AgencyProfile(
    participant="belastingdienst",
    instrument="pause collection/recovery of the allowance years and assessments",
    pause_path="/collection-pauses",
    references={"toeslagen_years": "allowance_years",
                "belastingdienst_assessments": "assessments"},
    refusals={"jaar_onbekend": R.REFERENCE_UNKNOWN, "aanslag_onbekend": R.REFERENCE_UNKNOWN,
              "betalingsregeling": R.OTHER_ROUTE_APPLIES},
    scope=("collection", "recovery"),
)
