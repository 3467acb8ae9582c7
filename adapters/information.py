"""Answering an ``info.request`` (afstemmingsbepaling) the way the policy allows.

The holder of the information (an agency or a municipality) looks up the information rule for
the request's purpose between the asker and itself (:func:`hub.contract.information.find_rule`,
the same function the hub applies), gives only the fields the rule allows, and refuses the rest
naming the rule. The hub checks the answer against the same rule and refuses one that carries
more (``policy_field_not_allowed``), so an adapter cannot over-share by mistake.
"""

from __future__ import annotations

from typing import Any

from hub.contract.information import find_rule, plan_answer
from hub.contract.instruments import InfoField, InfoRefusal, InfoRequest
from hub.contract.policy import Policy
from hub.contract.registry import Participant


def allowed_fields(policy: Policy, request: InfoRequest, asker: Participant,
                   holder: Participant) -> tuple[str | None, list[InfoField], list[InfoField]]:
    """(rule id, fields the holder may give, fields it must refuse) for ``request``."""
    rule = find_rule(policy.information, request.purpose_code, asker, holder)
    if rule is None:
        return None, [], list(request.fields)
    plan = plan_answer(rule, request.fields)
    return rule.id, plan.allowed, plan.refused


def answer_body(policy: Policy, request: InfoRequest, asker: Participant, holder: Participant,
                values: dict[str, Any]) -> dict[str, Any]:
    """The ``info.response`` body: ``values`` (what the holder's systems returned, by field name)
    cut to what the rule allows; what the rule does not allow is refused with the rule named,
    what the systems did not return is refused as not held."""
    rule, allowed, refused = allowed_fields(policy, request, asker, holder)
    items = {f.value: values[f.value] for f in allowed if values.get(f.value) is not None}
    not_held = [f for f in allowed if f.value not in items]
    body: dict[str, Any] = {"rule": rule} if rule else {}
    if refused:
        body["refusal_reason"] = (InfoRefusal.NOT_ALLOWED_FOR_PURPOSE.value if rule
                                  else InfoRefusal.NOT_HELD.value)
    elif not_held:
        body["refusal_reason"] = InfoRefusal.NOT_HELD.value
    all_refused = [f.value for f in (*refused, *not_held)]
    if all_refused:
        body["refused_fields"] = all_refused
    if items:
        body["items"] = items
    body["outcome"] = ("answered" if not all_refused else
                       "partially_answered" if items else "refused")
    return body
