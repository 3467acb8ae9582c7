"""The SDK's public API is exactly ``__all__`` (like httpx's tests/test_exported_members.py), and
its small pure parts: settings, the back-office client's classification, the agency mapping."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest

import adapters.sdk
from adapters.agencies import PROFILES
from adapters.agencies.base import add_months
from adapters.sdk import AdapterSettings, BackOffice, TransientError
from hub.contract.errors import ConfigError

EXPECTED = {
    "AdapterError", "AdapterSettings", "BackOffice", "BackOfficeAnswer", "Delivery", "GiveUp",
    "Handler", "HubClient", "PermanentError", "Reply", "TransientError", "describe_variables",
    "TrustStore", "watch_registry",  # issue 12: the trust document, reloading the registry
    # the contract's exceptions the SDK raises (tests/unit/test_exceptions.py)
    "ConfigError", "HubError", "JsonError", "KeyStoreError", "PolicyRefusal", "Refusal",
    "TrustError",
}


def test_exported_members() -> None:
    assert set(adapters.sdk.__all__) == EXPECTED
    names = {n for n in dir(adapters.sdk) if not n.startswith("_")}
    modules = {"backoffice", "client", "config", "delivery", "errors", "failover", "handled",
               "publishing", "registry_watch", "trust", "trust_follow"}
    assert names - modules == EXPECTED, "export new names through __all__ deliberately"
    for name in adapters.sdk.__all__:
        assert getattr(adapters.sdk, name) is not None


def test_settings_from_env_and_defaults() -> None:
    s = AdapterSettings.from_env({"BACKOFFICE_URL": "http://bo", "BACKOFFICE_RETRIES": "5"},
                                 participant="cjib")
    assert (s.participant, s.retries, s.backoff, s.backoffice_timeout) == ("cjib", 5, 0.5, 10.0)
    assert s.state_dir == Path("var/adapter-cjib") and s.http_host == "127.0.0.1"
    with pytest.raises(ConfigError, match="BACKOFFICE_TIMEOUT"):
        AdapterSettings.from_env({"BACKOFFICE_TIMEOUT": "soon"}, participant="cjib")
    with pytest.raises(ConfigError, match="MAATWERK_PARTICIPANT"):
        AdapterSettings.from_env({})


@pytest.mark.parametrize(("status", "transient"), [
    (200, False), (201, False), (400, False), (404, False), (409, False), (422, False),
    (401, True), (403, True), (408, True), (429, True), (500, True), (503, True),
])
async def test_back_office_classifies_answers(status: int, transient: bool) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"code": "x"})

    office = BackOffice("http://bo.example/api", token="t",
                        transport=httpx.MockTransport(answer))
    try:
        if transient:
            with pytest.raises(TransientError):
                await office.post("/p", {"a": 1}, idempotency_key="k")
        else:
            got = await office.post("/p", {"a": 1}, idempotency_key="k")
            assert got.status == status and got.body == {"code": "x"}
    finally:
        await office.aclose()
    assert seen[0].headers["authorization"] == "Bearer t"
    assert seen[0].headers["idempotency-key"] == "k"
    assert str(seen[0].url) == "http://bo.example/api/p"


async def test_back_office_timeouts_and_connect_errors_are_transient() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    office = BackOffice("http://bo", transport=httpx.MockTransport(fail))
    with pytest.raises(TransientError, match="timed out"):
        await office.post("/p", {}, idempotency_key="k")
    await office.aclose()


def test_every_agency_has_a_profile_and_months_add_up() -> None:
    assert set(PROFILES) == {"belastingdienst", "duo", "uwv", "svb", "cjib"}
    assert add_months(date(2026, 12, 1), 4) == date(2027, 4, 1)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
