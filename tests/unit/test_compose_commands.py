"""Every command compose/ and its Dockerfile name exists and runs; the compose file is valid.

No container engine runs here: the compose file is validated against the Compose Specification's
JSON Schema (tests/unit/data/compose-spec.json, from the compose-spec project, Apache-2.0) and,
when a ``docker compose`` client is installed, with ``docker compose config``. Each command is
parsed by the very console script the image installs, the demo back office and the health checks
are started for real.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from sandbox import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
HEALTHCHECK = COMPOSE / "healthcheck.py"
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
    "scripts"]


def compose_file() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    return document


def own_image_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose_file()["services"].items() if "build" in s}


def dockerfile_cmd() -> list[str]:
    for line in (COMPOSE / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            cmd: list[str] = json.loads(line[4:])
            return cmd
    raise AssertionError("Dockerfile has no CMD")


def dockerfile_copies() -> dict[str, str]:
    """Destination in /app -> source in the repository, for every COPY of the Dockerfile."""
    copies = {}
    for line in (COMPOSE / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, dest = line.split()[1:]
            for source in sources:
                target = dest if not dest.endswith("/") else dest + Path(source).name
                copies[str(Path("/app") / target)] = source
    return copies


# -- the compose file is valid ------------------------------------------------------------------

def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests" / "unit" / "data" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose_file()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_broken_file() -> None:
    schema = json.loads((ROOT / "tests" / "unit" / "data" / "compose-spec.json").read_text())
    broken = compose_file()
    broken["services"]["hub"]["healtcheck"] = broken["services"]["hub"].pop("healthcheck")
    broken["services"]["hub"]["depends_on"] = {"rabbitmq": {"condition": "when_it_feels_like"}}
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) >= 2


def test_docker_compose_config_when_a_client_is_installed() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                           check=False) if _have("docker") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no 'docker compose' client on this machine: validated by the JSON Schema")
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE / "docker-compose.yml"),
                           "--profile", "demo", "config", "--quiet"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _have(program: str) -> bool:
    return any((Path(d) / program).is_file() for d in os.environ.get("PATH", "").split(":"))


# -- every command exists and parses ------------------------------------------------------------

SHELL_OPERATORS = {">", ">>", "<", "&&", "||", ";", "|", "{", "}", "test", "-f"}


def shell_invocations(script: str) -> list[list[str]]:
    """The project's commands inside a ``sh -c`` script: each console-script word with its
    arguments up to the next shell operator (redirections and their targets dropped)."""
    words = shlex.split(script.replace(";", " ; ").replace("{", " { ").replace("}", " } "))
    found: list[list[str]] = []
    current: list[str] | None = None
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word in SCRIPTS:
            current = [word]
            found.append(current)
        elif word in (">", ">>", "<"):
            skip_next, current = True, None
        elif word in SHELL_OPERATORS:
            current = None
        elif current is not None:
            current.append(word)
    return found


def all_commands() -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for name, service in own_image_services().items():
        command = list(service["command"])
        if command[:2] == ["sh", "-c"]:
            commands += [(name, c) for c in shell_invocations(command[2])]
        else:
            commands.append((name, command))
    return [*commands, ("Dockerfile CMD", dockerfile_cmd())]


@pytest.mark.parametrize(("where", "command"), all_commands(), ids=lambda v: str(v))
def test_every_command_is_an_installed_console_script_that_accepts_its_arguments(
    where: str, command: list[str]
) -> None:
    assert command[0] in SCRIPTS, f"{where}: {command[0]} is not a console script of the project"
    module_name, function = SCRIPTS[command[0]].split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function)), f"{where}: {SCRIPTS[command[0]]} is missing"
    parser = module.build_parser()
    try:
        parser.parse_args(command[1:])
    except SystemExit as exc:
        raise AssertionError(f"{where}: {shlex.join(command)} is refused by its parser") from exc


def test_every_console_script_named_imports_and_prints_help() -> None:
    named = {c[0] for _, c in all_commands()}
    assert {"maatwerk-hub", "maatwerk-adapter", "maatwerk-backoffice", "maatwerk-demo"} <= named
    for script in sorted(named):
        done = subprocess.run([str(ROOT / ".venv" / "bin" / script), "--help"],
                              capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0 and "usage:" in done.stdout, (script, done.stderr)


def test_no_service_runs_code_from_tests_and_every_module_named_imports() -> None:
    text = (COMPOSE / "docker-compose.yml").read_text() + (COMPOSE / "Dockerfile").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert "tests." not in code and "tests/" not in code
    for _, command in all_commands():
        if command[:2] == ["python", "-m"]:
            importlib.import_module(command[2])


def test_every_healthcheck_runs_a_file_the_image_contains() -> None:
    copies = dockerfile_copies()
    services = compose_file()["services"]
    for name, service in own_image_services().items():
        if name == "demo" or service.get("restart") == "no":
            continue  # one-shot jobs (the demo, the token files): they exit when done
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        test = check["test"]
        assert test[0] == "CMD" and test[1] == "python", name
        assert test[2] in copies, f"{name}: {test[2]} is not copied into the image"
        assert (ROOT / copies[test[2]]).is_file()
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        for target, how in (depends.items() if isinstance(depends, dict) else []):
            if how.get("condition") == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health"


# -- the back offices and health checks run ------------------------------------------------------

def healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(HEALTHCHECK), *args], capture_output=True,
                          text=True, check=False, timeout=30)


def wait_for(url: str, process: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, "the back office exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {within} s")


@pytest.mark.parametrize("agency", ["duo", "cjib"])
def test_the_compose_back_office_runs_answers_and_is_healthy(agency: str) -> None:
    services = compose_file()["services"]
    backoffice, adapter = services[f"backoffice-{agency}"], services[f"adapter-{agency}"]
    port = free_port()
    env = {**os.environ, **{k: str(v) for k, v in backoffice["environment"].items()},
           "BACKOFFICE_HOST": "127.0.0.1", "BACKOFFICE_PORT": str(port)}
    script = ROOT / ".venv" / "bin" / backoffice["command"][0]
    process = subprocess.Popen([str(script), *backoffice["command"][1:]], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        wait_for(url, process)
        check = backoffice["healthcheck"]["test"]
        assert healthcheck(*check[3:-1], check[-1].replace(":8000", f":{port}")).returncode == 0
        # The adapter's BACKOFFICE_URL points at this back office's path.
        path = adapter["environment"]["BACKOFFICE_URL"].split(":8000", 1)[1]
        answer = httpx.post(f"http://127.0.0.1:{port}{path}/pauses", json={
            "request_id": "m1", "bsn": "111222333", "start": "2026-01-05", "months": 4,
            "scope": ["collection"]}, headers={"Idempotency-Key": "m1"}, timeout=10)
        assert answer.status_code == 201
        expected = {"duo": "refused", "cjib": "granted"}[agency]
        assert answer.json()["decision"] == expected
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert b"111222333" not in stderr  # the back office logs the call, never the BSN
    assert healthcheck("http", f"http://127.0.0.1:{port}/healthz").returncode == 1


def test_http_healthcheck_fails_on_an_error_status() -> None:
    done = healthcheck("http", "http://127.0.0.1:1/healthz")
    assert done.returncode == 1 and done.stderr.startswith("unhealthy:")


@pytest.mark.broker
def test_amqp_healthcheck_tells_a_connected_process_from_one_that_is_not() -> None:
    from tests.conftest import BROKER

    host, port = BROKER.hosts[0].split(":")
    connected = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys, time\n"
        f"s = socket.create_connection(({host!r}, {port}))\n"
        "s.sendall(b'AMQP\\x00\\x00\\x09\\x01'); s.recv(1)\n"
        "print('up', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE)
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert connected.stdout is not None and connected.stdout.readline() == b"up\n"
        assert healthcheck("amqp", port, "--pid", str(connected.pid)).returncode == 0
        refused = healthcheck("amqp", port, "--pid", str(idle.pid))
        assert refused.returncode == 1 and "no connection to port" in refused.stderr
        assert healthcheck("amqp", "5671", "--pid", str(connected.pid)).returncode == 1
    finally:
        for process in (connected, idle):
            process.kill()
            process.wait()


# -- the demo profile -----------------------------------------------------------------------------

def test_the_demo_profile_plays_the_case_on_its_own_vhost_with_the_stacks_passwords() -> None:
    import base64
    import hashlib
    from urllib.parse import unquote, urlsplit

    from demo.cli import build_parser

    services = compose_file()["services"]
    demo = services["demo"]
    assert demo["profiles"] == ["demo"]
    # The stack itself has no profile; only the demo and the cluster profile's services do.
    assert all(s.get("profiles", ["cluster"]) == ["cluster"] or "profiles" not in s
               for n, s in services.items() if n != "demo")
    args = build_parser().parse_args(demo["command"][1:])
    assert args.wait is False  # plays the case and exits with its result
    url = urlsplit(demo["environment"]["AMQP_URL"])
    vhost = unquote(url.path[1:])
    assert vhost and vhost != "/"  # never the stack's vhost: it would compete for the inboxes
    definitions = json.loads((COMPOSE / "rabbitmq" / "definitions.json").read_text())
    assert vhost in {v["name"] for v in definitions["vhosts"]}
    assert any(p["user"] == url.username and p["vhost"] == vhost and p["configure"] == ".*"
               for p in definitions["permissions"])
    # The demo (re)sets the participants' passwords: they must be the stack's own, or the
    # stack's adapters could no longer log in.
    mounts = dict(v.split(":")[:2][::-1] for v in demo["volumes"] if v.startswith("."))
    passwords = json.loads((COMPOSE / mounts[str(args.passwords)]).read_text())
    users = {u["name"]: u for u in definitions["users"]}
    assert set(passwords) == set(users) - {"admin"}
    for user, password in passwords.items():
        raw = base64.b64decode(users[user]["password_hash"])
        assert hashlib.sha256(raw[:4] + password.encode()).digest() == raw[4:], user
