"""The whole ``schemas/`` tree: render it in memory, write it, or name what differs on disk."""

from __future__ import annotations

from pathlib import Path

from hub.contract.errors import ConfigError
from hub.contract.schemas.asyncapi import asyncapi_document
from hub.contract.schemas.common import GENERATED, Files, json_bytes, yaml_bytes
from hub.contract.schemas.json_schema import json_schema_files
from hub.contract.schemas.readmes import schemas_readme
from hub.contract.schemas.trust_vectors import trust_vector_files
from hub.contract.schemas.vectors import vector_files


def render() -> Files:
    """Every generated file: relative POSIX path -> exact bytes."""
    files: Files = {"README.md": schemas_readme().encode("utf-8")}
    files.update(json_schema_files())
    files["asyncapi.yaml"] = yaml_bytes(asyncapi_document(), GENERATED)
    files.update(vector_files())
    files.update(trust_vector_files("test-vectors/trust/", json_bytes))
    return dict(sorted(files.items()))


def _existing(target: Path) -> set[str]:
    if not target.is_dir():
        return set()
    return {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}


def _check_target(target: Path) -> None:
    """Refuse to write into (and delete from) a directory that is not a schemas tree."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / "asyncapi.yaml").is_file():
        raise ConfigError(
            f"{target} is not empty and holds no asyncapi.yaml: not a schemas directory; "
            "export into an empty or new directory"
        )


def export(target: Path) -> list[Path]:
    """Write the whole tree under ``target``; delete files there that it does not contain.

    Files whose bytes are already right are left untouched. Returns every generated path.
    """
    _check_target(target)
    files = render()
    paths = []
    for rel, data in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        paths.append(path)
    for rel in sorted(_existing(target) - files.keys()):
        (target / rel).unlink()
    for directory in sorted((p for p in target.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    return paths


def stale_report(target: Path) -> list[tuple[str, str]]:
    """(relative path, "missing" | "different" | "extra") for every file that is not as rendered."""
    files = render()
    existing = _existing(target)
    result = []
    for rel in sorted(files.keys() | existing):
        if rel not in existing:
            result.append((rel, "missing"))
        elif rel not in files:
            result.append((rel, "extra"))
        elif (target / rel).read_bytes() != files[rel]:
            result.append((rel, "different"))
    return result


def stale(target: Path) -> list[str]:
    """Relative paths under ``target`` missing, different or extra versus :func:`render`."""
    return [rel for rel, _ in stale_report(target)]
