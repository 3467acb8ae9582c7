"""The people and the worked case, played on the :class:`~demo.stage.Stage` act by act: the
maatwerkfunctionaris (through the municipality adapter's HTTP API, as a case system would), the
loket's staff (the loket adapter's Python API), the Landelijk Escalatie Team (an SDK client;
there is no LET reference adapter), UWV's desk (the agency adapter's Python API, for what its
back office does not do: a deviation, a late repayment) and CJIB's maatwerkfunctionaris
(``maatwerk-adapter end-pause``). The acts: :mod:`demo.opening` (register, refusal,
information, time-out requests), :mod:`demo.ladder` (escalation, overbrugging, LET, deviations,
settlement), then here: CJIB ends its pause, SVB is late, a time-out is lifted; at the end the
hub's record of the case and the knelpunten report."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from demo import case
from demo.cast import Cast
from demo.ladder import ladder
from demo.opening import opening
from hub.ops.status import CaseStatus, render

__all__ = ["Demo"]


class Demo(Cast):
    """The whole case, act by act (:meth:`play`), and the hub's record of it at the end."""

    # -- the case ------------------------------------------------------------------------------

    async def play(self) -> None:
        story, gm, cid = self.story, case.MUNICIPALITY, self.case_id
        story.say()
        story.say(case.HOUSEHOLD)
        story.say()
        response = self.options.response_seconds
        story.say(f"Case id: {cid} (opaque: no BSN in it). Deadlines in this demo: receipt "
                  f"{self.options.receipt_seconds:g} s, answer {response:g} s, a repayment "
                  f"overdue {response:g} s after its reminder (normally 15 minutes, 2 and 5 "
                  "working days).")
        today = date.today()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.gm_port}",
                                     timeout=10.0) as http:
            await opening(self, http, today)
            await ladder(self, http)

            story.step("Weeks later the household has broken its payment arrangement with "
                       "CJIB: CJIB ends its noodstop itself, and gm0193 is told")
            story.note(f"CJIB's maatwerkfunctionaris: maatwerk-adapter end-pause "
                       f"{self.requests['cjib']} --reason {case.CJIB_END_REASON}")
            await self.adapter_command("cjib", "end-pause", self.requests["cjib"],
                                       "--reason", case.CJIB_END_REASON)
            await self.until("CJIB's end of the noodstop at the municipality", lambda: bool(
                story.got(gm, "timeout.end_by_agency", sender="cjib")), 30)

            story.step("SVB sent a receipt but no answer: the hub reminds SVB, then tells the "
                       "loket it is overdue")
            left = max(0.0, 2 * response - (time.monotonic() - self.svb_sent))
            reminded = story.got(gm, "notice.reminder")
            story.note(f"SVB's answer was due {response:g} s after the request; "
                       + ("the hub reminded SVB above, while the case went on; " if reminded
                          else "") + (f"overdue about {left:.0f} s from now" if left else
                                      "overdue by now"))
            grace = 2 * response + 10 * self.options.watch_seconds + 30
            await self.until("the reminder to SVB", lambda: bool(
                story.got(gm, "notice.reminder")), grace)
            await self.until("the overdue notice to the loket", lambda: any(
                d["body"].get("late_participant") == "svb"
                for d in story.got("loket", "notice.overdue")), grace)

            story.step("Later, the household is stable: the municipality lifts the Toeslagen "
                       "time-out; the hub ends it and tells both sides")
            sent = json.loads((await http.get(f"/cases/{cid}")).text)["messages"]
            request = next(e["message"] for e in sent
                           if e["message"]["id"] == self.requests["belastingdienst"])
            await self.municipality_sends(
                http, "timeout.lift", "belastingdienst",
                {"lift_on": today.isoformat(), "reason_code": "household_stable"},
                f"lift on {today}: household stable", in_reply_to=request["id"],
                conversation_id=request["conversation_id"])
            await self.until("the end of the Toeslagen time-out", lambda: bool(
                story.got(gm, "timeout.ended")), 30 + 10 * self.options.watch_seconds)

    async def final_status(self) -> CaseStatus:
        async with httpx.AsyncClient(timeout=10.0) as http:
            answer = await http.get(f"{self.hub_base}/cases/{quote(self.case_id, safe='')}")
        answer.raise_for_status()
        return CaseStatus.model_validate_json(answer.text)

    def print_end(self, status: CaseStatus, report: dict[str, Any]) -> None:
        story = self.story
        story.say()
        story.say("=" * 100)
        story.say("The case as the hub recorded it (maatwerk-hub status "
                  f"{self.case_id}; no personal data is stored):")
        story.say()
        story.say(render(status))
        story.say()
        self.print_knelpunten(report)
        story.say()
        story.say("=" * 100)
        quoted = quote(self.case_id, safe="")
        story.say(f"Console:           {self.hub_base}/console")
        story.say(f"This case:         {self.hub_base}/console/cases/{quoted}  "
                  f"(JSON: {self.hub_base}/cases/{quoted})")
        story.say(f"Metrics:           {self.hub_base}/metrics")
        story.say(f"Municipality API:  http://127.0.0.1:{self.gm_port}/cases/{quoted}")
        story.say(f"RabbitMQ:          {urlsplit(self.options.management_url).hostname}:"
                  f"{urlsplit(self.options.management_url).port or 15672} (management UI)")
        story.say(f"Logs:              {self.state / 'logs'}/")

    async def knelpunten(self) -> dict[str, Any]:
        """The LET's knelpunten report (GET /reports/knelpunten): counts only, no personal
        data; it covers every case in the hub's state, not only this one."""
        async with httpx.AsyncClient(timeout=10.0) as http:
            answer = await http.get(f"{self.hub_base}/reports/knelpunten")
        answer.raise_for_status()
        report: dict[str, Any] = answer.json()
        return report

    def print_knelpunten(self, report: dict[str, Any]) -> None:
        story = self.story
        story.say(f"Knelpunten report for the LET ({self.hub_base}/reports/knelpunten; every case "
                  f"in this hub's state, no personal data): {report['deviations']} deviation(s)")
        for rule in report["per_rule"]:
            story.say(f"  {rule['law']} {rule['article']}: {rule['deviations']}; by "
                      + ", ".join(f"{k} {v}" for k, v in rule["organisations"].items())
                      + "; outcomes " + ", ".join(f"{k} {v}" for k, v in rule["outcomes"].items()))
        for refused in report["information_refusals"]:
            story.say(f"  information refused under rule {refused['rule']} ({refused['holder']}, "
                      f"{refused['purpose_code']}): {refused['refused']} of "
                      f"{refused['requests']} request(s)")
