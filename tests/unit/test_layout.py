"""The module lists of the README ("Layout") and docs/architecture.md ("Every module") name every
module of the tree, each under its own directory, so neither goes stale when a module is added."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "adapters", "sandbox", "demo", "bench")


def modules() -> list[Path]:
    """Every Python module of the packages (an ``__init__.py`` is its package's, not a module)."""
    return sorted(p.relative_to(ROOT) for package in PACKAGES
                  for p in (ROOT / package).rglob("*.py")
                  if p.name != "__init__.py" and "__pycache__" not in p.parts)


def section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def blocks(text: str, opener: str) -> dict[str, str]:
    """Directory -> its text: from a line opening it (``opener`` matches it, group 1 the
    directory) to the next such line."""
    found: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        match = re.match(opener, line)
        if match:
            current = match.group(1)
            found.setdefault(current, "")
        if current is not None:
            found[current] += line + "\n"
    return found


def missing(text: str, opener: str) -> list[str]:
    """The modules that ``text`` does not name: by full path anywhere, or by name (``stem`` or
    ``stem.py``, in backticks) in the block of their nearest listed directory."""
    listed = blocks(text, opener)
    absent = []
    for module in modules():
        if f"`{module.as_posix()}`" in text:
            continue
        directories = [d for d in listed if module.as_posix().startswith(d)]
        block = listed[max(directories, key=len)] if directories else ""
        if f"`{module.stem}`" not in block and f"`{module.name}`" not in block:
            absent.append(module.as_posix())
    return absent


def test_the_readme_layout_names_every_module() -> None:
    layout = section((ROOT / "README.md").read_text(), "## Layout")
    assert missing(layout, r"^\s*- `([\w/]+/)`") == []


def test_the_architecture_names_every_module() -> None:
    every = section((ROOT / "docs" / "architecture.md").read_text(), "## Every module")
    assert missing(every, r"^### `([\w/]+/)`") == []


@pytest.mark.parametrize(("text", "named"), [
    ("- `hub/`: `config`\n  - `hub/state/`: `seen`\n", True),
    ("- `hub/`: `hub/state/seen.py`\n", True),
    ("- `hub/`: `seen`\n  - `hub/state/`: nothing\n", False),
    ("- `hub/state/`: nothing\n- `hub/`: `seen`\n", False),
])
def test_a_module_counts_only_under_its_own_directory(text: str, named: bool) -> None:
    """``seen`` named under ``hub/`` does not stand for ``hub/state/seen.py`` when the list has
    a ``hub/state/`` of its own."""
    assert ("hub/state/seen.py" not in missing(text, r"^\s*- `([\w/]+/)`")) is named


def test_every_heading_of_the_architecture_is_a_directory() -> None:
    every = section((ROOT / "docs" / "architecture.md").read_text(), "## Every module")
    headings = re.findall(r"^### `([^`]+)`", every, flags=re.MULTILINE)
    assert headings and all((ROOT / h).is_dir() for h in headings), headings
