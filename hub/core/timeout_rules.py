"""Step 7c of the pipeline: the time-out rules of each agency (from the agreements).

A request may not ask for more months than the agency pauses, nor open a second time-out at the
same agency in the same case; an extension or lift needs a running time-out, and an extension may
not take the total past the agency's cap (CJIB: 4 months, 8 more once debt help has started).
"""

from __future__ import annotations

from hub.contract import bodies as b
from hub.contract import instruments as ib
from hub.contract.agreements import Agreements
from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import Envelope
from hub.state.timeouts import AGENCY_MAY_END, RUNNING, SUSPENDED, TimeoutTable


async def check_timeout_rules(
    table: TimeoutTable, envelope: Envelope, agreements: Agreements
) -> None:
    """Refuse (``timeout_rule``) a request or extension that the agency's rules do not allow."""
    body = envelope.body
    if isinstance(body, b.TimeoutRequest):
        rule = agreements.timeout_rule(envelope.recipient)
        if body.requested_months > rule.max_months:
            raise Refusal(ReasonCode.TIMEOUT_RULE, f"rule {rule.rule}: {envelope.recipient} "
                          f"pauses at most {rule.max_months} months, "
                          f"{body.requested_months} requested")
        open_request = await table.open_request(envelope.case_id, envelope.recipient)
        if open_request:
            raise Refusal(ReasonCode.TIMEOUT_RULE, f"case {envelope.case_id} already has an open "
                          f"time-out at {envelope.recipient} (request {open_request})")
    elif isinstance(body, ib.TimeoutEndByAgency | ib.TimeoutSuspend):
        record = await table.get(str(envelope.in_reply_to))
        may = AGENCY_MAY_END if isinstance(body, ib.TimeoutEndByAgency) else RUNNING
        if record is None or record.state not in may:
            state = record.state if record else "unknown"
            raise Refusal(ReasonCode.TIMEOUT_RULE,
                          f"no running time-out for the agency to end or suspend (state: {state})")
    elif isinstance(body, b.TimeoutExtend | b.TimeoutLift):
        record = await table.get(str(envelope.in_reply_to))
        may = (*RUNNING, SUSPENDED) if isinstance(body, b.TimeoutLift) else RUNNING
        if record is None or record.state not in may:
            state = record.state if record else "unknown"
            raise Refusal(ReasonCode.TIMEOUT_RULE,
                          f"no running time-out to change (state: {state})")
        if isinstance(body, b.TimeoutExtend):
            rule = agreements.timeout_rule(envelope.recipient)
            cap = rule.max_months + (
                rule.extension_months_with_debt_assistance if body.debt_assistance_started else 0)
            total = record.granted_months + body.extend_months
            if total > cap:
                raise Refusal(ReasonCode.TIMEOUT_RULE, f"rule {rule.rule}: {total} months in all "
                              f"would exceed {cap} at {envelope.recipient}")
