"""Step 7 of the pipeline for the instruments of issue 13: admission and information rules.

- **Admission** (Maatwerkregister): a municipality without a recorded mandate (reference and date
  of the bestuurlijke afspraken) is not active: what it sends, and what is sent to it, is refused
  with ``participant_not_admitted``.
- **Information rules** (afstemmingsbepaling, :mod:`hub.contract.information`): an
  ``info.request`` needs a rule for its purpose between asker and holder (``policy_no_rule``) and
  must name that rule's legal ground (``policy_legal_ground``); an ``info.response`` may carry
  only fields the rule allows *and* that were asked (``policy_field_not_allowed``, naming the rule
  and the field paths), and a refusal by the policy must name the request's rule.
"""

from __future__ import annotations

from hub.contract import instruments as ib
from hub.contract.errors import PolicyRefusal, ReasonCode, Refusal
from hub.contract.information import find_rule
from hub.contract.messages import Envelope
from hub.contract.policy import Policy
from hub.contract.registry import Participant
from hub.state import information
from hub.state.database import Database


def check_admitted(sender: Participant, recipient: Participant) -> None:
    """Refuse messages from or to a participant the Maatwerkregister has not admitted."""
    for who, role in ((sender, "sender"), (recipient, "recipient")):
        if not who.admitted:
            raise Refusal(ReasonCode.PARTICIPANT_NOT_ADMITTED,
                          f"{role} {who.id} is not admitted to the Maatwerkregister: no mandate "
                          "(reference and date of the bestuurlijke afspraken) is recorded")


async def check_information(db: Database, envelope: Envelope, sender: Participant,
                            recipient: Participant, policy: Policy) -> str | None:
    """For an ``info.request``: the id of the information rule that applies (or refuse); for an
    ``info.response``: refuse what the rule of its request does not allow. None otherwise."""
    body = envelope.body
    if isinstance(body, ib.InfoRequest):
        rule = find_rule(policy.information, body.purpose_code, sender, recipient)
        if rule is None:
            raise PolicyRefusal(
                ReasonCode.POLICY_NO_RULE,
                f"policy {policy.version} has no information rule that lets {sender.id} ask "
                f"{recipient.id} for information for {body.purpose_code.value}",
                rule=None, field_paths=["purpose_code"])
        if body.legal_ground != rule.legal_ground_code:
            raise PolicyRefusal(
                ReasonCode.POLICY_LEGAL_GROUND,
                f"information rule {rule.id} rests on legal ground {rule.legal_ground_code}, "
                f"the request names {body.legal_ground}", rule=rule.id,
                field_paths=["legal_ground"])
        return rule.id
    if isinstance(body, ib.InfoResponse) and envelope.in_reply_to is not None:
        request = await information.get(db, str(envelope.in_reply_to))
        if request is None:
            raise Refusal(ReasonCode.UNKNOWN_CONVERSATION,
                          f"no information request {envelope.in_reply_to} is recorded")
        rule = next((r for r in policy.information if r.id == request.rule), None)
        allowed = {f.value for f in rule.fields} if rule else set()
        offending = [f"items.{name}" for name in (body.items.present() if body.items else [])
                     if name not in allowed or name not in request.fields]
        if offending:
            raise PolicyRefusal(
                ReasonCode.POLICY_FIELD_NOT_ALLOWED,
                f"information rule {request.rule} (policy {policy.version}) does not allow "
                f"these fields for {request.purpose_code} to {recipient.id}, or they were not "
                f"asked: {', '.join(offending)}", rule=request.rule, field_paths=offending)
        if body.rule is not None and body.rule != request.rule:
            raise PolicyRefusal(
                ReasonCode.POLICY_FIELD_NOT_ALLOWED,
                f"the answer names rule {body.rule}; the request was matched to {request.rule}",
                rule=request.rule, field_paths=["rule"])
    return None
