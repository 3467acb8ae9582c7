"""The case's first acts, by the municipality's maatwerkfunctionaris: the Maatwerkregister (a
lookup, and Zwolle's own entry updated), a request the hub refuses, information asked of CJIB
before the time-out (one answer within the policy, one refusal naming the rule), and the time-out
requests to the five agencies."""

from __future__ import annotations

import time
from datetime import date

import httpx

from demo import case
from demo.cast import Cast

__all__ = ["opening"]


async def opening(demo: Cast, http: httpx.AsyncClient, today: date) -> None:
    story, gm = demo.story, case.MUNICIPALITY
    story.step("The maatwerkfunctionaris looks up the agencies' contact points in the "
               "Maatwerkregister (maatwerk-hub register list), and publishes Zwolle's new "
               "central mail address and phone (register.update: signed, audited)")
    assert demo.registry is not None
    for p in demo.registry.of_kind("agency"):
        story.note(f"{p.id:<16} {p.contact.contact_point} <{p.contact.email}> {p.contact.phone}")
    update = {"type": "register.update", "body": case.OWN_CONTACT}
    await demo.municipality_sends(http, "register.update", "hub", case.OWN_CONTACT,
                                  story.summary(update), case_id="register")
    await demo.until("the register's answer", lambda: bool(story.got(gm, "register.answer")), 20)

    story.step("A first time-out request to DUO also carries the situation summary: the hub "
               "refuses it, DUO never sees it")
    await demo.municipality_sends(http, "timeout.request", "duo", case.oversharing_request(today),
                                  "with the situation summary (too much for DUO)")
    await demo.until("the refusal", lambda: bool(story.got(gm, "notice.refused")), 20)

    story.step("Afstemmingsbepaling: before asking for the noodstop, the maatwerkfunctionaris "
               "asks CJIB for the debt and its state; CJIB answers what the information rule "
               "allows, and refuses the household's income, naming the rule")
    for fields in (case.INFO_WITHIN, case.INFO_OUTSIDE):
        request = case.info_request(fields)
        await demo.municipality_sends(http, "info.request", case.INFO_HOLDER, request,
                                      story.summary({"type": "info.request", "body": request}))
    await demo.until("CJIB's two answers", lambda: len(story.got(gm, "info.response")) >= 2, 30)

    story.step("Time-out requests to the five agencies, each with only what that agency needs "
               "(BSN, its own references, period, reason)")
    for agency in case.AGENCIES:
        demo.requests[agency] = await demo.municipality_sends(
            http, "timeout.request", agency, case.timeout_request(agency, today),
            f"{case.REQUESTED_MONTHS} months from {today}, "
            f"{', '.join(case.SCOPES[agency])}; reason {case.REASONS[agency]}")
    demo.svb_sent = time.monotonic()
    await demo.until("the agencies' answers", lambda: len(story.got(
        gm, "timeout.response")) >= 4 and len(story.got(
            gm, "receipt", about="timeout.request")) >= 5, 40)
