"""Authentication of every HTTP surface over real HTTP: the hub's endpoints and console, and the
municipality adapter's API. No token 401, a token of too small a role 403, a good token 200; the
token file holds no token in clear; nothing listens off loopback without a token file."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from adapters.cases import CaseStore
from adapters.http import protect, start_server
from adapters.municipality import MunicipalityAdapter, api
from hub.cli import main
from hub.config import Settings
from hub.contract.errors import ConfigError
from hub.contract.registry import Registry
from hub.contract.tokens import TokenFile
from hub.service import HubService
from sandbox import free_port
from tests.conftest import ClientFactory
from tests.helpers import timeout_request_body

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def add_token(path: Path, client: str, role: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``maatwerk-hub tokens add`` as an operator runs it; the token is its stdout."""
    capsys.readouterr()
    assert main(["tokens", "--file", str(path), "add", client, "--role", role]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("mwt_") and len(token) > 40
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_hub_endpoints_need_a_token_of_the_right_role(
    hub_settings: Settings, registry: Registry, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "http-tokens.yaml"
    prometheus = add_token(path, "prometheus", "metrics", capsys)
    viewer = add_token(path, "beheer", "viewer", capsys)
    stored = path.read_text()
    assert prometheus not in stored and viewer not in stored  # hashes only
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    port = free_port()
    service = HubService(hub_settings.replace(http_port=port, http_tokens=path),
                         registry=registry)
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            # The orchestrators' probes stay open.
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200
            for path_ in ("/metrics", "/overdue", "/cases/ZW-A1", "/", "/console",
                          "/console/api/summary", "/no-such-page"):
                anonymous = await http.get(path_)
                assert anonymous.status_code == 401, path_
                assert "Bearer" in anonymous.headers["www-authenticate"]
                wrong = await http.get(path_, headers=bearer("mwt_" + "x" * 43))
                assert wrong.status_code == 401, path_
            metrics = await http.get("/metrics", headers=bearer(prometheus))
            assert metrics.status_code == 200 and "maatwerk_" in metrics.text
            for path_ in ("/overdue", "/cases/ZW-A1", "/", "/console/api/summary"):
                assert (await http.get(path_, headers=bearer(prometheus))).status_code == 403
            assert (await http.get("/overdue", headers=bearer(viewer))).status_code == 200
            assert (await http.get("/metrics", headers=bearer(viewer))).status_code == 200
            assert (await http.get("/", headers=bearer(viewer))).status_code == 200
            assert (await http.get("/cases/ZW-A1", headers=bearer(viewer))).status_code == 404
            # A browser on the console: HTTP Basic, client id and token.
            basic = base64.b64encode(f"beheer:{viewer}".encode()).decode()
            page = await http.get("/", headers={"Authorization": f"Basic {basic}"})
            assert page.status_code == 200 and "<html" in page.text.lower()
            other = base64.b64encode(f"prometheus:{viewer}".encode()).decode()
            assert (await http.get("/", headers={"Authorization": f"Basic {other}"})
                    ).status_code == 401
            # Revoked: effective at the next request, without a restart.
            assert main(["tokens", "--file", str(path), "remove", "beheer"]) == 0
            assert (await http.get("/overdue", headers=bearer(viewer))).status_code == 401
            assert (await http.get("/metrics", headers=bearer(prometheus))).status_code == 200
    finally:
        await service.stop()


async def test_hub_refuses_to_serve_off_loopback_without_tokens(
    hub_settings: Settings, registry: Registry
) -> None:
    service = HubService(hub_settings.replace(http_host="0.0.0.0", http_port=free_port()),
                         registry=registry)
    with pytest.raises(ConfigError, match="MAATWERK_HTTP_TOKENS"):
        await service.start()
    assert service.audit is None  # refused before opening the state or the broker


def test_hub_command_exits_with_one_line_off_loopback(tmp_path: Path) -> None:
    env = {**os.environ, "MAATWERK_HTTP_HOST": "0.0.0.0", "MAATWERK_HTTP_PORT": "18099",
           "MAATWERK_KEYS_DIR": str(tmp_path / "keys"),
           "MAATWERK_STATE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}"}
    env.pop("MAATWERK_HTTP_TOKENS", None)
    done = subprocess.run([sys.executable, "-m", "hub", "run", "--dev-keys"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("maatwerk-hub: the hub's HTTP endpoints would listen on 0.0.0.0")
    assert "Traceback" not in done.stderr


def test_adapter_command_refuses_an_open_api_off_loopback(tmp_path: Path) -> None:
    env = {**os.environ, "MAATWERK_PARTICIPANT": "gm0193",
           "MAATWERK_ADAPTER_HTTP_HOST": "0.0.0.0", "MAATWERK_KEYS_DIR": str(tmp_path),
           "MAATWERK_ADAPTER_STATE": str(tmp_path / "state"),
           "AMQP_URL": "amqp://nobody:nothing@127.0.0.1:1/"}
    env.pop("MAATWERK_ADAPTER_HTTP_TOKENS", None)
    adapter = str(Path(sys.executable).parent / "maatwerk-adapter")
    done = subprocess.run([adapter, "run", "municipality"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "MAATWERK_ADAPTER_HTTP_TOKENS" in done.stderr and "Traceback" not in done.stderr


async def test_municipality_api_needs_a_token_of_the_right_role(
    hub: HubService, client: ClientFactory, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "api-tokens.yaml"
    viewer = add_token(path, "dashboard", "viewer", capsys)
    operator = add_token(path, "zaaksysteem", "operator", capsys)
    assert viewer not in path.read_text() and operator not in path.read_text()
    gm = await client("gm0193")
    adapter = MunicipalityAdapter(gm, CaseStore(tmp_path / "cases"))
    await gm.consume()
    with pytest.raises(ConfigError, match="not a loopback address"):
        protect(api(adapter), "0.0.0.0", None)
    server = await start_server(protect(api(adapter), "127.0.0.1", TokenFile.load(path)))
    message = {"type": "timeout.request", "recipient": "cjib", "case_id": "ZW-A2",
               "body": timeout_request_body("cjib")}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/openapi.json")).status_code == 200
            assert (await http.post("/messages", json=message)).status_code == 401
            assert (await http.get("/cases/ZW-A2")).status_code == 401
            assert (await http.post("/messages", json=message, headers=bearer(viewer))
                    ).status_code == 403
            assert (await http.get("/cases/ZW-A2", headers=bearer(viewer))).status_code == 200
            check = await http.post("/precheck", json=message, headers=bearer(viewer))
            assert check.status_code == 200 and check.json()["would_pass"] is True
            assert adapter.store.case("ZW-A2") == []  # nothing sent so far
            sent = await http.post("/messages", json=message, headers=bearer(operator))
            assert sent.status_code == 202, sent.text
    finally:
        await server.stop()
    assert [e["direction"] for e in adapter.store.case("ZW-A2")] == ["sent"]
