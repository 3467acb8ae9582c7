"""The messages of a benchmark: ``timeout.request`` bodies with a chosen number of the agency's
own references (so every message passes the policy), signed before the clock starts with the
SDK's own ``HubClient.message()`` and ``HubClient.sign()``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adapters.sdk import HubClient
from bench.environment import BenchEnv
from bench.topology import AGENCIES, MUNICIPALITIES

__all__ = ["BSN", "MessageFactory", "Prepared", "references", "sizes", "timeout_request_body"]

BSN = "123456782"  # passes the elfproef; fictional (the same as the tests use)


@dataclass(frozen=True)
class Prepared:
    id: str
    sender: str
    recipient: str
    body: bytes


def references(agency: str, n: int) -> dict[str, Any]:
    """``n`` of the agency's own references (capped at the schema's maximum)."""
    if agency == "cjib":
        return {"cjib_payment_references": [f"{1234567890120000 + k}" for k in range(min(n, 50))]}
    if agency == "belastingdienst":
        return _belastingdienst(n)
    n = min(max(n, 1), 20)
    if agency == "duo":
        return {"duo_debt_numbers": [f"DUO-{77341 + k}" for k in range(n)]}
    if agency == "uwv":
        return {"uwv_recovery_decisions": [f"UWV-TV-2026-{k:04d}" for k in range(n)]}
    if agency == "svb":
        return {"svb_benefit_references": [f"SVB-KB-{5521 + k}" for k in range(n)]}
    raise ValueError(agency)


def _belastingdienst(n: int) -> dict[str, Any]:
    years = [2024 - k for k in range(min(n, 20))]
    refs: dict[str, Any] = {"toeslagen_years": years}
    if n > 1:
        refs["belastingdienst_assessments"] = [f"BD-{k:06d}" for k in range(min(n - 1, 20))]
    return refs


def timeout_request_body(agency: str, n_refs: int) -> dict[str, Any]:
    return {
        "bsn": BSN,
        "references": references(agency, n_refs),
        "requested_from": "2026-12-01",
        "requested_months": 4,
        "reason_code": "livelihood_threatened",
        "scope": ["collection", "surcharges"],
    }


class MessageFactory:
    """Signs ``timeout.request`` messages as the municipalities would, with the SDK's own
    ``HubClient.message()`` and ``HubClient.sign()`` (no broker connection needed)."""

    def __init__(self, env: BenchEnv, recipients: int, body_size: int) -> None:
        self.agencies = AGENCIES[:max(1, min(recipients, len(AGENCIES)))]
        self.clients = {
            m: HubClient(m, amqp_url=env.url_of(m), registry=env.registry,
                         key=env.participants.key(m),
                         state_url=f"sqlite:///{env.root / f'sdk-{m}.sqlite3'}")
            for m in MUNICIPALITIES
        }
        self.tag = uuid.uuid4().hex[:6]
        self.serial = 0
        self.n_refs = {a: self._refs_for(a, body_size) for a in self.agencies}

    def _refs_for(self, agency: str, body_size: int) -> int:
        n = 1
        while n < 50 and len(self._sign("gm0193", agency, n).body) < body_size:
            n += 1
        return n

    def _sign(self, sender: str, agency: str, n_refs: int) -> Prepared:
        client = self.clients[sender]
        self.serial += 1
        document = client.message(type="timeout.request", recipient=agency,
                                  case_id=f"b{self.tag}-c{self.serial}",
                                  body=timeout_request_body(agency, n_refs))
        return Prepared(id=document["id"], sender=sender, recipient=agency,
                        body=client.sign(document))

    def make(self, sender: str, index: int) -> Prepared:
        agency = self.agencies[index % len(self.agencies)]
        return self._sign(sender, agency, self.n_refs[agency])

    def batch(self, count: int, publishers: int) -> list[list[Prepared]]:
        """``count`` messages split over ``publishers`` (publisher p sends as municipality p%2)."""
        lanes: list[list[Prepared]] = [[] for _ in range(publishers)]
        for i in range(count):
            p = i % publishers
            lanes[p].append(self.make(MUNICIPALITIES[p % 2], i))
        return lanes


def sizes(lanes: Iterable[Iterable[Prepared]]) -> dict[str, float]:
    lengths = sorted(len(m.body) for lane in lanes for m in lane)
    return {"min": lengths[0], "mean": round(sum(lengths) / len(lengths), 1),
            "max": lengths[-1]} if lengths else {}
