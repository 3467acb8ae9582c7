"""The escalation ladder as the case climbs it: the escalation to the Maatwerkloket, the
overbrugging (prefinanced now), the LET naming who pays, the deviations the agencies and the
municipality decide and record in the loket's register, and the settlement whose due date passes
(reminded, overdue) before UWV confirms the repayment and the loket closes the escalation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import httpx

from demo import case
from demo.cast import Cast
from demo.story import euro
from hub.contract.agreements import (
    CALENDAR_ZONE,
    Agreements,
    Duration,
    is_working_day,
    load_agreements,
)

__all__ = ["koningsdag", "ladder"]


async def ladder(demo: Cast, http: httpx.AsyncClient) -> None:
    await _escalation(demo, http)
    await _bridging_and_let(demo)
    await _deviations(demo, http)
    await _settlement(demo)


async def _escalation(demo: Cast, http: httpx.AsyncClient) -> None:
    story, gm, loket = demo.story, case.MUNICIPALITY, demo.desk
    story.step("The rent arrears cannot wait: escalation to the Landelijk Maatwerkloket")
    escalation = case.escalation()
    await demo.municipality_sends(
        http, "escalation.request", "loket", escalation,
        story.summary({"type": "escalation.request", "body": escalation}))
    await demo.until("the loket's answer", lambda: bool(story.got(gm, "escalation.response")), 30)
    answer = story.got(gm, "escalation.response")[0]
    # the municipality's receipt passes the hub only once the answer is recorded
    await demo.until("the municipality's receipt of the answer", lambda: any(
        d.get("in_reply_to") == answer["id"] for d in story.got("loket", "receipt")), 30)
    demo.thread = {"recipient": gm, "case_id": demo.case_id, "in_reply_to": answer["in_reply_to"],
                   "conversation_id": answer["conversation_id"]}
    await loket.publish(type="escalation.progress", **demo.thread, body={
        "loket_reference": demo.loket_reference, "step": "bridging"})
    await demo.until("the loket's progress", lambda: bool(story.got(gm, "escalation.progress")),
                     30)


async def _bridging_and_let(demo: Cast) -> None:
    story, gm, loket, cid = demo.story, case.MUNICIPALITY, demo.desk, demo.case_id
    story.step("Overbruggingsprocedure: the loket prefinances the rent arrears now")
    decision_id = await loket.decide_bridging(
        cid, gm, loket_reference=demo.loket_reference, decision="prefinance",
        amount_cents=case.RENT_ARREARS_CENTS, creditor_kind="housing_corporation",
        referred_to_let=True)
    story.sent(str(decision_id), "bridging.decision", "loket", gm,
               f"prefinance {euro(case.RENT_ARREARS_CENTS)} of rent arrears to the housing "
               "corporation; referred to the LET")
    await demo.until("the bridging decision", lambda: bool(story.got(gm, "bridging.decision")), 30)

    story.step("The loket refers the case to the Landelijk Escalatie Team (LET): who carries "
               "the cost?")
    referral_id = await loket.refer_to_let(
        cid, loket_reference=demo.loket_reference,
        agencies_involved=[case.RESPONSIBLE, "belastingdienst"],
        problem_areas=["housing", "benefits"], question=case.LET_QUESTION,
        bridging_amount_cents=case.RENT_ARREARS_CENTS)
    story.types[str(referral_id)] = "let.referral"
    await demo.until("the LET's decision, at the loket and (the hub's copy) at the municipality",
                     lambda: bool(story.got("loket", "let.decision")
                                  and story.got(gm, "let.decision")), 30)


async def _deviations(demo: Cast, http: httpx.AsyncClient) -> None:
    story, gm, cid = demo.story, case.MUNICIPALITY, demo.case_id
    story.step("Afwijkingsbevoegdheid: UWV's manager stops the running deduction its rules kept; "
               "Zwolle's teamleider accepts a late application for special assistance. Both "
               "record the deviation in the loket's register, for the LET's knelpunten report")
    bodies = case.deviations(date.today())
    uwv = demo.uwv_desk.client
    sent = await uwv.send(uwv.message(type="deviation.record", recipient="loket", case_id=cid,
                                      body=bodies[case.RESPONSIBLE]))
    story.sent(str(sent), "deviation.record", case.RESPONSIBLE, "loket",
               story.summary({"type": "deviation.record", "body": bodies[case.RESPONSIBLE]}))
    await demo.municipality_sends(
        http, "deviation.record", "loket", bodies[gm],
        story.summary({"type": "deviation.record", "body": bodies[gm]}))
    await demo.until("both deviations in the loket's register", lambda: len(
        story.got("loket", "deviation.record")) >= 2, 30)


async def _settlement(demo: Cast) -> None:
    story, loket, cid = demo.story, demo.desk, demo.case_id
    story.step("Settlement: the loket asks UWV, the party the LET named, to repay by a due "
               "date; UWV books it but the date passes: the hub reminds UWV, then tells the "
               "loket it is overdue; UWV confirms the repayment and the loket closes the case")
    due = datetime.now(CALENDAR_ZONE).date()  # the hub's calendar: due today, so it passes now
    settlement_id = await loket.settle(
        cid, case.RESPONSIBLE, loket_reference=demo.loket_reference,
        amount_cents=case.RENT_ARREARS_CENTS, due_on=due)
    story.sent(str(settlement_id), "bridging.settlement", "loket", case.RESPONSIBLE,
               f"repay {euro(case.RENT_ARREARS_CENTS)} by {due} (in this demo the due date is "
               "today)")
    await demo.until("the settlement at UWV", lambda: any(
        c.participant == case.RESPONSIBLE and "amount_cents" in c.payload for c in story.calls),
        30)
    grace = demo.options.response_seconds + 10 * demo.options.watch_seconds + 30
    await demo.until("the reminder to UWV", lambda: bool(_repayment_notices(
        demo, "notice.reminder")), grace)
    story.note(koningsdag(demo.production or load_agreements()))
    await demo.until("the overdue repayment at the loket", lambda: bool(_repayment_notices(
        demo, "notice.overdue")), grace)

    settlement = loket.store.find(cid, settlement_id)
    assert settlement is not None
    repaid = await demo.uwv_desk.confirm_repayment(
        settlement, amount_cents=case.RENT_ARREARS_CENTS, repaid_on=due)
    story.sent(str(repaid), "bridging.repaid", case.RESPONSIBLE, "loket",
               f"repaid {euro(case.RENT_ARREARS_CENTS)} on {due} (late; confirmed by UWV)")
    await demo.until("UWV's repayment at the loket", lambda: bool(
        story.got("loket", "bridging.repaid")), 30)
    await loket.publish(type="escalation.closed", **demo.thread, body={
        "loket_reference": demo.loket_reference, "outcome": "let_decided"})
    await demo.until("the escalation closed", lambda: bool(
        story.got(case.MUNICIPALITY, "escalation.closed")), 30)


def _repayment_notices(demo: Cast, type_name: str) -> list[dict[str, Any]]:
    return [d for d in demo.story.got("loket", type_name)
            if d["body"].get("message_type") == "bridging.settlement"]


def koningsdag(agreements: Agreements, today: date | None = None) -> str:
    """How the production agreements count the repayment's overdue period across the next
    Koningsdag on a weekday, with the hub's own calendar (:meth:`Duration.after`)."""
    period = agreements.bridging.overdue_after
    if period.working_days is None:
        period = Duration(working_days=5)
    assert period.working_days is not None
    year = (today or date.today()).year
    while True:
        king = date(year, 4, 27) if date(year, 4, 27).weekday() != 6 else date(year, 4, 26)
        if king.weekday() < 5 and king >= (today or date.today()):
            break
        year += 1
    reminded = king - timedelta(days=1)
    while not is_working_day(reminded):
        reminded -= timedelta(days=1)
    at = datetime.combine(reminded, time(9), CALENDAR_ZONE)
    overdue = period.after(at).date()
    plain, left = reminded, period.working_days  # the same count, were Koningsdag a working day
    while left:
        plain += timedelta(days=1)
        if is_working_day(plain) or plain == king:
            left -= 1
    return (f"In production the loket hears of it {period.working_days} working days after the "
            f"reminder, on the Dutch calendar: a reminder on {_day(reminded)} {reminded.year} "
            f"is overdue on {_day(overdue)}, not {_day(plain)}: Koningsdag ({_day(king)}) is "
            "no working day")


def _day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"
