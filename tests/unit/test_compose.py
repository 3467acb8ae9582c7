"""compose/ without a container engine: structure, files, broker definitions, dashboard metrics."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hub.config import Settings
from hub.contract import names
from hub.contract.registry import load_registry
from hub.core.broker_admin import DEAD_LETTER_POLICY, permissions_for
from hub.core.topology import quorum_arguments
from hub.telemetry.metrics import HubMetrics

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
AGENCIES = ("belastingdienst", "duo", "uwv", "svb", "cjib")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((COMPOSE / "rabbitmq" / "definitions.json").read_text())
    return document


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


# -- structure -----------------------------------------------------------------------------------

def test_every_service_has_an_image_or_build_and_known_dependencies(
    services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    expected = {"rabbitmq", "postgres", "hub", "municipality", "loket", "prometheus", "grafana",
                *(f"adapter-{a}" for a in AGENCIES), *(f"backoffice-{a}" for a in AGENCIES)}
    assert expected <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        depends = service.get("depends_on", {})
        for target in depends if isinstance(depends, list) else depends.keys():
            assert target in services, f"{name} depends on unknown service {target}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name}: named volume {source} undeclared"


def test_images_and_commands(services: dict[str, dict[str, Any]]) -> None:
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["hub"]["command"][:2] == ["maatwerk-hub", "run"]
    assert "8080" in _env(services["hub"])["MAATWERK_HTTP_PORT"]
    assert _env(services["hub"])["MAATWERK_HTTP_HOST"] == "0.0.0.0"
    for agency in AGENCIES:
        adapter = services[f"adapter-{agency}"]
        assert adapter["command"] == ["maatwerk-adapter", "run", agency]
        assert _env(adapter)["BACKOFFICE_URL"].startswith(f"http://backoffice-{agency}:")
        assert "backoffice-" + agency in adapter["depends_on"]
        assert services[f"backoffice-{agency}"]["command"] == ["maatwerk-backoffice", agency]
    assert services["municipality"]["command"] == ["maatwerk-adapter", "run",
                                                   "municipality"]
    assert services["loket"]["command"] == ["maatwerk-adapter", "run", "loket"]


def test_adapters_connect_as_their_own_broker_user(services: dict[str, dict[str, Any]]) -> None:
    registry = load_registry()
    for name, service in services.items():
        env = _env(service)
        if "AMQP_URL" not in env or name == "demo":
            continue  # the demo logs in as the broker's admin and connects its children itself
        user = urlsplit(env["AMQP_URL"]).username
        participant = env.get("MAATWERK_PARTICIPANT", "hub")
        found = registry.get(participant)
        assert found is not None, name
        assert user == found.broker_user, f"{name} connects as {user}, not {found.broker_user}"


def test_every_mounted_or_built_file_exists(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), f"{name} mounts missing {source}"
        build = service.get("build")
        if build:
            context = (COMPOSE / build["context"]).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: no {dockerfile}"
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY "):
                    for source in line.split()[1:-1]:
                        assert (context / source).exists(), f"Dockerfile copies missing {source}"


def test_http_surfaces_are_authenticated_or_loopback(services: dict[str, dict[str, Any]]) -> None:
    """The hub and the municipality API listen on 0.0.0.0 in their containers: only with a
    token file (else they refuse to start), and published on the host's loopback only."""
    hub, municipality = _env(services["hub"]), _env(services["municipality"])
    assert hub["MAATWERK_HTTP_TOKENS"].startswith("/tokens/")
    assert municipality["MAATWERK_ADAPTER_HTTP_TOKENS"].startswith("/tokens/")
    for name in ("hub", "municipality"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), name
        assert services[name]["depends_on"]["http-tokens"]["condition"] == \
            "service_completed_successfully"
    script = " ".join(services["http-tokens"]["command"])
    assert "tokens --file /tokens/hub-http.yaml add prometheus --role metrics" in script
    config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "maatwerk-hub"]
    assert job["authorization"]["credentials_file"] == "/tokens/prometheus.token"


# Published ports that may bind to every interface of the host: only the broker's AMQPS listener,
# for adapters on other hosts, and only with TLS (docs/operations.md, "The compose stack with
# TLS"; the demo stack speaks plain AMQP and so publishes none).
PUBLIC_PORTS = {("rabbitmq", "5671")}


def published(port: Any) -> tuple[str | None, str]:
    """(host address or None for every interface, container port) of one `ports` entry."""
    if isinstance(port, dict):  # long syntax
        return port.get("host_ip") or None, str(port["target"])
    parts = str(port).split("/", 1)[0].rsplit(":", 2)
    if len(parts) == 3:
        return parts[0].strip("[]") or None, parts[2]
    return None, parts[-1]  # "HOST:CONTAINER" or "CONTAINER": all interfaces


def test_published_port_parsing() -> None:
    assert published("127.0.0.1:9090:9090") == ("127.0.0.1", "9090")
    assert published("9090:9090") == (None, "9090")
    assert published("5672") == (None, "5672")
    assert published("0.0.0.0:5671:5671/tcp") == ("0.0.0.0", "5671")
    assert published({"target": 3000, "published": 3000}) == (None, "3000")
    assert published({"target": 3000, "host_ip": "127.0.0.1"}) == ("127.0.0.1", "3000")


