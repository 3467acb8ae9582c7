"""The README documents every environment variable the hub reads."""

from __future__ import annotations

from pathlib import Path

from hub.config import VARIABLES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_variable_is_in_the_readme_table() -> None:
    text = README.read_text()
    missing = [name for name in VARIABLES if f"| `{name}` |" not in text]
    assert missing == []
