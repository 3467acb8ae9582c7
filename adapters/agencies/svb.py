"""SVB: pause recovery of overpaid benefits (e.g. kinderbijslag)."""

from adapters.agencies.base import AgencyProfile
from hub.contract.bodies import DeclineReason as R

PROFILE = AgencyProfile(
    participant="svb",
    instrument="pause recovery of the overpaid benefits",
    pause_path="/benefits/recovery-pauses",
    references={"svb_benefit_references": "benefit_references"},
    refusals={"referentie_onbekend": R.REFERENCE_UNKNOWN, "persoon_onbekend": R.PERSON_UNKNOWN,
              "adresonderzoek": R.INSUFFICIENT_INFORMATION},
    scope=("recovery",),
)
