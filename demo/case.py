"""The worked case the demo plays: a household in Zwolle (GM0193) stuck between five agencies.

Fictional, embedded here so the demo never reads anything outside the package. The BSN is a
fictional number that passes the elfproef; the demo never prints it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from adapters.agencies.base import add_months
from demo.offices import Decision

MUNICIPALITY = "gm0193"
CBS_CODE = "GM0193"
BSN = "111222333"  # fictional; passes the elfproef; never printed
RENT_ARREARS_CENTS = 245_000
REQUESTED_MONTHS = 4

HOUSEHOLD = """\
The household (fictional): a single parent with two children in Zwolle (GM0193). Since a divorce
  - UWV recovers a benefit paid too much, leaving less than the statutory minimum to live on;
  - Belastingdienst/Toeslagen recovers childcare allowance from an earlier year;
  - two CJIB traffic fines have doubled with surcharges and collection continues;
  - a DUO study debt is in collection because the income check was never done;
  - SVB stopped child benefit for one child pending an address check.
The housing corporation signalled rent arrears; eviction is being prepared. Every agency says its
own rules leave no room. The municipality's maatwerkfunctionaris takes the case through the hub."""

REFERENCES: dict[str, dict[str, Any]] = {
    "cjib": {"cjib_payment_references": ["1234567890123456", "6543210987654321"]},
    "belastingdienst": {"toeslagen_years": [2024]},
    "uwv": {"uwv_recovery_decisions": ["UWV-TV-2026-0042"]},
    "duo": {"duo_debt_numbers": ["DUO-77341"]},
    "svb": {"svb_benefit_references": ["SVB-KB-5521"]},
}
SCOPES: dict[str, list[str]] = {
    "cjib": ["collection", "surcharges"],
    "belastingdienst": ["collection", "recovery"],
    "uwv": ["recovery", "running_deduction"],
    "duo": ["collection"],
    "svb": ["recovery"],
}
REASONS: dict[str, str] = {
    "cjib": "livelihood_threatened",
    "belastingdienst": "livelihood_threatened",
    "uwv": "income_below_minimum",
    "duo": "multiple_collections",
    "svb": "livelihood_threatened",
}
AGENCIES = tuple(REFERENCES)

# How each agency's back office decides (the worked case's outcomes).
DECISIONS: dict[str, Decision] = {
    "cjib": Decision("granted", paused=("collection", "surcharges"),
                     explanation="Noodstop: no collection and no new surcharges."),
    "belastingdienst": Decision("granted", paused=("collection", "recovery")),
    "uwv": Decision("partially_granted", paused=("recovery",), not_paused=("running_deduction",),
                    code="lopende_verrekening",
                    explanation="Recovery paused; the running deduction from the current "
                                "benefit continues for one month."),
    "duo": Decision("refused", code="draagkrachtmeting",
                    explanation="A different route applies: income-dependent repayment "
                                "(draagkrachtmeting). Call the DUO maatwerkfunctionaris."),
    "svb": Decision("hold"),  # receipts, then stays silent: reminder, overdue
}

CONTACT = {"name": "Maatwerkfunctionaris gemeente Zwolle", "email": "maatwerk@zwolle.example",
           "phone": "+31 38 000 0193"}
SITUATION = ("Single parent with two children. Rent arrears of EUR 2,450 since the UWV recovery "
             "left the household below the statutory minimum; the housing corporation is "
             "preparing eviction. Time-outs asked at five agencies.")
LET_QUESTION = ("The rent arrears arose while UWV recovered an overpaid benefit below the "
                "statutory minimum. Which agency carries the prefinanced EUR 2,450?")
LET_EXPLANATION = ("The UWV recovery caused the arrears; UWV repays the prefinanced amount to "
                   "the Maatwerkloket.")
RESPONSIBLE = "uwv"