def test_no_published_port_binds_to_every_interface(services: dict[str, dict[str, Any]]) -> None:
    """Prometheus, Alertmanager, Grafana, the broker's AMQP, UI and metrics, the hubs: all on
    the host's loopback, so a stack started on a networked machine exposes none of them."""
    exposed = []
    for name, service in services.items():
        for port in service.get("ports", []):
            host, target = published(port)
            if (host is None or not host.startswith("127.")) and \
                    (name, target) not in PUBLIC_PORTS:
                exposed.append(f"{name}: {port}")
    assert not exposed, f"published beyond loopback: {exposed}"
    assert any(services[name].get("ports") for name in ("rabbitmq", "prometheus", "grafana"))


def test_grafana_needs_a_login(services: dict[str, dict[str, Any]]) -> None:
    env = _env(services["grafana"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "GF_AUTH_ANONYMOUS_ORG_ROLE" not in env
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")


def test_prometheus_scrapes_hub_and_rabbitmq() -> None:
    config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    assert {"hub:8080", "rabbitmq:15692"} <= targets


def test_rabbitmq_plugins_and_definitions_are_loaded() -> None:
    plugins = (COMPOSE / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins
    conf = (COMPOSE / "rabbitmq" / "rabbitmq.conf").read_text()
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf
    assert "prometheus.return_per_object_metrics = true" in conf


# -- broker definitions --------------------------------------------------------------------------

def test_definitions_match_the_topology(definitions: dict[str, Any]) -> None:
    registry = load_registry()
    limit = Settings.from_env({}).delivery_limit
    queues = {q["name"]: q for q in definitions["queues"]}
    inboxes = {names.inbox(p.id) for p in registry.document.participants if p.kind != "hub"}
    assert set(queues) == {names.HUB_QUEUE, names.REPLAY_QUEUE, names.DEAD_LETTER_QUEUE,
                           *inboxes}
    for name, queue in queues.items():
        assert queue["vhost"] == "/" and queue["durable"] and not queue["auto_delete"]
        if name == names.DEAD_LETTER_QUEUE:
            assert queue["arguments"] == {"x-queue-type": "quorum",
                                          "x-quorum-initial-group-size": 3}
        else:
            assert queue["arguments"] == dict(quorum_arguments(limit)), name
    exchanges = {e["name"]: e["type"] for e in definitions["exchanges"]}
    assert exchanges == {names.INBOUND_EXCHANGE: "direct", names.DELIVER_EXCHANGE: "direct",
                         names.REPLAY_EXCHANGE: "direct", names.DEAD_LETTER_EXCHANGE: "fanout"}
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
    assert (names.INBOUND_EXCHANGE, names.HUB_QUEUE, names.INBOUND_ROUTING_KEY) in bindings
    assert (names.REPLAY_EXCHANGE, names.REPLAY_QUEUE, names.REPLAY_ROUTING_KEY) in bindings
    [retention] = definitions["policies"]
    assert retention["name"] == DEAD_LETTER_POLICY and "message-ttl" in retention["definition"]
    assert any(s == names.DEAD_LETTER_EXCHANGE and d == names.DEAD_LETTER_QUEUE
               for s, d, _ in bindings)
    for p in registry.document.participants:
        if p.kind != "hub":
            assert (names.DELIVER_EXCHANGE, names.inbox(p.id), p.id) in bindings


def test_definitions_grant_least_privilege(definitions: dict[str, Any]) -> None:
    registry = load_registry()
    granted = {p["user"]: p for p in definitions["permissions"] if p["vhost"] == "/"}
    for participant in registry.document.participants:
        expected = permissions_for(participant)
        got = granted[participant.broker_user]
        assert (got["configure"], got["write"], got["read"]) == (
            expected.configure, expected.write, expected.read), participant.id
    users = {u["name"] for u in definitions["users"]}
    assert {p.broker_user for p in registry.document.participants} <= users
    assert {v["name"] for v in definitions["vhosts"]} == {"/", "demo"}  # demo: the profile


def test_demo_passwords_in_compose_match_the_definitions(
    services: dict[str, dict[str, Any]], definitions: dict[str, Any]
) -> None:
    hashes = {u["name"]: u for u in definitions["users"]}
    for name, service in services.items():
        url = _env(service).get("AMQP_URL")
        if not url:
            continue
        parts = urlsplit(url)
        user = hashes[parts.username or ""]
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        assert hashlib.sha256(salt + (parts.password or "").encode()).digest() == digest, name


# -- Grafana ------------------------------------------------------------------------------------

def exported_metric_names() -> set[str]:
    """Every series name the hub exports, whether or not it has samples yet."""
    found: set[str] = set()
    for family in HubMetrics().registry.collect():
        found.update(sample.name for sample in family.samples)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                    "gauge": ("",)}.get(family.type, ("",))
        found.update(family.name + s for s in suffixes)
    return found


_FUNCTIONS_AND_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "histogram_quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "topk", "bottomk", "clamp_min", "clamp_max", "abs", "delta", "deriv", "offset", "bool",
    "le", "vector", "scalar", "time", "absent", "min_over_time", "max_over_time",
}


def metric_names_in(expr: str) -> set[str]:
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)        # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                 # range selectors
    expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # grouping labels
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return {w for w in words if w not in _FUNCTIONS_AND_KEYWORDS}


