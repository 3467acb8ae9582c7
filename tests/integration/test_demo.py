"""``maatwerk-demo`` end to end: the hub and seven adapters as child processes on a fresh vhost,
the worked case played with short deadlines; and Ctrl-C stopping everything with no orphans."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from demo import case
from sandbox import free_port
from tests.conftest import MANAGEMENT_URL, amqp_url

pytestmark = [pytest.mark.broker, pytest.mark.slow]

DEMO_BSN = "111222333"


@pytest.fixture
def demo_cmd(vhost: str, keys_dir: Path, registry_file: Path, passwords: dict[str, str],
             tmp_path: Path) -> tuple[list[str], dict[str, str], int]:
    """The demo command line and environment, isolated on this test's vhost and files."""
    passwords_file = tmp_path / "passwords.json"
    passwords_file.write_text(json.dumps(passwords))
    port = free_port()
    env = {**os.environ, "AMQP_URL": amqp_url("guest", "guest", vhost),
           "MAATWERK_STATE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
           "MAATWERK_KEYS_DIR": str(keys_dir), "MAATWERK_REGISTRY": str(registry_file),
           "MAATWERK_MANAGEMENT_URL": MANAGEMENT_URL}
    argv = [sys.executable, "-m", "demo.cli", "--state-dir", str(tmp_path / "demo"),
            "--passwords", str(passwords_file), "--http-port", str(port),
            "--response-seconds", "5", "--receipt-seconds", "4", "--watch-seconds", "0.5"]
    return argv, env, port


