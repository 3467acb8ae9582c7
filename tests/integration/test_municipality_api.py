"""The municipality API over real HTTP with the real broker and hub: the synchronous pre-check,
the status of a sent message as the hub decided it, and a schemathesis run of the API against its
own generated OpenAPI document."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.cases import CaseStore
from adapters.http import RunningServer, protect, start_server
from adapters.municipality import MunicipalityAdapter, api
from hub.contract.tokens import TokenFile
from hub.service import HubService
from tests.conftest import ClientFactory
from tests.helpers import timeout_request_body

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


@pytest.fixture
async def served(
    hub: HubService, client: ClientFactory, tmp_path: Path
) -> AsyncIterator[tuple[RunningServer, str, MunicipalityAdapter]]:
    """The municipality API with an operator token; cjib online (it sends receipts)."""
    tokens, token = TokenFile.load(tmp_path / "tokens.yaml", missing_ok=True).add(
        "zaaksysteem", "operator")
    tokens.save()
    gm = await client("gm0193")
    adapter = MunicipalityAdapter(gm, CaseStore(tmp_path / "cases"))
    await gm.consume()
    await (await client("cjib")).consume()
    server = await start_server(protect(api(adapter), "127.0.0.1", TokenFile.load(tokens.path)))
    yield server, token, adapter
    await server.stop()


def request(**changes: Any) -> dict[str, Any]:
    return {"type": "timeout.request", "recipient": "cjib", "case_id": "ZW-P1",
            "body": timeout_request_body("cjib"), **changes}


async def test_precheck_explains_registry_and_policy_per_field(
    served: tuple[RunningServer, str, MunicipalityAdapter],
) -> None:
    server, token, adapter = served
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        good = (await http.post("/precheck", json=request())).json()
        assert good["would_pass"] and good["authorised"] and good["error"] is None
        assert good["rule"] == "timeout-request-cjib"
        paths = {f["path"]: f for f in good["fields"]}
        assert paths["bsn"]["allowed"] and paths["bsn"]["category"] == "identifying"
        assert paths["bsn"]["rule"] == "timeout-request-cjib"

        health = timeout_request_body("cjib", health_context="Opgenomen in de GGZ.")
        bad = (await http.post("/precheck", json=request(body=health))).json()
        assert not bad["would_pass"] and bad["authorised"]
        refused = [f for f in bad["fields"] if not f["allowed"]]
        assert [f["path"] for f in refused] == ["health_context"]
        assert refused[0]["category"] == "health" and refused[0]["why"]
        assert "Opgenomen" not in (await http.post("/precheck",
                                                   json=request(body=health))).text

        wrong = (await http.post("/precheck",
                                 json=request(type="let.referral"))).json()
        assert not wrong["would_pass"] and not wrong["authorised"]
        assert wrong["error"]["field"] == "type"
    assert adapter.store.case("ZW-P1") == []  # a pre-check sends nothing


async def poll(http: httpx.AsyncClient, url: str, state: str) -> dict[str, Any]:
    for _ in range(400):
        answer = (await http.get(url)).json()
        if answer["state"] == state:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never became {state}: {answer}")


async def test_status_url_tells_what_the_hub_decided(
    served: tuple[RunningServer, str, MunicipalityAdapter],
) -> None:
    server, token, _ = served
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        accepted = await http.post("/messages", json=request())
        assert accepted.status_code == 202
        status_url = accepted.json()["status_url"]
        assert status_url == f"/messages/{accepted.json()['id']}"
        delivered = await poll(http, status_url, "delivered")
        assert delivered["recipient"] == "cjib" and delivered["reason_code"] is None
        assert [e["type"] for e in delivered["events"]] == ["receipt"]

        # The adapter's own checks pass (schema, registry); the hub's policy refuses it.
        body = timeout_request_body("cjib", situation_summary="Huurachterstand.")
        sent = await http.post("/messages", json=request(case_id="ZW-P2", body=body))
        assert sent.status_code == 202
        refused = await poll(http, sent.json()["status_url"], "refused")
        assert refused["reason_code"] == "policy_special_category"
        assert refused["rule"] == "timeout-request-cjib"
        assert refused["field_paths"] == ["/body/situation_summary"]  # JSON pointers (main)

        unknown = await http.get("/messages/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404


async def test_schemathesis_against_the_running_api(
    served: tuple[RunningServer, str, MunicipalityAdapter], tmp_path: Path,
) -> None:
    """Every operation, generated positive and negative input, the responses checked against the
    document. ``positive_data_acceptance`` is left out: a schema-valid request may still carry a
    body that its message type's schema (schemas/json/) refuses, and that 422 is the point."""
    server, token, _ = served
    base = f"http://127.0.0.1:{server.port}"
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{base}/openapi.json",
        "--checks", "all", "--exclude-checks",
        "positive_data_acceptance,use_after_free,ensure_resource_availability",
        "--header", f"Authorization: Bearer {token}", "--max-examples", "25",
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "14",
        "--generation-database", "none", "--no-color", "--request-timeout", "20",
        "--report-dir", str(tmp_path / "report"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=200)
    text = output.decode()
    assert process.returncode == 0, text[-6000:]
    assert "passed" in text.lower()
