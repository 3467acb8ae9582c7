"""Rotation, revocation at a time, the signing-key choice and expiry warnings (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.cli import main
from hub.contract import keys
from hub.contract.config_bundle import merge_published_keys
from hub.contract.errors import KeyStoreError
from hub.contract.registry import Registry, load_registry
from hub.contract.signing import kid_for, public_key_raw
from hub.ops.key_expiry import expiring_keys

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_rotate_keeps_the_old_key_valid_and_signers_switch_once_the_new_one_is_valid(
    tmp_path: Path,
) -> None:
    first = keys.generate(tmp_path, "cjib", now=NOW - timedelta(days=10))
    with pytest.raises(KeyStoreError, match="keys rotate"):
        keys.generate(tmp_path, "cjib")
    later = keys.rotate(tmp_path, "cjib", not_before=NOW + timedelta(days=1))
    entries = keys.read_public_entries(keys.public_keys_path(tmp_path, "cjib"))
    assert [e.kid for e in entries] == [first.kid, later.kid]
    assert keys.private_key_path(tmp_path, "cjib", later.kid).stat().st_mode & 0o777 == 0o600

    def signer(at: datetime) -> str:
        key = keys.current_private_key(tmp_path, "cjib", entries, at)
        return kid_for(public_key_raw(key.public_key()))

    assert signer(NOW) == first.kid  # the new key is not valid yet
    assert signer(NOW + timedelta(days=2)) == later.kid
    keys.revoke(tmp_path, "cjib", later.kid, now=NOW + timedelta(days=3))
    entries = keys.read_public_entries(keys.public_keys_path(tmp_path, "cjib"))
    assert signer(NOW + timedelta(days=4)) == first.kid  # revoked: back to the old one


def test_cli_rotate_and_revoke_at(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys.generate(tmp_path, "duo")
    assert main(["keys", "rotate", "duo", "--keys-dir", str(tmp_path), "--valid-days", "30"]) == 0
    new_kid = capsys.readouterr().out.split("new kid ")[1].split(",")[0]
    assert main(["keys", "revoke", "duo", "--keys-dir", str(tmp_path),
                 "--at", "2027-01-01T00:00:00Z", "--", new_kid]) == 0
    entry = next(e for e in keys.read_public_entries(keys.public_keys_path(tmp_path, "duo"))
                 if e.kid == new_kid)
    assert entry.revoked_at == datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(SystemExit):  # argparse: a time without a zone is refused
        main(["keys", "revoke", "duo", "--keys-dir", str(tmp_path),
              "--at", "2027-01-01T00:00:00", "--", new_kid])
    assert "give a time zone" in capsys.readouterr().err


def test_cli_revokes_a_kid_that_begins_with_a_dash(tmp_path: Path) -> None:
    """One kid in 64 begins with '-' (base64url); after '--' the command takes it as the KID
    (this test's predecessor passed it before the options and failed one run in 64)."""
    kid = keys.generate(tmp_path, "uwv").kid
    while not kid.startswith("-"):
        kid = keys.rotate(tmp_path, "uwv").kid
    assert main(["keys", "revoke", "uwv", "--keys-dir", str(tmp_path), "--", kid]) == 0
    entries = keys.read_public_entries(keys.public_keys_path(tmp_path, "uwv"))
    assert next(e for e in entries if e.kid == kid).revoked_at is not None


def test_expiry_warning_starts_14_days_before_and_stops_after_rotation(tmp_path: Path) -> None:
    keys.generate(tmp_path, "svb", now=NOW - timedelta(days=352), valid_days=365)
    registry = load_registry()

    def notes(at: datetime) -> list[str]:
        document = merge_published_keys(registry.document, tmp_path)
        return [n for n in expiring_keys(Registry(document), at) if " of svb " in n]

    assert notes(NOW - timedelta(days=2)) == []  # 15 days left
    assert len(notes(NOW)) == 1 and "keys rotate svb" in notes(NOW)[0]  # 13 days left
    keys.rotate(tmp_path, "svb", not_before=NOW)
    assert notes(NOW) == []
