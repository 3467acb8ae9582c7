"""Settings read from environment variables: how a field names its variable, and the tables.

Shared by the hub's settings (:mod:`hub.config`) and the adapter SDK's
(:mod:`adapters.sdk.config`), both pydantic-settings models. Only pydantic is needed here: each
field names its variable (``validation_alias``), its default and its meaning (``description``),
and ``--help`` and the README tables are made from those fields, so a variable cannot be added
undocumented (:func:`variables` refuses a field without both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from pydantic.config import JsonDict
from pydantic.fields import FieldInfo

from hub.contract.errors import ConfigError

S = TypeVar("S", bound=BaseModel)


def variable(name: str, default: Any, meaning: str, *, shown: str | None = None,
             **constraints: Any) -> Any:
    """A field read from environment variable ``name``; ``shown`` is the default as documented
    when the value itself says little (``None``, a secret, a value derived from another)."""
    extra: JsonDict | None = {"shown_default": shown} if shown is not None else None
    return Field(default, validation_alias=name, description=meaning, json_schema_extra=extra,
                 **constraints)


def shown_default(field: FieldInfo) -> str:
    """The default as documented: ``shown`` if given, else the value (5.0 shows as 5)."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return str(extra["shown_default"])
    default = field.default
    return f"{default:g}" if isinstance(default, float) else str(default)


def variables(model: type[BaseModel]) -> dict[str, tuple[str, str]]:
    """``{variable: (default as documented, meaning)}`` for every field of ``model``."""
    table = {}
    for name, field in model.model_fields.items():
        if not isinstance(field.validation_alias, str) or not field.description:
            raise TypeError(f"{model.__name__}.{name}: no variable name or no description")
        table[field.validation_alias] = (shown_default(field), field.description)
    return table


def markdown_table(table: Mapping[str, tuple[str, str]]) -> str:
    """The README form: literal defaults in backticks, a described default "(...)" as it is."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, (default, meaning) in table.items():
        shown = default if default.startswith("(") else f"`{default}`"
        rows.append(f"| `{name}` | {shown} | {meaning} |")
    return "\n".join(rows)


def config_error(exc: ValidationError) -> ConfigError:
    """One ConfigError naming every wrong variable: ``NAME is not set`` or ``NAME=value: why``."""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["type"] == "missing":
            problems.append(f"{name} is not set")
        else:
            problems.append(f"{name}={error['input']!r}: {error['msg']}")
    return ConfigError("; ".join(problems))


def replaced(settings: S, changes: dict[str, Any]) -> S:
    """A copy of ``settings`` with ``changes`` (field names), validated like the environment's
    values; an unknown field is a TypeError, a bad value a ConfigError."""
    unknown = sorted(set(changes) - set(type(settings).model_fields))
    if unknown:
        raise TypeError(f"{type(settings).__name__} has no field {', '.join(unknown)}")
    try:
        return type(settings)(**{**settings.model_dump(), **changes})
    except ValidationError as exc:
        raise config_error(exc) from None
