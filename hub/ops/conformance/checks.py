"""What the kit judges, from what it delivered and what the adapter did with it.

Each check is one line of the report and one JUnit test case; it passes, fails (with one line
per offending message) or is skipped (nothing to judge, said why). The checks, in report order:

``inbox.accepted``    every genuine message was taken, not dead-lettered
``receipt.sent``      a receipt, within its deadline, for each genuine message whose type needs
                      one, exactly one; none for a type that needs none
``receipt.id``        each receipt has the derived id ``uuid5(<message id>, "receipt")``, answers
                      the message (``in_reply_to``), goes back to its sender, same case and
                      conversation
``receipt.signed``    each receipt passes the hub's steps 1-5: schema, the adapter's broker user,
                      a registered key of the adapter, a valid signature, not expired; and
                      its AMQP ``message_id`` is the envelope id
``answer.sent``       exactly one business answer, within its deadline, for each genuine message
                      whose type expects one (``--manual-answer`` types excepted)
``answer.allowed``    each answer is a type the adapter may send (registry) that answers the
                      message's type (``replies_to``, and one of its ``responses``), in its thread,
                      back to its sender, and the hub's data-sharing policy lets it through
``answer.id``         each answer has the derived id ``uuid5(<message id>, <answer type>)``
``answer.signed``     each answer passes the hub's steps 1-5
``refuses.tampered``  a message changed after signing, with an altered or without a signature: no
                      receipt, no answer, dead-lettered
``refuses.forged``    a hub notice signed with a key that is not the hub's: likewise
``refuses.expired``   a correctly signed message past its ``expires_at``: likewise
``duplicate.once``    the same id and bytes delivered twice: handled once (at most one receipt and
                      one answer), the second copy acked, not dead-lettered
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from hub.contract.authenticate import authenticate
from hub.contract.errors import Refusal
from hub.contract.messages import MESSAGE_SPECS, validate_document
from hub.contract.policy import Policy
from hub.contract.registry import Participant, Registry
from hub.ops.conformance.plan import DUPLICATE, EXPIRED, FORGED, GENUINE, TAMPERED, Probe
from hub.ops.conformance.wire import Observed, Published

PASS, FAIL, SKIP = "pass", "fail", "skip"
CHECKS: dict[str, str] = {
    "inbox.accepted": "genuine messages are taken, not dead-lettered",
    "receipt.sent": "a receipt in time for each message that needs one; none for others",
    "receipt.id": "receipts carry the derived id and answer the message, back to its sender",
    "receipt.signed": "receipts pass the hub's checks (schema, user, key, signature, message_id)",
    "answer.sent": "one business answer in time for each message that expects one",
    "answer.allowed": "answers are of a type the adapter may send that answers the message",
    "answer.id": "answers carry the derived id uuid5(message id, answer type)",
    "answer.signed": "answers pass the hub's checks (schema, user, key, signature, message_id)",
    "refuses.tampered": "tampered messages: no receipt, no answer, dead-lettered",
    "refuses.forged": "a forged hub notice: no receipt, no answer, dead-lettered",
    "refuses.expired": "an expired message: no receipt, no answer, dead-lettered",
    "duplicate.once": "a message delivered twice is handled once",
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    summary: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    """One message the adapter published, read leniently (for matching) and strictly (for
    judging)."""

    published: Published
    document: dict[str, Any]
    refusal: str | None

    def get(self, key: str) -> str | None:
        value = self.document.get(key)
        return None if value is None else str(value)

    @property
    def type(self) -> str | None:
        return self.get("type")

    def describe(self) -> str:
        return f"{self.type or '(no type)'} {self.get('id') or '(no id)'}"


# The hub's own reading of steps 1-5 judges the adapter's messages. A contract that checks the
# AMQP message_id itself takes it as ``message_id``; until then the kit checks it below.
_TAKES_MESSAGE_ID = "message_id" in inspect.signature(authenticate).parameters


def _amqp(item: Published) -> dict[str, Any]:
    return {"message_id": item.message_id} if _TAKES_MESSAGE_ID else {}


def read_replies(observed: Observed, registry: Registry, now: datetime) -> list[Reply]:
    out = []
    for item in observed.published:
        try:
            document = json.loads(item.body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            document = {}
        try:
            authenticate(item.body, item.user_id, registry, now, **_amqp(item))
            refusal = None
        except Refusal as exc:
            refusal = str(exc)
        if refusal is None and item.message_id != document.get("id"):
            refusal = (f"the AMQP message_id {item.message_id!r} is not the envelope id "
                       f"{document.get('id')}")
        out.append(Reply(published=item, document=document, refusal=refusal))
    return out


@dataclass
class Deadlines:
    receipt: float
    answer: float


@dataclass
class Judge:
    """Evaluates every check for one run."""

    subject: Participant
    registry: Registry
    policy: Policy
    probes: list[Probe]
    replies: list[Reply]
    observed: Observed
    deadlines: Deadlines
    manual_answers: frozenset[str]
    now: datetime
    results: list[CheckResult] = field(default_factory=list)

    # -- matching ------------------------------------------------------------------------------

    def replies_to(self, probe: Probe) -> list[Reply]:
        return [r for r in self.replies if r.get("in_reply_to") == str(probe.id)]

    def receipts(self, probe: Probe) -> list[Reply]:
        return [r for r in self.replies_to(probe) if r.type == "receipt"]

    def answers(self, probe: Probe) -> list[Reply]:
        return [r for r in self.replies_to(probe) if r.type != "receipt"]

    def dead_reason(self, probe: Probe) -> str | None:
        for dead in self.observed.dead:
            if dead.message_id == str(probe.id):
                return dead.reason
        return None

    def of(self, *kinds: str) -> list[Probe]:
        return [p for p in self.probes if p.kind in kinds]

    def unsolicited(self) -> list[Reply]:
        ids = {str(p.id) for p in self.probes}
        return [r for r in self.replies if r.get("in_reply_to") not in ids]

    # -- helpers -------------------------------------------------------------------------------

    def _add(self, name: str, problems: list[str], judged: int, what: str) -> None:
        if not judged:
            self.results.append(CheckResult(name, SKIP, f"nothing to judge: {what}"))
        elif problems:
            self.results.append(CheckResult(name, FAIL, f"{len(problems)} problem(s) in "
                                            f"{judged} judged", tuple(problems)))
        else:
            self.results.append(CheckResult(name, PASS, f"{judged} judged"))

    @staticmethod
    def _late(probe: Probe, reply: Reply, limit: float) -> float | None:
        if probe.sent_at is None:
            return None
        took = reply.published.at - probe.sent_at
        return took if took > limit else None

    def _each(self, name: str, kinds: tuple[str, ...], pick: Callable[[Probe], list[Reply]],
              judge: Callable[[Probe, Reply], str | None], what: str) -> None:
        problems, judged = [], 0
        for probe in self.of(*kinds):
            for reply in pick(probe):
                judged += 1
                problem = judge(probe, reply)
                if problem:
                    problems.append(f"{reply.describe()} answering {probe.label}: {problem}")
        self._add(name, problems, judged, what)

    def _thread(self, probe: Probe, reply: Reply) -> str | None:
        wrong = [key for key, want in (("sender", self.subject.id), ("recipient", probe.sender),
                                       ("case_id", probe.document["case_id"]),
                                       ("conversation_id", probe.document["conversation_id"]))
                 if reply.get(key) != str(want)]
        return f"wrong {', '.join(wrong)}" if wrong else None

    # -- the checks ----------------------------------------------------------------------------

    def run(self) -> list[CheckResult]:
        self.inbox_accepted()
        self.receipt_sent()
        self._each("receipt.id", (GENUINE, DUPLICATE), self.receipts, self._receipt_id,
                   "the adapter sent no receipt")
        self._each("receipt.signed", (GENUINE, DUPLICATE), self.receipts,
                   lambda p, r: r.refusal, "the adapter sent no receipt")
        self.answer_sent()
        self._each("answer.allowed", (GENUINE, DUPLICATE), self.answers, self._answer_allowed,
                   "the adapter sent no answer")
        self._each("answer.id", (GENUINE, DUPLICATE), self.answers, self._answer_id,
                   "the adapter sent no answer")
        self._each("answer.signed", (GENUINE, DUPLICATE), self.answers,
                   lambda p, r: r.refusal, "the adapter sent no answer")
        for name, kind, what in (("refuses.tampered", TAMPERED, "no tampered probe"),
                                 ("refuses.forged", FORGED, f"{self.subject.id} receives no "
                                  "hub notice"),
                                 ("refuses.expired", EXPIRED, "no expired probe")):
            self.refuses(name, kind, what)
        self.duplicate_once()
        return self.results

    def inbox_accepted(self) -> None:
        probes = self.of(GENUINE)
        problems = [f"{p.label} {p.id} was dead-lettered ({reason})"
                    for p in probes if (reason := self.dead_reason(p))]
        self._add("inbox.accepted", problems, len(probes), "no genuine message")

    def receipt_sent(self) -> None:
        problems = []
        probes = self.of(GENUINE)
        for probe in probes:
            receipts = self.receipts(probe)
            if probe.document.get("sender") == self.registry.hub.id and MESSAGE_SPECS[
                    probe.type].needs_receipt:
                continue  # the hub awaits no receipt for its own copy (let.decision): not judged
            if not MESSAGE_SPECS[probe.type].needs_receipt:
                if receipts:
                    problems.append(f"{probe.label} {probe.id}: {len(receipts)} receipt(s), "
                                    "but the type needs none")
                continue
            if not receipts:
                problems.append(f"{probe.label} {probe.id}: no receipt within "
                                f"{self.deadlines.receipt:g} s")
            elif len(receipts) > 1:
                problems.append(f"{probe.label} {probe.id}: {len(receipts)} receipts")
            elif (took := self._late(probe, receipts[0], self.deadlines.receipt)) is not None:
                problems.append(f"{probe.label} {probe.id}: receipt after {took:.1f} s "
                                f"(deadline {self.deadlines.receipt:g} s)")
        self._add("receipt.sent", problems, len(probes), "no genuine message")

    def _receipt_id(self, probe: Probe, reply: Reply) -> str | None:
        want = uuid5(probe.id, "receipt")
        if reply.get("id") != str(want):
            return f"id {reply.get('id')}, expected uuid5({probe.id}, 'receipt') = {want}"
        return self._thread(probe, reply)

    def answer_sent(self) -> None:
        problems, judged = [], 0
        for probe in self.of(GENUINE):
            spec = MESSAGE_SPECS[probe.type]
            if not spec.responses or probe.type in self.manual_answers:
                continue
            judged += 1
            answers = self.answers(probe)
            if not answers:
                problems.append(f"{probe.label} {probe.id}: no answer within "
                                f"{self.deadlines.answer:g} s")
            elif len(answers) > 1:
                problems.append(f"{probe.label} {probe.id}: {len(answers)} answers")
            elif (took := self._late(probe, answers[0], self.deadlines.answer)) is not None:
                problems.append(f"{probe.label} {probe.id}: answer after {took:.1f} s "
                                f"(deadline {self.deadlines.answer:g} s)")
        self._add("answer.sent", problems, judged, "no received type expects an answer "
                  "(or all are answered by people)")

    def _answer_allowed(self, probe: Probe, reply: Reply) -> str | None:
        type_name = reply.type or ""
        spec = MESSAGE_SPECS.get(type_name)
        if spec is None:
            return f"unknown type {type_name!r}"
        if type_name not in self.subject.sends:
            return f"{self.subject.id} may not send {type_name} (registry)"
        original = MESSAGE_SPECS[probe.type]
        if probe.type not in spec.replies_to and "*" not in spec.replies_to:
            return f"{type_name} does not answer {probe.type} (replies_to)"
        if original.responses and type_name not in original.responses:
            return f"{probe.type} is answered with {', '.join(original.responses)}"
        thread = self._thread(probe, reply)
        if thread:
            return thread
        recipient = self.registry.get(reply.get("recipient") or "")
        if recipient is None or reply.refusal:
            return None  # judged by answer.signed
        try:
            envelope = validate_document(reply.document, reply.published.body)
            self.policy.evaluate(envelope, reply.document, recipient, self.now)
        except Refusal as refusal:
            return f"the hub would refuse it: {refusal}"
        return None

    def _answer_id(self, probe: Probe, reply: Reply) -> str | None:
        want = uuid5(probe.id, reply.type or "")
        if reply.get("id") != str(want):
            return f"id {reply.get('id')}, expected uuid5({probe.id}, {reply.type!r}) = {want}"
        return None

    def refuses(self, name: str, kind: str, what: str) -> None:
        problems = []
        probes = self.of(kind)
        for probe in probes:
            said = [r.describe() for r in self.replies_to(probe)]
            if said:
                problems.append(f"{probe.label} {probe.id}: answered with {', '.join(said)}")
            if self.dead_reason(probe) is None:
                problems.append(f"{probe.label} {probe.id}: not dead-lettered (acked, or still "
                                "held unacked)")
        self._add(name, problems, len(probes), what)

    def duplicate_once(self) -> None:
        problems = []
        probes = self.of(DUPLICATE)
        for probe in probes:
            receipts, answers = self.receipts(probe), self.answers(probe)
            if len(receipts) > 1 or len(answers) > 1:
                problems.append(f"{probe.label} {probe.id}: handled twice ({len(receipts)} "
                                f"receipts, {len(answers)} answers)")
            if (reason := self.dead_reason(probe)) is not None:
                problems.append(f"{probe.label} {probe.id}: a copy was dead-lettered ({reason})")
        self._add("duplicate.once", problems, len(probes), "no duplicate probe")


def answer_of(replies: list[Reply], probe_id: UUID) -> dict[str, Any] | None:
    """The first business answer to ``probe_id`` (for the kit's receipt of it)."""
    for reply in replies:
        if reply.get("in_reply_to") == str(probe_id) and reply.type != "receipt":
            return reply.document
    return None
