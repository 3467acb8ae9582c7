"""The token file: hashes only, roles in order, the credentials a request may carry."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from hub.contract.errors import ConfigError
from hub.contract.tokens import TokenFile, is_loopback, require_auth_off_loopback, role_allows


def test_a_token_is_stored_only_as_its_hash(tmp_path: Path) -> None:
    tokens, token = TokenFile.load(tmp_path / "t.yaml", missing_ok=True).add("prom", "metrics")
    tokens.save()
    text = (tmp_path / "t.yaml").read_text()
    assert token not in text and token[4:] not in text
    loaded = TokenFile.load(tmp_path / "t.yaml")
    assert loaded.authenticate(token) == loaded.clients[0]
    assert loaded.authenticate(token + "x") is None
    # A new token for the same client replaces the old one.
    again, newer = loaded.add("prom", "metrics")
    assert again.authenticate(token) is None and again.authenticate(newer) is not None


def test_a_token_in_clear_or_a_bad_role_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("clients:\n  - {id: a, role: viewer, token: mwt_secret}\n")
    with pytest.raises(ConfigError, match="in clear"):
        TokenFile.load(path)
    path.write_text(f"clients:\n  - {{id: a, role: root, token_sha256: {'0' * 64}}}\n")
    with pytest.raises(ConfigError, match="role"):
        TokenFile.load(path)
    with pytest.raises(ConfigError, match="unknown role"):
        TokenFile(path).add("a", "admin")


def test_roles_include_the_smaller_ones() -> None:
    assert role_allows("operator", "viewer") and role_allows("viewer", "metrics")
    assert not role_allows("metrics", "viewer") and not role_allows("viewer", "operator")


def test_decide_reads_bearer_and_basic(tmp_path: Path) -> None:
    tokens, token = TokenFile(tmp_path / "t.yaml").add("beheer", "viewer")
    assert tokens.decide(None, "viewer").status == 401
    assert tokens.decide("Bearer", "viewer").status == 401
    assert tokens.decide(f"Bearer {token}", "viewer").status == 200
    assert tokens.decide(f"bearer {token}", "operator").status == 403
    basic = base64.b64encode(f"beheer:{token}".encode()).decode()
    assert tokens.decide(f"Basic {basic}", "viewer").status == 200
    wrong_id = base64.b64encode(f"other:{token}".encode()).decode()
    assert tokens.decide(f"Basic {wrong_id}", "viewer").status == 401
    assert tokens.decide("Basic !!!", "viewer").status == 401


def test_off_loopback_needs_a_token_file(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
    assert not is_loopback("hub.example")
    require_auth_off_loopback("127.0.0.1", None, "x", "VAR")
    require_auth_off_loopback("0.0.0.0", TokenFile(tmp_path / "t.yaml"), "x", "VAR")
    with pytest.raises(ConfigError, match="VAR"):
        require_auth_off_loopback("0.0.0.0", None, "x", "VAR")
