"""The layers as the code shows them: SQL only in ``hub/state``, each table owned by one module.

The import rules are checked by import-linter (``lint-imports``, contracts in pyproject.toml);
what an import graph cannot see is checked here, on the source: string literals that are SQL.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bSELECT\s+(?:1|pg_\w+)\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(?:CREATE|ALTER|DROP)\s+(?:TABLE|(?:UNIQUE\s+)?INDEX)\b"
    r"|\bWITH\s+\w+\s+AS\s*\(|\bPRAGMA\s+\w+"
)
"""SQL as the hub writes it (upper-case keywords): a statement, not an English sentence or an
HTTP method such as ``DELETE``."""

LOCAL_STORE = {"adapters/sdk/handled.py"}
"""The adapter SDK's own local SQLite store of handled message ids: not the hub's state."""

OWNERS = {
    "messages": "seen",
    "expectations": "ledger",
    "timeouts": "timeouts",
    "outbox": "outbox",
    "audit_log": "audit",
    "audit_head": "audit",
    "audit_log_v5": "migrations",
    "audit_head_v5": "migrations",
    "audit_checkpoints_v6": "migrations",
    "hub_health": "health",
    "escalations": "escalations",
    "escalation_events": "escalations",
    "bridging": "bridging",
    "trust_serials": "trust_serials",
    "deviations": "deviations",
    "info_requests": "information",
    "register_contacts": "register_contacts",
    "hub_leases": "leases",
    "audit_checkpoints": "checkpoints",
    "schema_migrations": "migrations",
    "config_versions": "config_versions",
    "config_reload_requests": "config_versions",
}
"""Every table of the hub's state and the one module of hub/state that reads and writes it."""
RETIRED = {"audit_log_v5", "audit_head_v5", "audit_checkpoints_v6"}
"""Old forms of a rebuilt table, renamed aside, copied and dropped within one migration."""

SCHEMA = "migrations"
"""Creates every table and index (and nothing else touches another owner's rows)."""
READ_ONLY_VIEWS = {"views"}
"""Read-only views across tables (the console's and the status command's queries)."""

_TABLE = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE(?!\s+SET\b)|TABLE(?:\s+IF\s+NOT\s+EXISTS)?)\s+(\w+)"
    r"|\bINDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?\w+\s+ON\s+(\w+)"
)
_WRITE = re.compile(r"^\s*(?:INSERT|UPDATE|DELETE|CREATE|ALTER|DROP)\b")


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes (prose, not code) of the module, classes and functions."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            found.add(id(body[0].value))
    return found


def string_literals(source: str) -> Iterator[tuple[int, str]]:
    """Every string literal of the code with its line (f-strings with their fixed parts joined),
    docstrings left out."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    inside_fstring = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values
                     if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            inside_fstring.update(id(v) for v in node.values)
            yield node.lineno, " ? ".join(parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in prose and id(node) not in inside_fstring:
            yield node.lineno, node.value


def sql_in(path: Path) -> list[tuple[int, str]]:
    return [(line, text) for line, text in string_literals(path.read_text(encoding="utf-8"))
            if SQL.search(text)]


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# -- the detector itself -------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "SELECT * FROM messages WHERE id = $1",
    "SELECT case_id, COUNT(*) AS n\nFROM timeouts GROUP BY case_id",
    "SELECT pg_advisory_xact_lock(726348)",
    "INSERT INTO outbox (id) VALUES ($1)",
    "UPDATE expectations SET reminded_at = $3",
    "DELETE FROM timeouts WHERE case_id = $1",
    "CREATE TABLE IF NOT EXISTS hub_health (replica TEXT PRIMARY KEY)",
    "CREATE INDEX IF NOT EXISTS outbox_case ON outbox (case_id)",
    "WITH activity AS (SELECT 1)",
    "PRAGMA journal_mode=WAL",
])
def test_the_detector_sees_sql(text: str) -> None:
    assert SQL.search(text)


@pytest.mark.parametrize("text", [
    "DELETE",  # an HTTP method (hub/core/broker_admin.py)
    "/api/vhosts/{vhost}",
    "Select the participant from the registry",
    "select the key from the list",
    "UPDATE",
    "the update sets the status",
    "Delete from the inbox after reading",
])
def test_the_detector_ignores_prose_and_http(text: str) -> None:
    assert not SQL.search(text)


def test_string_literals_skip_docstrings_and_join_fstrings() -> None:
    source = (
        'def f(cols):\n'
        '    """SELECT * FROM prose WHERE this = is_a_docstring"""\n'
        '    return f"INSERT INTO audit_log ({cols}) VALUES (1)"\n'
    )
    found = [text for _, text in string_literals(source) if SQL.search(text)]
    assert found == ["INSERT INTO audit_log ( ? ) VALUES (1)"]


# -- the rules -----------------------------------------------------------------------------------

def test_no_sql_outside_the_state_layer() -> None:
    """Outside hub/state no module of hub/ or adapters/ has SQL (the SDK's local store aside)."""
    offenders = {}
    for path in modules("hub", "adapters"):
        name = rel(path)
        if name.startswith("hub/state/") or name in LOCAL_STORE:
            continue
        if found := sql_in(path):
            offenders[name] = [f"line {line}: {text[:60]!r}" for line, text in found]
    assert not offenders, f"SQL outside hub/state (move it into its table's owner): {offenders}"


def test_the_detector_finds_the_state_layer_sql() -> None:
    """The scan is not blind: every owner module of hub/state is found to hold SQL."""
    blind = [owner for owner in set(OWNERS.values())
             if not sql_in(ROOT / "hub" / "state" / f"{owner}.py")]
    assert not blind


def test_each_table_is_read_and_written_by_its_owner_only() -> None:
    """Within hub/state a statement names only tables of its own module; the migrations create
    every table; read-only views may read any table but write none."""
    strays = []
    for path in modules("hub/state"):
        module = path.stem
        for line, text in sql_in(path):
            tables = {a or b for a, b in _TABLE.findall(text)}
            unknown = tables - set(OWNERS)
            assert not unknown, f"{rel(path)}:{line}: unknown table {unknown} (add to OWNERS)"
            if module == SCHEMA and text.lstrip().startswith(("CREATE", "ALTER")):
                continue
            if module == SCHEMA and tables & RETIRED:
                continue  # a table rebuild: copies the retired table's rows, drops it
            if module in READ_ONLY_VIEWS and not _WRITE.match(text):
                continue
            strays += [f"{rel(path)}:{line} uses {t} (owner: {OWNERS[t]})"
                       for t in sorted(tables) if OWNERS[t] != module]
    assert not strays, "a table used outside its owner module: " + "; ".join(strays)


def test_every_table_of_the_migrations_has_an_owner() -> None:
    from hub.state.migrations import MIGRATIONS

    created = {m.group(1) for _, _, statements in MIGRATIONS for s in statements
               if (m := re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", s))}
    assert created | {"schema_migrations"} | RETIRED == set(OWNERS)


def test_no_module_outside_tests_is_over_450_lines() -> None:
    """Modules are named for one concept and stay under 450 lines (aim 200-400)."""
    waived: dict[str, str] = {}  # module -> why it may be longer, for now
    packages = ("hub", "adapters", "demo", "sandbox", "bench")
    long = {rel(p): n for package in packages for p in modules(package)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
            and rel(p) not in waived}
    assert not long
    assert all(len((ROOT / name).read_text(encoding="utf-8").splitlines()) > 450
               for name in waived), "a waived module is short now: remove its waiver"
