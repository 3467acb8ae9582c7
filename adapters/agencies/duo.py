"""DUO: pause collection of a study debt; may decline because income-dependent repayment
(draagkrachtmeting) is the route that applies."""

from adapters.agencies.base import AgencyProfile
from hub.contract.bodies import DeclineReason as R

PROFILE = AgencyProfile(
    participant="duo",
    instrument="pause collection of the study debts (or: apply for draagkrachtmeting instead)",
    pause_path="/study-debts/collection-pauses",
    references={"duo_debt_numbers": "debt_numbers"},
    refusals={"draagkrachtmeting": R.OTHER_ROUTE_APPLIES, "schuld_onbekend": R.REFERENCE_UNKNOWN,
              "geen_invordering": R.ALREADY_PAUSED},
)
