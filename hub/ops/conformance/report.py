"""The kit's report: a pass/fail table for people, JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from hub.ops.conformance.checks import CHECKS, FAIL, PASS, SKIP, CheckResult
from hub.ops.conformance.plan import Probe


@dataclass(frozen=True)
class Report:
    participant: str
    results: tuple[CheckResult, ...]
    probes: tuple[Probe, ...]
    seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def result(self, name: str) -> CheckResult:
        return next(r for r in self.results if r.name == name)


MARK = {PASS: "PASS", FAIL: "FAIL", SKIP: "skip"}


def render(report: Report) -> str:
    """The table: one line per check, then the problems of each failed check, then notes."""
    width = max(len(r.name) for r in report.results)
    lines = [f"conformance of {report.participant}: {len(report.probes)} messages delivered "
             f"in {report.seconds:.1f} s", ""]
    for result in report.results:
        lines.append(f"{MARK[result.status]:<4}  {result.name:<{width}}  {result.summary}")
    for result in report.failed:
        lines += ["", f"{result.name}: {CHECKS.get(result.name, '')}"]
        lines += [f"  - {detail}" for detail in result.details]
    if report.notes:
        lines += ["", "notes:"] + [f"  - {note}" for note in report.notes]
    counts = {s: sum(r.status == s for r in report.results) for s in (PASS, FAIL, SKIP)}
    lines += ["", f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped: "
              f"{'CONFORMS' if report.ok else 'DOES NOT CONFORM'}"]
    return "\n".join(lines)


def junit_xml(report: Report) -> bytes:
    """One ``testsuite`` named after the participant, one ``testcase`` per check."""
    suite = ET.Element("testsuite", {
        "name": f"maatwerk-conformance.{report.participant}",
        "tests": str(len(report.results)),
        "failures": str(len(report.failed)),
        "errors": "0",
        "skipped": str(sum(r.status == SKIP for r in report.results)),
        "time": f"{report.seconds:.3f}",
    })
    for result in report.results:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"conformance.{report.participant}", "name": result.name, "time": "0"})
        if result.status == FAIL:
            failure = ET.SubElement(case, "failure", {"message": result.summary,
                                                       "type": "nonconformance"})
            failure.text = "\n".join(result.details)
        elif result.status == SKIP:
            ET.SubElement(case, "skipped", {"message": result.summary})
        ET.SubElement(case, "system-out").text = CHECKS.get(result.name, "")
    if report.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(report.notes)
    suites = ET.Element("testsuites")
    suites.append(suite)
    xml: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return xml
