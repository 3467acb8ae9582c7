"""Afwijkingsbevoegdheid through the real broker: deviations recorded by a municipality and an
agency reach the loket's register, are counted in the knelpunten report, and the report holds no
personal data (no BSN, no case id, no names, no free text)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.cases import CaseStore, PublishError
from adapters.loket import LoketAdapter
from adapters.municipality import MunicipalityAdapter
from hub.ops.http import build_app
from hub.ops.status import render
from hub.service import HubService
from tests.conftest import ClientFactory
from tests.helpers import BSN, case_of, collect, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]

TEXT = "Terugvordering uitgesteld tot de schuldhulp loopt; geen verrekening met de uitkering."


def deviation(law: str = "participatiewet", article: str = "art. 58 lid 2",
              decision: str = "recovery_deferred", role: str = "teamleider",
              **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rule": {"law": law, "article": article}, "decision_code": decision,
        "decision_text": TEXT, "period_from": "2026-12-01", "period_until": "2027-03-31",
        "decided_by_role": role, "legal_ground": {"law": "awb", "article": "4:84"},
    }
    if role != "board":
        body["approval"] = {"reference": "BA-ZWOLLE-2026-01", "approved_on": "2026-01-15"}
    body.update(extra)
    return body


async def test_deviations_reach_the_register_and_the_knelpunten_report(
    hub: HubService, client: ClientFactory, tmp_path: Path
) -> None:
    loket = LoketAdapter(await client("loket"), CaseStore(tmp_path / "loket"))
    await loket.client.consume()
    gm = MunicipalityAdapter(await client("gm0193"), CaseStore(tmp_path / "gm"))
    await gm.client.consume()
    uwv = await client("uwv")
    uwv_inbox = await collect(uwv)

    await gm.record_deviation("ZW-2026-0042", deviation())
    await gm.record_deviation("ZW-2026-0043", deviation(decision="set_off_not_applied"))
    await uwv.send(uwv.message(
        type="deviation.record", recipient="loket", case_id="ZW-2026-0042",
        body=deviation(law="beleidsregel-uwv-terugvordering", article="3", role="board",
                       decision="recovery_reduced", amount_cents=120_000)))
    await wait_for(lambda: len(loket.deviation_register()) == 3, timeout=20)

    register = loket.deviation_register()
    assert {(d["organisation"], d["rule"]["law"], d["decision_code"]) for d in register} == {
        ("gm0193", "participatiewet", "recovery_deferred"),
        ("gm0193", "participatiewet", "set_off_not_applied"),
        ("uwv", "beleidsregel-uwv-terugvordering", "recovery_reduced")}
    assert all(d["decision_text"] == TEXT for d in register)  # the loket has the text
    await wait_for(lambda: len(uwv_inbox) == 1)  # the loket's receipt
    assert uwv_inbox[0].envelope.type == "receipt"

    report = await hub.knelpunten()
    assert report.deviations == 3
    assert report.per_law == {"participatiewet": 2, "beleidsregel-uwv-terugvordering": 1}
    first = report.per_rule[0]
    assert (first.law, first.article, first.deviations) == ("participatiewet", "art. 58 lid 2", 2)
    assert first.organisations == {"gm0193": 2}
    assert first.outcomes == {"recovery_deferred": 1, "set_off_not_applied": 1}
    assert first.legal_grounds == {"awb 4:84": 2}
    assert [(o.organisation, o.deviations) for o in report.per_organisation] == [
        ("gm0193", 2), ("uwv", 1)]

    # the case timeline shows the deviation, without its free text
    status = await case_of(hub, "ZW-2026-0042")
    assert [(d.organisation, d.decision_code, d.decided_by_role) for d in status.deviations] == [
        ("gm0193", "recovery_deferred", "teamleider"), ("uwv", "recovery_reduced", "board")]
    text = render(status)
    assert "Deviations" in text and "participatiewet art. 58 lid 2" in text
    assert TEXT not in text and TEXT not in status.model_dump_json()

    # /reports/knelpunten and the CLI give the same, and carry no personal data
    app = build_app(hub.metrics, hub.readiness, hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub") as http:
        served = (await http.get("/reports/knelpunten")).json()
    assert served["deviations"] == 3
    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "hub", "report", "knelpunten", "--json"],
        env={**os.environ, "MAATWERK_STATE_URL": hub.settings.state_url},
        capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["per_law"] == report.per_law
    plain = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "hub", "report", "knelpunten"],
        env={**os.environ, "MAATWERK_STATE_URL": hub.settings.state_url},
        capture_output=True, text=True, timeout=60)
    for document in (json.dumps(served), cli.stdout, plain.stdout):
        for personal in (BSN, "ZW-2026-0042", "ZW-2026-0043", TEXT, "Maatwerkfunctionaris",
                         "Zwolle", "@", "BA-ZWOLLE"):
            assert personal not in document, personal
    assert "participatiewet art. 58 lid 2: 2" in plain.stdout


async def test_a_deviation_needs_its_approval_and_goes_only_to_the_loket(
    hub: HubService, client: ClientFactory, tmp_path: Path
) -> None:
    gm = MunicipalityAdapter(await client("gm0193"), CaseStore(tmp_path / "gm"))
    body = deviation()
    del body["approval"]
    with pytest.raises(PublishError, match="bestuurlijke approval"):
        await gm.record_deviation("ZW-1", body)
    with pytest.raises(PublishError, match=r"does not receive deviation\.record"):
        await gm.publish(type="deviation.record", recipient="cjib", case_id="ZW-1",
                         body=deviation())
    with pytest.raises(PublishError, match=r"rule\.article"):
        await gm.record_deviation("ZW-1", deviation(article="moeder ziek"))