def test_dashboard_uses_only_real_metrics() -> None:
    dashboard = json.loads((COMPOSE / "grafana" / "dashboards" / "maatwerk-hub.json").read_text())
    exported = exported_metric_names()
    assert {"maatwerk_messages_routed_total", "maatwerk_answer_seconds_bucket",
            "maatwerk_overdue"} <= exported
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names_here = metric_names_in(target["expr"])
            assert names_here, f"no metric in {target['expr']}"
            used |= names_here
    unknown = {n for n in used if not n.startswith("rabbitmq_") and n not in exported}
    assert not unknown, f"dashboard queries metrics the hub does not export: {sorted(unknown)}"
    for wanted in ("maatwerk_messages_routed_total", "maatwerk_messages_refused_total",
                   "maatwerk_answer_seconds_bucket", "maatwerk_overdue", "maatwerk_late",
                   "maatwerk_timeouts_active", "rabbitmq_queue_messages_ready"):
        assert wanted in used


def test_metric_name_extraction() -> None:
    assert metric_names_in('histogram_quantile(0.9, sum by (le, participant) '
                           '(rate(maatwerk_answer_seconds_bucket{awaited="x"}[5m])))') == {
        "maatwerk_answer_seconds_bucket"}
    assert "maatwerk_nope" not in exported_metric_names()


def test_grafana_provisioning_points_at_the_dashboards(
    services: dict[str, dict[str, Any]]
) -> None:
    provider = yaml.safe_load(
        (COMPOSE / "grafana" / "provisioning" / "dashboards" / "maatwerk.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = dict(v.split(":")[:2][::-1] for v in services["grafana"]["volumes"])
    assert path in mounts and (COMPOSE / mounts[path]).is_dir()
    datasource = yaml.safe_load(
        (COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    dashboard = json.loads((COMPOSE / "grafana" / "dashboards" / "maatwerk-hub.json").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert all(p["datasource"]["uid"] == uid for p in dashboard["panels"])


# -- alerts -------------------------------------------------------------------------------------

ALERTS = {"MaatwerkHubNotReady", "MaatwerkOverdueAnswers", "MaatwerkDeadLettersGrowing",
          "MaatwerkKeyExpiresSoon", "MaatwerkInboundBacklog", "MaatwerkAuditFailing",
          "MaatwerkRefusalRateSpike"}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((COMPOSE / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_cover_the_operators_cases_with_real_metrics() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == ALERTS
    exported = exported_metric_names()
    for rule in rules:
        used = metric_names_in(rule["expr"])
        unknown = {n for n in used if not n.startswith("rabbitmq_") and n not in exported}
        assert used and not unknown, f"{rule['alert']} queries {sorted(unknown)}"
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    docs = (ROOT / "docs" / "operations.md").read_text()
    missing = {a for a in ALERTS if f"`{a}`" not in docs}
    assert not missing, f"docs/operations.md does not explain {sorted(missing)}"


def test_prometheus_loads_the_rules_and_sends_to_alertmanager(
    services: dict[str, dict[str, Any]]
) -> None:
    config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    mounts = dict(v.split(":")[:2][::-1] for v in services["prometheus"]["volumes"])
    for rule_file in config["rule_files"]:
        assert rule_file in mounts and (COMPOSE / mounts[rule_file]).is_file()
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"]
               for t in sc["targets"]]
    assert targets and all(t.split(":")[0] in services for t in targets)
    tests = yaml.safe_load((COMPOSE / "prometheus" / "alerts.test.yml").read_text())
    tested = {t["alertname"] for case in tests["tests"] for t in case["alert_rule_test"]}
    assert tested == ALERTS  # promtool test rules (scripts/test) exercises every alert


def test_alertmanager_routes_every_severity_to_a_receiver(
    services: dict[str, dict[str, Any]]
) -> None:
    config = yaml.safe_load((COMPOSE / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}
    routes = config["route"]["routes"]
    assert config["route"]["receiver"] in receivers
    assert all(r["receiver"] in receivers for r in routes)
    routed = {m.split("=")[1].strip().strip('"') for r in routes for m in r["matchers"]
              if m.startswith("severity")}
    assert routed == {r["labels"]["severity"] for r in alert_rules()}
    mounts = dict(v.split(":")[:2][::-1] for v in services["alertmanager"]["volumes"])
    assert (COMPOSE / mounts["/etc/alertmanager/alertmanager.yml"]).is_file()


def test_dashboard_shows_key_expiry() -> None:
    dashboard = json.loads((COMPOSE / "grafana" / "dashboards" / "maatwerk-hub.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert any("maatwerk_key_expiry_days" in e for e in exprs)
