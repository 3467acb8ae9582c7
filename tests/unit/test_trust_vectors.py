"""The trust vectors in schemas/test-vectors/trust/ mean what cases.json says they mean."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from hub.contract.trust import TrustError, authority_public_key, verify

ROOT = Path(__file__).resolve().parents[2] / "schemas" / "test-vectors" / "trust"
CASES = json.loads((ROOT / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["name"])
def test_trust_vector(case: dict[str, object]) -> None:
    authority = authority_public_key(str(CASES["authority_public_key"]))
    raw = ((ROOT / str(case["file"])).read_bytes() if "file" in case
           else json.dumps(case["document"]).encode())
    now = datetime.fromisoformat(str(case["verify_at"]).replace("Z", "+00:00"))
    held = None
    if case["held_serial"] is not None:
        held = verify((ROOT / f"serial-{case['held_serial']}.json").read_bytes(), authority,
                      now=now)
    if case["expected"] == "accept":
        assert verify(raw, authority, now=now, current=held).serial >= (held.serial if held
                                                                        else 1)
    else:
        with pytest.raises(TrustError):
            verify(raw, authority, now=now, current=held)