def child_pids(output: str) -> list[int]:
    return [int(p) for p in re.findall(r"\(pid (\d+)\)", output)]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone too (reaped by init once the demo has exited)
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.timeout(150)
def test_demo_plays_the_worked_case(demo_cmd: tuple[list[str], dict[str, str], int]) -> None:
    argv, env, _ = demo_cmd
    started = time.monotonic()
    done = subprocess.run([*argv, "--no-wait"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    elapsed = time.monotonic() - started

    # the five outcomes, as the maatwerkfunctionaris receives them
    assert re.search(r"cjib -> gm0193 +timeout.response +ACCEPTED: collection, surcharges", out)
    assert re.search(r"belastingdienst -> gm0193 +timeout.response +ACCEPTED", out)
    assert re.search(r"uwv -> gm0193 +timeout.response +PARTIALLY ACCEPTED: recovery paused .*"
                     r"NOT paused: running deduction \(no_legal_room\)", out)
    assert re.search(r"duo -> gm0193 +timeout.response +DECLINED \(other_route_applies\): "
                     r"A different route applies", out)
    assert re.search(r"svb -> gm0193 +receipt +has the timeout.request", out)
    # SVB stays silent: reminder, then overdue to the loket
    assert re.search(r"hub -> svb \(\+gm0193\) +notice.reminder", out)
    assert re.search(r"hub -> loket +notice.overdue +OVERDUE: svb has not answered", out)
    # the refusal, the escalation, the LET and the overbrugging
    assert "REFUSED: policy_special_category" in out
    assert re.search(r"loket -> gm0193 +escalation.response +accepted", out)
    assert re.search(r"loket -> let +let.referral", out)
    assert re.search(r"let -> loket +let.decision +responsible party named: uwv", out)
    assert re.search(r"loket -> gm0193 +bridging.decision +prefinance EUR 2,450.00", out)
    assert re.search(r"loket -> uwv +bridging.settlement +repay EUR 2,450.00", out)
    assert "uwv back office: settlement of EUR 2,450.00 recorded" in out
    # the escalation as one story: progress, the LET's decision copied to the municipality,
    # the repayment confirmed, the escalation closed
    assert re.search(r"loket -> gm0193 +escalation.progress +ML-[^:]+: working on it", out)
    assert re.search(r"hub -> gm0193 +let.decision +responsible party named: uwv", out)
    assert re.search(r"uwv -> loket +bridging.repaid +repaid EUR 2,450.00", out)
    assert re.search(r"loket -> gm0193 +escalation.closed +ML-\S+ closed: let decided", out)
    ladder = out[out.index("Escalations:"):out.index("Time-outs:")]
    assert "from gm0193: closed" in ladder and "responsible: uwv" in ladder
    assert re.search(r"prefinance 2450.00 EUR, repaid, responsible uwv.*open 0.00", ladder)
    assert re.search(r"hub -> gm0193 +timeout.ended +the time-out at belastingdienst ended", out)
    # the Maatwerkregister: Zwolle publishes its own contact details, the hub answers the entry
    assert re.search(r"gm0193 -> hub +register.update +own entry: new email "
                     r"maatwerkloket@zwolle.example", out)
    assert re.search(r"hub -> gm0193 +register.answer +1 contact point\(s\): gm0193: "
                     r"Maatwerkfunctionaris Zwolle <maatwerkloket@zwolle.example>", out)
    # the afstemmingsbepaling: one answer within the information rule, one refusal naming it
    assert len(re.findall(r"gm0193 -> cjib +info.request +purpose timeout preparation, legal "
                          r"ground pmm-afstemming", out)) == 2
    assert re.search(r"cjib -> gm0193 +info.response +ANSWERED \(rule "
                     r"info-timeout-preparation-cjib\): collection status, contact, debt "
                     r"references, debt total cents", out)
    assert re.search(r"cjib -> gm0193 +info.response +REFUSED \(rule "
                     r"info-timeout-preparation-cjib, not_allowed_for_purpose\): monthly income",
                     out)
    # the afwijkingsbevoegdheid: an agency's and the municipality's deviation, in the register
    assert re.search(r"uwv -> loket +deviation.record +beleidsregel-uwv-terugvordering 3: set "
                     r"off not applied .*by the manager \(ground awb 4:84, bestuurlijke", out)
    assert re.search(r"gm0193 -> loket +deviation.record +participatiewet art. 44 lid 1: late "
                     r"application accepted .*by the teamleider", out)
    # the repayment's due date passes: reminded, overdue at the loket, then repaid
    reminded = re.search(r"hub -> uwv \(\+loket\) +notice.reminder +uwv's repayment asked in "
                         r"the bridging.settlement was due", out)
    overdue = re.search(r"hub -> loket +notice.overdue +OVERDUE: uwv has not confirmed the "
                        r"repayment", out)
    repaid = re.search(r"uwv -> loket +bridging.repaid +repaid EUR 2,450.00", out)
    assert reminded and overdue and repaid
    assert reminded.start() < overdue.start() < repaid.start()
    # a working-day deadline counted across Koningsdag, by the hub's calendar
    assert re.search(r"working days after the reminder, on the Dutch calendar: a reminder on "
                     r"\w+ 2\d April \d{4} is overdue on \w+ \d+ May, not \w+ \d+ \w+: "
                     r"Koningsdag \(\w+ 2[67] April\) is no working day", out)
    # CJIB ends its noodstop for broken agreements; the municipality is told
    assert "maatwerk-adapter end-pause" in out
    assert re.search(r"cjib -> gm0193 +timeout.end_by_agency +cjib ends its time-out on \S+: "
                     r"agreements broken", out)
    # the hub's own record of the case at the end
    status = out[out.index("Timeline (UTC):"):]
    assert "response from svb" in status and "overdue, reminded" in status
    assert re.search(r"cjib +ended \(accepted\).*\(agency\), by the agency: agreements_broken",
                     status)
    assert re.search(r"uwv +active \(partially_accepted\)", status)
    assert re.search(r"duo +declined", status)
    assert re.search(r"svb +requested", status)
    assert re.search(r"belastingdienst +ended \(accepted\).*\(lifted\)", status)
    assert re.search(r"uwv +beleidsregel-uwv-terugvordering 3: set_off_not_applied", status)
    assert re.search(r"gm0193 +participatiewet art. 44 lid 1: late_application_accepted", status)
    assert re.search(r"gm0193 -> cjib \(timeout_preparation, rule info-timeout-preparation-cjib\): "
                     r"refused; refused monthly_income_cents \(not_allowed_for_purpose\)", status)
    assert re.search(r"gm0193 -> cjib \(timeout_preparation, rule info-timeout-preparation-cjib\): "
                     r"answered", status)
    # the LET's knelpunten report: the deviations and the refusal counted, no personal data
    report = out[out.index("Knelpunten report for the LET"):out.index("Console:")]
    assert re.search(r": 2 deviation\(s\)", report)
    assert "participatiewet art. 44 lid 1: 1; by gm0193 1" in report
    assert "beleidsregel-uwv-terugvordering 3: 1; by uwv 1" in report
    assert re.search(r"information refused under rule info-timeout-preparation-cjib \(cjib, "
                     r"timeout_preparation\): 1 of 2", report)
    # the demo plays every instrument, with short deadlines: generous under a loaded machine
    assert elapsed < 110, elapsed
    for url in ("/console", "/metrics", "/console/cases/"):
        assert url in out
    # no personal data in clear, and nothing left running
    assert DEMO_BSN not in out and DEMO_BSN not in done.stderr
    hidden = [body["decision_text"] for body in case.deviations(date.today()).values()]
    hidden += [str(case.INFORMATION["cjib"]["debt_total_cents"]), "48,200", "482.00",
               *case.INFORMATION["cjib"]["debt_references"], case.SITUATION]
    assert not [text for text in hidden if text in out]
    pids = child_pids(out)
    assert len(pids) == 8, pids  # the hub and seven adapters
    assert all(gone(pid) for pid in pids)
    assert "Stopped." in out


@pytest.mark.timeout(120)
def test_ctrl_c_stops_everything(demo_cmd: tuple[list[str], dict[str, str], int],
                                 tmp_path: Path) -> None:
    argv, env, port = demo_cmd
    log = tmp_path / "demo.out"
    with log.open("w") as out:
        demo = subprocess.Popen([*argv, "--response-seconds", "3", "--receipt-seconds", "3"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Everything keeps running" not in log.read_text():
            assert demo.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        page = httpx.get(f"http://127.0.0.1:{port}/console?refresh=0", timeout=10)
        assert page.status_code == 200 and "operator console" in page.text
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=40) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    text = log.read_text()
    assert "Stopped." in text
    pids = child_pids(text)
    assert len(pids) == 8
    assert all(gone(pid) for pid in pids)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
