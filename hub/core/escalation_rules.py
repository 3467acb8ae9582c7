"""Step 7d of the pipeline: the escalation ladder and the overbrugging keep their order.

- ``escalation.progress`` and ``escalation.closed`` need an escalation the loket took (accepted,
  in progress, referred to the LET or decided) under the same ``loket_reference``;
- ``bridging.decision`` (prefinance or guarantee) needs such an escalation in the case, under its
  ``loket_reference``, from the party the decision goes to: no overbrugging without an
  escalation (``bridging_rule``);
- ``bridging.settlement`` needs a live bridging decision under its ``loket_reference``, the LET's
  decision naming the responsible party, and goes to that party for at most the amount decided;
- ``bridging.repaid`` answers a settlement that still waits for repayment.
"""

from __future__ import annotations

from hub.contract import bodies as b
from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import Envelope
from hub.state import bridging, escalations
from hub.state.database import Database


async def check_escalation_rules(db: Database, envelope: Envelope) -> None:
    """Refuse (``escalation_rule``, ``bridging_rule``) a step out of order, naming why."""
    body = envelope.body
    if isinstance(body, b.EscalationProgress | b.EscalationClosed):
        item = await escalations.get(db, str(envelope.in_reply_to))
        state = item.state if item else "unknown"
        if item is None or item.state not in escalations.WORKING:
            raise Refusal(ReasonCode.ESCALATION_RULE, f"the escalation is not taken by the loket "
                          f"(state: {state})")
        if item.loket_reference != body.loket_reference:
            raise Refusal(ReasonCode.ESCALATION_RULE, f"loket_reference {body.loket_reference} "
                          f"is not the escalation's ({item.loket_reference})")
    elif isinstance(body, b.BridgingDecision) and body.decision != "declined":
        await _escalation_for_bridging(db, envelope, body)
    elif isinstance(body, b.BridgingSettlement):
        await _settlement(db, envelope, body)
    elif isinstance(body, b.BridgingRepaid):
        record = await bridging.by_settlement(db, str(envelope.in_reply_to))
        if record is None or record.state != "repayment_requested":
            state = record.state if record else "unknown"
            raise Refusal(ReasonCode.BRIDGING_RULE,
                          f"no repayment waits on this settlement (state: {state})")
        if body.loket_reference != record.loket_reference:
            raise Refusal(ReasonCode.BRIDGING_RULE, f"loket_reference {body.loket_reference} "
                          f"is not the settlement's ({record.loket_reference})")


async def _escalation_for_bridging(db: Database, envelope: Envelope,
                                   body: b.BridgingDecision) -> None:
    item = await escalations.by_reference(db, envelope.case_id, body.loket_reference)
    if item is None:
        raise Refusal(ReasonCode.BRIDGING_RULE, f"no escalation in case {envelope.case_id} "
                      f"under loket_reference {body.loket_reference}: an overbrugging needs "
                      "its escalation first")
    if item.state not in escalations.WORKING:
        raise Refusal(ReasonCode.BRIDGING_RULE,
                      f"escalation {item.escalation_id} is {item.state}, not taken by the loket")
    if item.escalated_by != envelope.recipient:
        raise Refusal(ReasonCode.BRIDGING_RULE, f"the escalation came from {item.escalated_by}, "
                      f"not {envelope.recipient}")


async def _settlement(db: Database, envelope: Envelope, body: b.BridgingSettlement) -> None:
    record = await bridging.by_reference(db, envelope.case_id, body.loket_reference)
    if record is None or record.state != "decided":
        state = record.state if record else "unknown"
        raise Refusal(ReasonCode.BRIDGING_RULE, f"no bridging decision waits for settlement "
                      f"under {body.loket_reference} (state: {state})")
    if record.responsible_party is None:
        raise Refusal(ReasonCode.BRIDGING_RULE,
                      "the LET has not named the responsible party yet (let.decision)")
    if body.responsible_party != record.responsible_party or (
            envelope.recipient != record.responsible_party):
        raise Refusal(ReasonCode.BRIDGING_RULE, f"the LET named {record.responsible_party} "
                      f"responsible, not {body.responsible_party} / {envelope.recipient}")
    if body.amount_cents > record.amount_cents:
        raise Refusal(ReasonCode.BRIDGING_RULE, f"{body.amount_cents} cents asked, "
                      f"{record.amount_cents} decided")
