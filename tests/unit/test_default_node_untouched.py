"""No test stops, resets or reconfigures the shared default RabbitMQ node: broker restarts and
outages happen on the tests' own nodes (``sandbox.nodes``, ``sandbox.tls_node``), whose every
``rabbitmqctl`` call names its node with ``-n``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A rabbitmqctl command line as a list whose next element is not "-n" (the node name): such a
# call goes to the default node.
DANGEROUS = re.compile(r"""\[\s*["']rabbitmqctl["']\s*,(?!\s*["']-n["'])""")


def _sources() -> list[Path]:
    return [p for d in ("tests", "sandbox", "bench", "demo") for p in (ROOT / d).rglob("*.py")
            if p.resolve() != Path(__file__).resolve()]


def test_no_rabbitmqctl_call_without_a_node_name() -> None:
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _sources()
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if DANGEROUS.search(line)]
    assert not offenders, f"rabbitmqctl on the default node: {offenders}"


def test_the_check_catches_a_bare_call() -> None:
    assert DANGEROUS.search('subprocess.run(["rabbitmqctl", "stop_app"], check=True)')
    assert DANGEROUS.search('subprocess.run, ["rabbitmqctl", action], check=True')
    assert not DANGEROUS.search('["rabbitmqctl", "-n", node, "stop_app"]')
