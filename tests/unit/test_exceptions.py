"""The exception tree in hub/contract/errors.py is complete and true, and the SDK exports every
exception it raises (like httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import ast
import builtins
import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import adapters
import adapters.sdk
import demo
import hub
import hub.contract
from hub.contract import errors

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: ModuleType) -> list[ModuleType]:
    found = [package]
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if info.name.endswith(".__main__"):
            continue  # runs a command when imported
        found.append(importlib.import_module(info.name))
    return found


def _exceptions(*packages: ModuleType) -> dict[str, type[BaseException]]:
    """Every exception class defined (not merely imported) in the modules of ``packages``."""
    classes: dict[str, type[BaseException]] = {}
    for package in packages:
        for module in _modules(package):
            for value in vars(module).values():
                if (isinstance(value, type) and issubclass(value, BaseException)
                        and value.__module__ == module.__name__):
                    classes[value.__name__] = value
    return classes


def _tree() -> list[tuple[int, str]]:
    """(depth, name) of each line of the docstring's tree."""
    assert errors.__doc__ is not None
    lines = errors.__doc__.split("::", 1)[1].split("\n\n")[1].splitlines()
    tree = [(0, lines[0].strip())]
    for line in lines[1:]:
        match = re.match(r"^((?:[│ ]   )*)[├└]── (\w+)", line[4:])  # the block is indented 4
        if match:
            tree.append((len(match.group(1)) // 4 + 1, match.group(2)))
    return tree


def test_the_tree_lists_every_exception_with_its_true_parent() -> None:
    defined = _exceptions(hub, adapters, demo)
    tree = _tree()
    named = {name for _, name in tree}
    assert sorted(set(defined) - named) == [], "add these to the tree in hub/contract/errors.py"
    parents: list[str] = []
    for depth, name in tree:
        parents[depth:] = [name]
        cls = defined.get(name) or getattr(builtins, name)
        if depth:
            parent = defined.get(parents[depth - 1]) or getattr(builtins, parents[depth - 1])
            assert cls.__bases__[0] is parent, f"{name}: the tree says it is a {parent.__name__}"


def test_the_sdk_exports_every_exception_of_the_contract_and_its_own() -> None:
    needed = _exceptions(hub.contract, adapters.sdk)
    assert set(needed) <= set(adapters.sdk.__all__)
    for name, cls in needed.items():
        assert getattr(adapters.sdk, name) is cls


def test_every_exception_the_sdk_raises_by_name_is_exported() -> None:
    raised = set()
    for path in (ROOT / "adapters" / "sdk").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                if isinstance(func, ast.Name):
                    raised.add(func.id)
                elif isinstance(func, ast.Attribute):
                    raised.add(func.attr)
    raised -= {name for name in raised if hasattr(builtins, name)}
    raised -= {"config_error"}  # a function returning a ConfigError
    assert raised, "the walk found no raise at all"
    assert sorted(raised - set(adapters.sdk.__all__)) == []
