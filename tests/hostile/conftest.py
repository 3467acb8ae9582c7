"""Fixtures of the hostile-input tests: a forge of messages from gm0193 with its real key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.contract.keys import load_private_key, private_key_path
from tests.hostile.specimens import Forge


@pytest.fixture(scope="session")
def forge(keys_dir: Path) -> Forge:
    return Forge(load_private_key(private_key_path(keys_dir, "gm0193")),
                 other_key=load_private_key(private_key_path(keys_dir, "gm0363")))
