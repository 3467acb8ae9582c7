"""UWV: pause recovery (terugvordering) of overpaid benefits; the running deduction from the
current benefit may continue (partially_granted)."""

from adapters.agencies.base import AgencyProfile
from hub.contract.bodies import DeclineReason as R

PROFILE = AgencyProfile(
    participant="uwv",
    instrument="pause recovery of the recovery decisions; the running deduction may go on",
    pause_path="/recoveries/pauses",
    references={"uwv_recovery_decisions": "recovery_decisions"},
    refusals={"lopende_verrekening": R.NO_LEGAL_ROOM, "besluit_onbekend": R.REFERENCE_UNKNOWN,
              "persoon_onbekend": R.PERSON_UNKNOWN},
    scope=("recovery",),
)
