"""The README tables of environment variables are the settings models' own (hub and SDK), and a
field cannot be added to either model undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings

from adapters.sdk.config import AdapterSettings, docs_table
from hub.config import VARIABLES, Settings, describe_variables, readme_table
from hub.contract.environment import variable, variables

ROOT = Path(__file__).resolve().parents[2]


def _table_rows(text: str) -> list[str]:
    """The rows of the one table that starts with ``| Variable | Default | Meaning |``."""
    lines = text[text.index("| Variable | Default | Meaning |"):].splitlines()
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


@pytest.mark.parametrize(("document", "table"), [
    ("README.md", readme_table), ("docs/adapters/README.md", docs_table)])
def test_readme_table_is_the_settings_table(document: str, table: object) -> None:
    assert callable(table)
    got = _table_rows((ROOT / document).read_text())
    assert got == table().splitlines(), (
        f"{document}: its table of variables differs from the settings model; paste:\n{table()}")


def test_every_variable_is_in_the_readme_table_and_in_help() -> None:
    text = (ROOT / "README.md").read_text()
    assert [name for name in VARIABLES if f"| `{name}` |" not in text] == []
    assert [name for name in VARIABLES if f"  {name} " not in describe_variables()] == []
    assert set(VARIABLES) == {f.validation_alias for f in Settings.model_fields.values()}
    assert len(VARIABLES) == len(Settings.model_fields) == 29
    assert len(variables(AdapterSettings)) == len(AdapterSettings.model_fields) == 22


def test_an_undocumented_field_is_refused() -> None:
    class Undocumented(BaseSettings):
        documented: int = variable("MAATWERK_X", 1, "a documented one")
        secret: int = Field(2, validation_alias="MAATWERK_Y")

    with pytest.raises(TypeError, match=re.escape("Undocumented.secret: no variable name")):
        variables(Undocumented)
