"""Key pairs of participants: generate, store and load.

Private keys are PKCS#8 PEM files with mode 0600 under ``KEYS_DIR/private/`` (gitignored, never
committed); public keys are published as ``KEYS_DIR/<participant>.json``: a list of key entries
(raw 32-byte key in base64url, ``kid``, validity window, revocation) that the registry merges in.
"""

from __future__ import annotations

import glob
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from hub.contract.errors import KeyStoreError
from hub.contract.registry import PublicKeyEntry
from hub.contract.signing import b64url, kid_for, public_key_raw

DEFAULT_VALID_DAYS = 365


def private_key_path(keys_dir: Path, participant: str, kid: str | None = None) -> Path:
    """``private/<id>.pem`` (the first key) or ``private/<id>.<kid>.pem`` (a rotated one)."""
    name = f"{participant}.{kid}.pem" if kid else f"{participant}.pem"
    return keys_dir / "private" / name


def private_key_paths(keys_dir: Path, participant: str) -> list[Path]:
    """Every private key file of ``participant``: the first one and the rotated ones."""
    private = keys_dir / "private"
    found = [private_key_path(keys_dir, participant)]
    found += sorted(private.glob(f"{glob.escape(participant)}.*.pem")) if private.is_dir() else []
    return [p for p in found if p.exists()]


def current_private_key(keys_dir: Path, participant: str, entries: list[PublicKeyEntry],
                        now: datetime) -> Ed25519PrivateKey:
    """The private key to sign with now: of the keys published in ``entries`` that are valid
    at ``now`` and not revoked, the one that became valid last (during a rotation's overlap the
    new key). Without any such key, the newest published one, so that readiness shows the
    problem instead of the hub failing to start."""
    by_kid = {e.kid: e for e in entries}
    candidates: list[tuple[datetime, bool, Ed25519PrivateKey]] = []
    for path in private_key_paths(keys_dir, participant):
        key = load_private_key(path)
        entry = by_kid.get(kid_for(public_key_raw(key.public_key())))
        if entry is None:
            continue
        usable = (entry.not_before <= now <= entry.not_after
                  and (entry.revoked_at is None or entry.revoked_at > now))
        candidates.append((entry.not_before, usable, key))
    if not candidates:
        raise KeyStoreError(f"{participant}: no private key under {keys_dir / 'private'} matches "
                            "a published key")
    usable_keys = [c for c in candidates if c[1]] or candidates
    return max(usable_keys, key=lambda c: c[0])[2]


def public_keys_path(keys_dir: Path, participant: str) -> Path:
    return keys_dir / f"{participant}.json"


def public_entry(
    key: Ed25519PrivateKey, *, not_before: datetime, valid_days: int = DEFAULT_VALID_DAYS
) -> PublicKeyEntry:
    raw = public_key_raw(key.public_key())
    # Whole seconds: message timestamps carry milliseconds, and a message signed in the same
    # instant as the key was made must not fall before it.
    not_before = not_before.replace(microsecond=0)
    return PublicKeyEntry(
        kid=kid_for(raw),
        public_key=b64url(raw),
        not_before=not_before,
        not_after=not_before + timedelta(days=valid_days),
    )


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as PKCS#8 PEM, readable by the owner only (created 0600, never widened)."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 key; refuse a file that others can read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read private key {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(f"private key {path} is readable by others: chmod 600 {path}")
    try:
        key = load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise KeyStoreError(f"{path} is not a PKCS#8 PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path} is not an Ed25519 key")
    return key


def read_public_entries(path: Path) -> list[PublicKeyEntry]:
    if not path.exists():
        return []
    return [PublicKeyEntry.model_validate_json(json.dumps(e)) for e in json.loads(path.read_text())]


def write_public_entries(path: Path, entries: list[PublicKeyEntry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [e.model_dump(mode="json", exclude_none=True) for e in entries]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def generate(
    keys_dir: Path, participant: str, *, valid_days: int = DEFAULT_VALID_DAYS,
    now: datetime | None = None,
) -> PublicKeyEntry:
    """Generate a key pair for ``participant``; refuse to overwrite an existing private key."""
    path = private_key_path(keys_dir, participant)
    if private_key_paths(keys_dir, participant):
        raise KeyStoreError(f"{participant} has a private key already; use 'keys rotate' to "
                            "make the next one")
    key = Ed25519PrivateKey.generate()
    entry = public_entry(key, not_before=now or datetime.now(UTC), valid_days=valid_days)
    write_private_key(path, key)
    pub_path = public_keys_path(keys_dir, participant)
    write_public_entries(pub_path, [*read_public_entries(pub_path), entry])
    return entry


def rotate(
    keys_dir: Path, participant: str, *, valid_days: int = DEFAULT_VALID_DAYS,
    not_before: datetime | None = None,
) -> PublicKeyEntry:
    """Make the next key pair of ``participant`` and publish it beside the current ones.

    The new private key is ``private/<id>.<kid>.pem``; the old keys stay published and valid
    until their own ``not_after`` (the overlap), so messages signed under them in flight are
    still accepted. Signers switch to the new key once it is valid (:func:`current_private_key`).
    """
    key = Ed25519PrivateKey.generate()
    entry = public_entry(key, not_before=not_before or datetime.now(UTC), valid_days=valid_days)
    write_private_key(private_key_path(keys_dir, participant, entry.kid), key)
    pub_path = public_keys_path(keys_dir, participant)
    write_public_entries(pub_path, [*read_public_entries(pub_path), entry])
    return entry


def revoke(keys_dir: Path, participant: str, kid: str, *, now: datetime | None = None) -> None:
    """Mark a published key revoked from ``now`` (a time in the future: from then on)."""
    pub_path = public_keys_path(keys_dir, participant)
    entries = read_public_entries(pub_path)
    if not any(e.kid == kid for e in entries):
        raise KeyStoreError(f"{participant} has no key {kid} in {pub_path}")
    when = now or datetime.now(UTC)
    updated = [e.model_copy(update={"revoked_at": when}) if e.kid == kid else e for e in entries]
    write_public_entries(pub_path, updated)


def ensure_dev_keys(keys_dir: Path, participants: list[str]) -> list[str]:
    """Generate a key pair for each participant that has no private key yet; return those made."""
    made = []
    for participant in participants:
        if not private_key_paths(keys_dir, participant):
            generate(keys_dir, participant)
            made.append(participant)
    return made