def timeout_request(agency: str, start: date) -> dict[str, Any]:
    """Only what this agency needs: the BSN, its own references, period, reason, scope."""
    return {"bsn": BSN, "references": REFERENCES[agency], "requested_from": start.isoformat(),
            "requested_months": REQUESTED_MONTHS, "reason_code": REASONS[agency],
            "scope": SCOPES[agency]}


def oversharing_request(start: date) -> dict[str, Any]:
    """A first try at DUO that also carries the situation summary: the policy refuses it."""
    return {**timeout_request("duo", start), "situation_summary": SITUATION}


def escalation() -> dict[str, Any]:
    return {"bsn": BSN, "municipality": CBS_CODE,
            "problem_areas": ["housing", "benefits", "allowances", "fines", "study_debt"],
            "agencies_involved": list(AGENCIES), "urgency": "urgent",
            "situation_summary": SITUATION, "contact": CONTACT}


def escalation_answer(loket_reference: str) -> dict[str, Any]:
    """What the loket's case system answers to the escalation."""
    return {"outcome": "accepted", "loket_reference": loket_reference, "next_step": "bridging",
            "explanation": "The rent arrears cannot wait: the loket starts the "
                           "overbruggingsprocedure and refers the case to the LET."}


# -- the afstemmingsbepaling: what the maatwerkfunctionaris asks CJIB before the time-out -------

INFO_HOLDER = "cjib"
INFO_PURPOSE = "timeout_preparation"
INFO_GROUND = "pmm-afstemming"  # the information rule's legal ground (policy.yaml)
INFO_WITHIN = ("debt_total_cents", "debt_references", "collection_status", "contact")
INFO_OUTSIDE = ("monthly_income_cents",)  # not CJIB's to give for this purpose
INFORMATION: dict[str, dict[str, Any]] = {  # what the agencies' systems hold (never printed)
    "cjib": {"debt_total_cents": 48_200,
             "debt_references": REFERENCES["cjib"]["cjib_payment_references"],
             "collection_status": "in_collection", "arrangement_status": "active"},
}


def info_request(fields: tuple[str, ...]) -> dict[str, Any]:
    return {"bsn": BSN, "purpose_code": INFO_PURPOSE, "legal_ground": INFO_GROUND,
            "fields": list(fields)}


# -- the afwijkingsbevoegdheid: two deviations, for the loket's register ------------------------

def deviations(start: date) -> dict[str, dict[str, Any]]:
    """Who deviates from which rule (the decision text is for the loket only; never printed)."""
    until = add_months(start, REQUESTED_MONTHS) - timedelta(days=1)
    period = {"period_from": start.isoformat(), "period_until": until.isoformat()}
    return {
        "uwv": {"rule": {"law": "beleidsregel-uwv-terugvordering", "article": "3"},
                "decision_code": "set_off_not_applied", **period,
                "decision_text": "The running deduction from the benefit stops while the "
                                 "time-out runs; recovery resumes afterwards by arrangement.",
                "decided_by_role": "manager", "legal_ground": {"law": "awb", "article": "4:84"},
                "approval": {"reference": "BA-UWV-2025-07", "approved_on": "2025-07-01"}},
        MUNICIPALITY: {"rule": {"law": "participatiewet", "article": "art. 44 lid 1"},
                       "decision_code": "late_application_accepted", **period,
                       "decision_text": "Special assistance for the children's school costs is "
                                        "granted from before the date of application.",
                       "decided_by_role": "teamleider",
                       "legal_ground": {"law": "awb", "article": "4:84"},
                       "approval": {"reference": "BA-GM0193-2026-01",
                                    "approved_on": "2026-01-15"}},
    }


# -- an agency ends its pause; the contact details a municipality publishes itself --------------

CJIB_END_REASON = "agreements_broken"  # the payment arrangement was not kept
OWN_CONTACT = {"email": "maatwerkloket@zwolle.example", "phone": "+31 38 498 9111"}
