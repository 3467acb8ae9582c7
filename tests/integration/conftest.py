"""Fixtures shared by the integration tests of the federation (trust document)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.cli import main
from hub.contract import trust
from hub.contract.keys import public_keys_path, read_public_entries


@pytest.fixture
def federation(keys_dir: Path, tmp_path: Path, registry_file: Path,
               monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, bytes]:
    """Own keys with a registry-authority key; the environment the trust CLI reads. Returns the
    keys directory, the trust file and the authority's raw public key."""
    own = Path(shutil.copytree(keys_dir, tmp_path / "keys"))
    trust_file = tmp_path / "published" / "trust.json"
    monkeypatch.setenv("MAATWERK_KEYS_DIR", str(own))
    monkeypatch.setenv("MAATWERK_REGISTRY", str(registry_file))
    monkeypatch.setenv("MAATWERK_TRUST_FILE", str(trust_file))
    assert main(["trust", "authority"]) == 0
    authority = read_public_entries(public_keys_path(own, trust.AUTHORITY))[0].raw
    return own, trust_file, authority
