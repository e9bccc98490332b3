"""Checks of deploy/ and grafana/: what users run, validated without Docker or network.

No container engine runs on development and CI machines, so compose and
Kubernetes files are checked by parsing them and by checking what they refer
to (files, ports, environment variables, data source uids, metric names);
Prometheus configuration and alert rules go through ``promtool`` for real.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from streams.collect.app import ROUTES
from streams.config import Settings
from streams.worker.api import OPEN_PATHS as WORKER_OPEN_PATHS
from tests.support.macros import interpolate
from tests.support.services import system_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GRAFANA = ROOT / "grafana"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS_FILE = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARDS_DIR = GRAFANA / "dashboards"

# Every variable the application reads: the Settings fields (streams/config.py), each
# also as ``<name>_FILE`` (the value read from a mounted secret file).
CX_ENV = {setting.metadata["env"] for setting in fields(Settings)}
CX_FILE_ENV = {f"{name}_FILE" for name in CX_ENV}
# ``# CX_NAME: value`` lines: settings the deploy files show commented out, for the reader.
COMMENTED_SETTING = re.compile(r"^\s*#\s*(CX_[A-Z0-9_]+):\s*\"?([^\s\"#]*)", re.MULTILINE)
# What every deployment sets for the cxpulse containers.
DEPLOYED_ENV = {
    "CX_KAFKA_BOOTSTRAP",
    "CX_CLICKHOUSE_URL",
    "CX_CLICKHOUSE_CLUSTER",
    "CX_DATA_DIR",
    "CX_METRICS_PORT",
    "CX_PARTITIONS",
    "CX_COLLECT_PORT",
}
# A version tag with at least major.minor.patch, or a digest: never `latest` or a moving
# series tag like `3.11-slim` or `25.3`.
PINNED = re.compile(r"[^:@\s]+(:v?\d+\.\d+\.\d+[-\w.]*)?(@sha256:[0-9a-f]{64})?")
DIGEST = "@sha256:"
CX_COMMANDS = {"worker", "topics", "migrate", "demo", "generate", "collect"}
# The collector's routes, from its application: what its probes and scrapes may point at.
COLLECTOR_ROUTES = {path for _, path in ROUTES}
# Environment variables of the third-party images, by image repository.
THIRD_PARTY_ENV = {
    "apache/kafka": re.compile(r"CLUSTER_ID|KAFKA_[A-Z0-9_]+"),
    "clickhouse/clickhouse-server": re.compile(
        r"CLICKHOUSE_(DB|USER|PASSWORD|DEFAULT_ACCESS_MANAGEMENT|SKIP_USER_SETUP)"
    ),
    "grafana/grafana": re.compile(r"GF_[A-Z0-9_]+"),
    "prom/prometheus": None,
    "prom/alertmanager": None,
}

# Prometheus metrics of the workers: the names are an interface of
# streams/worker/metrics.py, and the score gauges come with the scoring stage.
COUNTERS = {
    "cx_events_total",
    "cx_deadletters_total",
    "cx_sink_rows_total",
    "cx_sink_errors_total",
    "cx_notifications_total",
    "cx_score_minutes_written_total",
    "cx_alert_passes_total",
    "cx_alert_changes_total",
    "cx_pii_masked_total",
    "cx_comments_enriched_total",
    "cx_comments_encoded_total",
    "cx_comments_failed_total",
    "cx_dependency_down_seconds_total",
}
HISTOGRAMS = {"cx_sink_write_seconds", "cx_event_lag_seconds", "cx_sink_batch_rows",
              "cx_score_latency_seconds", "cx_alert_pass_seconds", "cx_enrich_batch_seconds",
              "cx_enrich_latency_seconds"}
SCORE_GAUGES = {f"cx_{name}" for name in (
    "nps", "nps_moe", "nps_n", "csat", "csat_low", "csat_high", "csat_n", "ces", "ces_low",
    "ces_high", "ces_n", "health", "response_rate", "failure_rate", "interactions",
    "followup_sla", "followup_due", "followup_overdue", "blind_spot", "sentiment", "sentiment_n",
    "negative_share", "theme_share")}
GAUGES = {"cx_consumer_lag", "cx_snapshot_last_success_timestamp_seconds",
          "cx_assigned_partitions", "cx_alert_scopes", "cx_enrichment_lag_seconds",
          "cx_enrich_assigned_partitions", "cx_dependency_up"}
# The detector's open alerts (issue 7), exported by the leader worker (gauges.py).
ALERT_GAUGE = "cx_alert_active"
ALERT_LABELS = {"tenant", "channel", "touchpoint", "metric", "severity", "incident"}
# The leader's open incidents (issue 17): CxIncident fires on the first and reads its
# summary from the second; both carry only open incidents.
INCIDENT_GAUGES = {"cx_incident_active": {"tenant", "incident", "channel", "touchpoint",
                                          "metric", "severity"},
                   "cx_incident_info": {"tenant", "incident", "summary", "description"}}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

DATASOURCE_UIDS = {
    "cxpulse-prometheus": "prometheus",
    "cxpulse-clickhouse": "grafana-clickhouse-datasource",
}

ALERTMANAGER_FILE = DEPLOY / "alertmanager" / "alertmanager.yml"


# ---------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def config_files() -> list[Path]:
    found = []
    for base in (DEPLOY, GRAFANA):
        for pattern in ("*.yml", "*.yaml", "*.json"):
            found += base.rglob(pattern)
    return sorted(found)


def is_rule_test(path: Path) -> bool:
    return path.stem.endswith("_test")


def rule_files() -> list[Path]:
    return sorted(p for p in RULES_DIR.glob("*.y*ml") if not is_rule_test(p))


def rule_test_files() -> list[Path]:
    return sorted(p for p in RULES_DIR.glob("*.y*ml") if is_rule_test(p))


def alert_rules() -> Iterator[dict[str, Any]]:
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            yield from group["rules"]


def strip_strings(promql: str) -> str:
    """PromQL without its string literals (label values may look like metric names)."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', promql)


def cx_metric_names(promql: str) -> set[str]:
    return set(re.findall(r"(?<![A-Za-z0-9_:])cx_[a-z_]+", strip_strings(promql)))


def is_known_metric(name: str) -> bool:
    if name in COUNTERS | SCORE_GAUGES | GAUGES | HISTOGRAMS | {ALERT_GAUGE} | set(
            INCIDENT_GAUGES):
        return True
    return any(
        name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS
        for suffix in HISTOGRAM_SUFFIXES
    )


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON/YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def dashboards() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def dashboard_targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))  # collapsed rows

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel, target


def promql_targets() -> list[tuple[str, str]]:
    found = []
    for path in dashboards():
        for panel, target in dashboard_targets(json.loads(path.read_text(encoding="utf-8"))):
            if target.get("datasource", panel.get("datasource", {})).get("type") == "prometheus":
                found.append((f"{path.name}: {panel['title']} {target['refId']}", target["expr"]))
    return found


def image_repository(image: str) -> str:
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name


def env_names(environment: dict[str, Any] | list[str] | None) -> set[str]:
    if environment is None:
        return set()
    if isinstance(environment, dict):
        return set(environment)
    return {item.split("=", 1)[0] for item in environment}


def env_dict(environment: dict[str, Any] | list[str] | None) -> dict[str, str]:
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {key: "" if value is None else str(value) for key, value in environment.items()}
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)


def interpolation_default(value: str) -> str:
    """The value compose uses when the variable is unset: ``${VAR:-default}`` -> default."""
    match = re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*:?-(.*)\}", value)
    return match.group(1) if match else value


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a compose service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            if volume.get("type") != "bind":
                continue
            source, target = volume["source"], volume["target"]
        if source.startswith((".", "/", "~")):
            mounts[target] = (DEPLOY / source).resolve()
    return mounts


def host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """Where a container path of a compose service is on the host, if bind-mounted."""
    for target, source in sorted(bind_mounts(service).items(), key=lambda item: -len(item[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / container_path[len(target) :].lstrip("/")
    return None


def command_flag(service: dict[str, Any], flag: str) -> str:
    for arg in service.get("command", []):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{flag} is not set in {service.get('command')}")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def dockerignore_excludes(patterns: list[str], relative: str) -> bool:
    """Docker's .dockerignore rule, simplified: the last matching pattern wins, and a
    pattern matching a parent directory matches everything below it."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        candidates = [pattern]
        if pattern.startswith("**/"):
            candidates.append(pattern[3:])
        if any(
            fnmatch.fnmatchcase(prefix, candidate)
            for prefix in prefixes
            for candidate in candidates
        ):
            excluded = not negate
    return excluded


def split_top_level(text: str) -> list[str]:
    """Split a SELECT list on the commas that are not inside parentheses."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [*items, current.strip()]


def run_tool(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """promtool or amtool from Debian's packages (deploy/local/install-system-deps.sh)."""
    return subprocess.run(
        [system_binary(tool), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False,
    )


def assert_tool_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    return load_yaml(PROMETHEUS_DIR / "prometheus.yml")


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict[str, Any]]:
    return {ds["uid"]: ds for ds in load_yaml(DATASOURCES_FILE)["datasources"]}


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_yaml_docs(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, f"{key} defined twice"
            objects[key] = doc
    return objects


# ---------------------------------------------------------------- every file parses


def test_the_deploy_files_are_there() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in config_files()}
    expected = {
        "deploy/compose.yaml",
        "deploy/prometheus/prometheus.yml",
        "deploy/prometheus/rules/cx.yml",
        "deploy/prometheus/rules/cx_test.yml",
        "deploy/alertmanager/alertmanager.yml",
        "deploy/k8s/kustomization.yaml",
        "grafana/provisioning/datasources/datasources.yml",
        "grafana/provisioning/dashboards/dashboards.yml",
        "grafana/dashboards/cx-pipeline.json",
        "grafana/dashboards/cx-health.json",
        "grafana/dashboards/cx-analytics.json",
    }
    assert expected <= names, f"missing: {sorted(expected - names)}"
    assert (DEPLOY / "Dockerfile").is_file()
    assert (DEPLOY / "README.md").is_file()


@pytest.mark.parametrize("path", config_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_file_parses(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        document = json.loads(text)
        assert isinstance(document, dict), f"{path}: expected a JSON object"
    else:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
        assert documents, f"{path}: no YAML document"
        for document in documents:
            assert isinstance(document, dict), f"{path}: expected a mapping at the top"


# ---------------------------------------------------------------- compose


def test_compose_services(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "kafka",
        "clickhouse",
        "migrate",
        "topics",
        "worker",
        "collector",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"
    assert image_repository(services["kafka"]["image"]) == "apache/kafka"
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft
    assert image_repository(services["clickhouse"]["image"]) == "clickhouse/clickhouse-server"
    for name in ("kafka", "clickhouse", "worker", "collector", "prometheus", "alertmanager",
                 "grafana"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    for name in ("migrate", "topics", "worker"):
        assert services[name]["command"] == [name]
    assert services["worker"]["deploy"]["replicas"] == 2
    for one_shot in ("migrate", "topics"):
        assert services[one_shot]["restart"] == "no"
        assert services["worker"]["depends_on"][one_shot]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_runs_documented_commands(services: dict[str, dict[str, Any]]) -> None:
    app = [name for name, service in services.items() if "build" in service]
    assert set(app) == {"migrate", "topics", "worker", "collector"}
    for name in app:
        assert services[name]["command"][0] in CX_COMMANDS


def test_compose_depends_on_existing_services(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", [])
        for dependency in depends if isinstance(depends, list) else depends.keys():
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_compose_build_references_exist(services: dict[str, dict[str, Any]]) -> None:
    builds = [service["build"] for service in services.values() if "build" in service]
    assert builds
    for build in builds:
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, f"build context {context} is not the repository root"
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), f"{dockerfile} does not exist"


def test_compose_bind_mounts_exist(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    mounted = 0
    named = set(compose.get("volumes") or {})
    for name, service in services.items():
        for target, source in bind_mounts(service).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"
            assert ROOT in source.parents, f"{name}: {source} is outside the repository"
            mounted += 1
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith((".", "/", "~")):
                assert source in named, f"{name}: volume {source} is not declared"
    assert mounted >= 4


def test_compose_config_files_are_mounted(services: dict[str, dict[str, Any]]) -> None:
    prometheus, alertmanager = services["prometheus"], services["alertmanager"]
    config = host_path(prometheus, command_flag(prometheus, "--config.file"))
    assert config == PROMETHEUS_DIR / "prometheus.yml"
    # Rule files resolve relative to the config file, so the rules must be mounted with it.
    assert (
        host_path(
            prometheus,
            str(Path(command_flag(prometheus, "--config.file")).parent) + "/rules/cx.yml",
        )
        == RULES_DIR / "cx.yml"
    )
    config = host_path(alertmanager, command_flag(alertmanager, "--config.file"))
    assert config == ALERTMANAGER_FILE

    grafana = services["grafana"]
    assert host_path(grafana, "/etc/grafana/provisioning") == GRAFANA / "provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path(grafana, home) is not None and host_path(grafana, home).is_file()
    plugins = grafana["environment"]["GF_INSTALL_PLUGINS"]
    assert "grafana-clickhouse-datasource" in plugins


def test_grafana_dashboard_provider_matches_mount(services: dict[str, dict[str, Any]]) -> None:
    providers = load_yaml(DASHBOARD_PROVIDERS_FILE)["providers"]
    assert providers
    for provider in providers:
        assert provider["type"] == "file"
        assert host_path(services["grafana"], provider["options"]["path"]) == DASHBOARDS_DIR


def test_compose_environment_is_documented(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in services.items():
        names = env_names(service.get("environment"))
        if "build" in service:
            unknown = names - CX_ENV
        else:
            repository = image_repository(service["image"])
            assert repository in THIRD_PARTY_ENV, f"{name}: unexpected image {repository}"
            allowed = THIRD_PARTY_ENV[repository]
            unknown = {n for n in names if allowed is None or not allowed.fullmatch(n)}
        assert not unknown, f"{name}: undocumented environment variables {sorted(unknown)}"
    assert env_names(services["worker"]["environment"]) == DEPLOYED_ENV
    # Variables compose substitutes from the user's shell or .env file.
    substituted = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))
    assert substituted, "expected ${CX_...} substitutions to point at your own services"
    assert substituted <= CX_ENV, f"undocumented: {sorted(substituted - CX_ENV)}"
    shown = {name for name, _ in COMMENTED_SETTING.findall(COMPOSE_FILE.read_text())}
    assert {"CX_KAFKA_SECURITY_PROTOCOL", "CX_CLICKHOUSE_PASSWORD_FILE"} <= shown


def test_compose_clickhouse_settings_agree(
    services: dict[str, dict[str, Any]], datasources: dict[str, dict[str, Any]]
) -> None:
    url = urlsplit(interpolation_default(services["worker"]["environment"]["CX_CLICKHOUSE_URL"]))
    clickhouse = env_dict(services["clickhouse"]["environment"])
    assert url.scheme == "clickhouse"
    assert url.hostname in services
    assert image_repository(services[url.hostname]["image"]) == "clickhouse/clickhouse-server"
    assert (url.username, url.password, url.path.strip("/")) == (
        clickhouse["CLICKHOUSE_USER"],
        clickhouse["CLICKHOUSE_PASSWORD"],
        clickhouse["CLICKHOUSE_DB"],
    )
    source = datasources["cxpulse-clickhouse"]
    assert (source["jsonData"]["host"], source["jsonData"]["port"]) == (url.hostname, url.port)
    assert source["jsonData"]["protocol"] == "native"
    assert source["jsonData"]["username"] == url.username
    assert source["secureJsonData"]["password"] == url.password
    assert source["jsonData"]["defaultDatabase"] == url.path.strip("/")
    prometheus = urlsplit(datasources["cxpulse-prometheus"]["url"])
    assert prometheus.hostname in services
    assert image_repository(services[prometheus.hostname]["image"]) == "prom/prometheus"


def test_compose_kafka_bootstrap_is_the_internal_listener(
    services: dict[str, dict[str, Any]],
) -> None:
    bootstrap = interpolation_default(services["worker"]["environment"]["CX_KAFKA_BOOTSTRAP"])
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert any(listener.split("://", 1)[1] == bootstrap for listener in advertised), (
        f"{bootstrap} is not an advertised listener of kafka: {advertised}"
    )


def test_compose_metrics_port_agrees(
    services: dict[str, dict[str, Any]], prometheus_config: dict[str, Any]
) -> None:
    port = int(services["worker"]["environment"]["CX_METRICS_PORT"])
    assert str(port) in [str(p) for p in services["worker"].get("expose", [])]
    targets = scrape_targets(prometheus_config, "cxpulse-worker")
    assert targets
    for host, target_port in targets:
        assert host in services and services[host].get("command") == ["worker"], host
        assert int(target_port) == port


def setting_default(env: str) -> Any:
    """The default of the setting read from ``env`` (streams/config.py)."""
    (found,) = [setting for setting in fields(Settings) if setting.metadata["env"] == env]
    return found.default


def scrape_targets(prometheus_config: dict[str, Any], job_name: str) -> list[tuple[str, int]]:
    job = next(j for j in prometheus_config["scrape_configs"] if j["job_name"] == job_name)
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [(name, int(sd["port"])) for sd in job.get("dns_sd_configs", [])
               for name in sd["names"]]
    targets += [(host, int(port)) for static in job.get("static_configs", [])
                for host, port in (t.rsplit(":", 1) for t in static["targets"])]
    return targets


def probe_path(test: list[str]) -> tuple[str, str]:
    """(port variable, path) a compose healthcheck requests: ``...environ.get('VAR', ...)
    + '/path'``."""
    match = re.search(r"environ\.get\('([A-Z_]+)', '\d+'\) \+ '(/[^']*)'", " ".join(test))
    assert match, f"healthcheck does not follow its container's port setting: {test}"
    return match.group(1), match.group(2)


def test_compose_collector(
    services: dict[str, dict[str, Any]], prometheus_config: dict[str, Any]
) -> None:
    """Port from CX_COLLECT_PORT (its default is the setting's), published for producers on
    the host, ready only with the broker (/readyz), started after the schema and topics."""
    collector = services["collector"]
    default = setting_default("CX_COLLECT_PORT")
    environment = env_dict(collector["environment"])
    assert int(interpolation_default(environment["CX_COLLECT_PORT"])) == default
    (published,) = collector["ports"]
    parts = re.fullmatch(r"(\$\{[^}]*\}|\d+):(\$\{[^}]*\}|\d+)", published)
    assert parts, published
    host, container = (int(interpolation_default(part)) for part in parts.groups())
    assert host == container == default
    variable, path = probe_path(collector["healthcheck"]["test"])
    assert (variable, path) == ("CX_COLLECT_PORT", "/readyz") and path in COLLECTOR_ROUTES
    assert collector["command"] == ["collect"]
    for step in ("migrate", "topics"):  # keys live in ClickHouse, events go to the topics
        assert collector["depends_on"][step]["condition"] == "service_completed_successfully"
    assert scrape_targets(prometheus_config, "cxpulse-collector") == [("collector", default)]
    variable, path = probe_path(services["worker"]["healthcheck"]["test"])
    assert variable == "CX_METRICS_PORT" and path in WORKER_OPEN_PATHS  # no key, no token


def test_probe_path_check_can_fail() -> None:
    with pytest.raises(AssertionError, match="does not follow"):
        probe_path(["CMD", "curl", "http://127.0.0.1:8088/readyz"])


def test_prometheus_sends_alerts_to_alertmanager(
    services: dict[str, dict[str, Any]], prometheus_config: dict[str, Any]
) -> None:
    targets = [
        target
        for am in prometheus_config["alerting"]["alertmanagers"]
        for static in am["static_configs"]
        for target in static["targets"]
    ]
    assert targets
    for target in targets:
        host, port = target.rsplit(":", 1)
        assert image_repository(services[host]["image"]) == "prom/alertmanager"
        assert port == "9093"


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile() -> None:
    instructions = dockerfile_instructions(DEPLOY / "Dockerfile")
    froms = [args for op, args in instructions if op == "FROM"]
    assert froms[-1].split()[0].startswith("python:3.11.")
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the image must not run as root"
    env = {}
    for op, args in final:
        if op == "ENV":
            env.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", args))
    assert {n for n in env if n.startswith("CX_")} <= CX_ENV
    assert all(n in CX_ENV or n.startswith(("PYTHON", "PIP_")) for n in env), sorted(env)
    volumes = [args for op, args in final if op == "VOLUME"]
    assert any(env["CX_DATA_DIR"] in volume for volume in volumes)
    assert json.loads(next(args for op, args in final if op == "ENTRYPOINT")) == ["cxpulse"]
    exposed = next(args for op, args in final if op == "EXPOSE").split()
    assert exposed == [env["CX_METRICS_PORT"], str(setting_default("CX_COLLECT_PORT"))]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "cxpulse" in scripts


def test_docker_build_context_keeps_what_pip_needs() -> None:
    ignore = DEPLOY / "Dockerfile.dockerignore"
    patterns = [
        line.strip()
        for line in ignore.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (
        "pyproject.toml",
        "streams/__init__.py",
        "streams/warehouse/__init__.py",
        "streams/worker/app.py",
        "streams/cli/__main__.py",
        "schemas/__init__.py",
        "schemas/clickhouse/001_raw_events.sql",
    ):
        assert (ROOT / needed).is_file(), needed
        assert not dockerignore_excludes(patterns, needed), f"{needed} is left out of the image"
    for dropped in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/test_deploy.py",
        "streams/__pycache__/app.cpython-311.pyc",
        ".cxpulse/broker.json",
    ):
        assert dockerignore_excludes(patterns, dropped), f"{dropped} goes into the build context"


# ---------------------------------------------------------------- Prometheus and promtool


def test_promtool_check_config() -> None:
    result = run_tool("promtool", "check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert_tool_ok(result)
    assert f"{len(rule_files())} rule files found" in result.stdout + result.stderr


def test_promtool_check_rules() -> None:
    assert rule_files()
    assert_tool_ok(
        run_tool("promtool", "check", "rules", *(str(p) for p in rule_files()), cwd=RULES_DIR)
    )


def test_promtool_test_rules() -> None:
    assert rule_test_files()
    assert_tool_ok(
        run_tool("promtool", "test", "rules", *(p.name for p in rule_test_files()), cwd=RULES_DIR)
    )


def test_rule_files_are_all_loaded_and_tests_are_not(prometheus_config: dict[str, Any]) -> None:
    loaded = set()
    for pattern in prometheus_config["rule_files"]:
        loaded |= {p.resolve() for p in PROMETHEUS_DIR.glob(pattern)}
    assert loaded == {p.resolve() for p in rule_files()}, (
        "prometheus.yml rule_files must list every rules/*.yml except the *_test.yml files"
    )


def test_every_rule_file_has_a_test_file() -> None:
    tested = set()
    for test_file in rule_test_files():
        tested |= {(RULES_DIR / name).resolve() for name in load_yaml(test_file)["rule_files"]}
    assert {p.resolve() for p in rule_files()} <= tested


def test_every_alert_is_tested_firing_and_silent() -> None:
    firing, silent = set(), set()
    for test_file in rule_test_files():
        for case in load_yaml(test_file)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in alert_rules() if "alert" in rule}
    assert alerts
    assert not alerts - firing, f"never tested firing: {sorted(alerts - firing)}"
    assert not alerts - silent, f"never tested silent: {sorted(alerts - silent)}"


def test_alert_rules_are_labelled_and_described() -> None:
    """Every alert has an area (Alertmanager routes on it) and a severity: its own, or,
    for the detector's alerts, the one the detector chose (a label of cx_alert_active)."""
    for rule in alert_rules():
        if "alert" in rule:
            labels = rule["labels"]
            assert labels["area"] in {"cx", "pipeline"}, rule["alert"]
            if labels["area"] == "cx":
                assert cx_metric_names(rule["expr"]) in ({ALERT_GAUGE}, {"cx_incident_active"}), \
                    rule["alert"]
                assert "severity" not in labels, f"{rule['alert']}: severity is the detector's"
            else:
                assert labels["severity"] in {"critical", "warning", "info"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_alert_rules_select_scraped_jobs(prometheus_config: dict[str, Any]) -> None:
    jobs = {job["job_name"] for job in prometheus_config["scrape_configs"]}
    selected = set()
    for rule in alert_rules():
        selected |= set(re.findall(r'\bjob\s*=\s*"([^"]*)"', rule["expr"]))
    assert selected and selected <= jobs


# ---------------------------------------------------------------- Alertmanager and amtool


def test_amtool_check_config() -> None:
    result = run_tool("amtool", "check-config", ALERTMANAGER_FILE.name,
                      cwd=ALERTMANAGER_FILE.parent)
    assert_tool_ok(result)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ("area=cx severity=warning tenant=acme-shop channel=web metric=nps", "cxpulse-cx"),
        ("area=cx severity=critical tenant=acme-shop channel=* metric=nps", "cxpulse-cx-page"),
        ("area=cx severity=warning tenant=acme-shop alertname=CxIncident incident=a1",
         "cxpulse-cx"),
        ("area=cx severity=critical tenant=acme-shop alertname=CxIncident incident=a1",
         "cxpulse-cx-page"),
        ("area=pipeline severity=critical alertname=CxPulseNoWorkers", "cxpulse-ops-page"),
        ("area=pipeline severity=warning alertname=CxPulseSinkSlow", "cxpulse-ops"),
        ("alertname=SomethingElse", "cxpulse-ops"),
    ],
)
def test_alertmanager_routes(labels: str, receiver: str) -> None:
    """CX alerts go to the CX team, pages apart; pipeline alerts to whoever runs CX Pulse."""
    result = run_tool("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_FILE}",
                      *labels.split(), cwd=ALERTMANAGER_FILE.parent)
    assert_tool_ok(result)
    assert result.stdout.split() == [receiver]


def test_alertmanager_groups_by_tenant_and_holds_cx_alerts_on_pipeline_alerts() -> None:
    config = load_yaml(ALERTMANAGER_FILE)
    (cx_route,) = [r for r in config["route"]["routes"] if r["matchers"] == ['area="cx"']]
    assert {"tenant", "channel"} <= set(cx_route["group_by"])
    (rule,) = [r for r in config["inhibit_rules"] if r["target_matchers"] == ['area="cx"']]
    (names,) = [m for m in rule["source_matchers"] if m.startswith("alertname=~")]
    pipeline = {r["alert"] for r in alert_rules() if r.get("labels", {}).get("area") == "pipeline"}
    assert set(names.split("=~", 1)[1].strip('"').split("|")) <= pipeline


# ---------------------------------------------------------------- metric names


def test_known_metric_check_can_fail() -> None:
    assert is_known_metric("cx_events_total") and is_known_metric("cx_sink_write_seconds_bucket")
    assert not is_known_metric("cx_events") and not is_known_metric("cx_sink_errors_bucket")
    assert cx_metric_names('rate(cx_foo_total{topic="cx_bar"}[5m]) / cx_baz') == {
        "cx_foo_total",
        "cx_baz",
    }


def test_rule_metrics_are_exposed_by_workers() -> None:
    used = set()
    for rule in alert_rules():
        names = cx_metric_names(rule["expr"])
        unknown = {n for n in names if not is_known_metric(n)}
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown {unknown}"
        used |= names
    assert {
        "cx_events_total",
        "cx_deadletters_total",
        "cx_sink_errors_total",
        "cx_consumer_lag",
        "cx_snapshot_last_success_timestamp_seconds",
        "cx_alert_passes_total",
        "cx_enrichment_lag_seconds",
        "cx_dependency_up",
        ALERT_GAUGE,
    } <= used


def test_dashboard_metrics_are_exposed_by_workers() -> None:
    targets = promql_targets()
    assert targets
    used = set()
    for where, expr in targets:
        names = cx_metric_names(expr)
        unknown = {n for n in names if not is_known_metric(n)}
        assert not unknown, f"{where}: unknown metrics {unknown}"
        used |= names
    assert {
        "cx_events_total",
        "cx_deadletters_total",
        "cx_sink_write_seconds_bucket",
        "cx_event_lag_seconds_bucket",
    } <= used


def worker_metrics() -> dict[str, set[str]]:
    """Name (``_total`` for counters) -> label names of every metric the worker registers."""
    from prometheus_client import REGISTRY

    import streams.worker.app  # noqa: F401  (imports every module that defines a metric)

    exported = {}
    for collector in list(REGISTRY._collector_to_names):
        for family in getattr(collector, "describe", list)():
            name = family.name + "_total" if family.type == "counter" else family.name
            exported[name] = set(getattr(collector, "_labelnames", ()))
    return exported


def test_documented_metrics_exist_in_the_worker() -> None:
    missing = (COUNTERS | HISTOGRAMS | SCORE_GAUGES | GAUGES) - set(worker_metrics())
    assert not missing, f"streams/worker does not export {sorted(missing)}"


def test_alert_gauge_exists_in_the_worker() -> None:
    assert worker_metrics().get(ALERT_GAUGE) == ALERT_LABELS
    for name, labels in INCIDENT_GAUGES.items():
        assert worker_metrics().get(name) == labels, name


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    """promtool parses every dashboard query, with Grafana's variables substituted."""
    rules = []
    values = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "tenant": ".*",
              "channel": "web", "window": "1h", "followup_window": "7d"}
    for index, (_, expr) in enumerate(promql_targets()):
        expr = interpolate(expr, values)
        assert "$" not in expr, f"unsupported Grafana variable in {expr}"
        rules.append({"record": f"dashboard:query{index}:expr", "expr": expr})
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert_tool_ok(run_tool("promtool", "check", "rules", path.name, cwd=tmp_path))


# ---------------------------------------------------------------- Grafana


def test_datasources_have_stable_uids(datasources: dict[str, dict[str, Any]]) -> None:
    entries = load_yaml(DATASOURCES_FILE)["datasources"]
    assert len(entries) == len(datasources), "duplicate data source uid"
    assert {uid: ds["type"] for uid, ds in datasources.items()} == DATASOURCE_UIDS


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_dashboard_uses_provisioned_datasources(
    path: Path, datasources: dict[str, dict[str, Any]]
) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    refs = [value for key, value in walk(dashboard) if key == "datasource"]
    assert refs
    for ref in refs:
        assert isinstance(ref, dict), f"data source by name or variable: {ref!r}"
        assert ref["uid"] in datasources, f"unknown data source uid {ref['uid']!r}"
        assert ref["type"] == datasources[ref["uid"]]["type"]
    for panel, target in dashboard_targets(dashboard):
        assert "datasource" in panel, panel["title"]
        kind = target.get("datasource", panel["datasource"])["type"]
        assert target.get("expr" if kind == "prometheus" else "rawSql"), panel["title"]


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_dashboard_layout(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel id"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_dashboard_uids_are_unique() -> None:
    uids = [json.loads(p.read_text(encoding="utf-8"))["uid"] for p in dashboards()]
    assert uids and len(uids) == len(set(uids))


def test_dead_letter_panel_reads_the_warehouse_table() -> None:
    ddl = (ROOT / "schemas" / "clickhouse" / "002_deadletters.sql").read_text()
    body = re.search(r"\{database\}\.deadletters\s*\((.*?)\)\s*ENGINE", ddl, re.S)
    assert body, "cx.deadletters DDL not found"
    columns = set(re.findall(r"^\s*([a-z_]+)\s+\S", body.group(1), re.M))
    assert {
        "received_at",
        "reason",
        "message",
        "topic",
        "partition",
        "offset",
        "payload",
    } <= columns
    dashboard = json.loads((DASHBOARDS_DIR / "cx-pipeline.json").read_text(encoding="utf-8"))
    sql = [
        target["rawSql"]
        for panel, target in dashboard_targets(dashboard)
        if panel["type"] == "table" and "rawSql" in target
    ]
    assert sql and "cx.deadletters" in sql[0]
    selected = re.search(r"SELECT(.*?)\bFROM\b", sql[0], re.S | re.I).group(1)
    items = split_top_level(selected)
    assert len(items) >= 5
    for item in items:
        expression = re.split(r"\s+AS\s+", item, flags=re.I)[0]
        identifiers = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression))
        assert identifiers & columns, f"{item!r} reads no column of cx.deadletters"
        function_names = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", expression))
        assert identifiers - function_names <= columns, f"unknown column in {item!r}"


# ---------------------------------------------------------------- Kubernetes


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert {image["name"] for image in kustomization.get("images", [])} == {"cxpulse"}


def test_k8s_environment_is_documented(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every CX_* the manifests set is a setting (or its _FILE; commented ones too: the
    test below reads every deploy file); the Secrets are files, never environment."""
    config = k8s[("ConfigMap", "cxpulse-config")]["data"]
    assert set(config) <= CX_ENV | CX_FILE_ENV, sorted(set(config) - CX_ENV - CX_FILE_ENV)
    for key, value in walk(
        [doc for (kind, _), doc in k8s.items() if kind in {"Deployment", "Job"}]
    ):
        if key == "env":
            names = {item["name"] for item in value}
            assert names <= CX_ENV | CX_FILE_ENV, sorted(names - CX_ENV - CX_FILE_ENV)
        if key == "envFrom":
            for source in value:
                assert "secretRef" not in source, "secrets are mounted as files (*_FILE)"
                ref = source["configMapRef"]
                assert ("ConfigMap", ref["name"]) in k8s, f"ConfigMap {ref['name']} is not defined"
    url = urlsplit(config["CX_CLICKHOUSE_URL"])
    assert url.scheme in {"clickhouse", "clickhouses"} and url.password is None
    assert url.username and config["CX_CLICKHOUSE_PASSWORD_FILE"]


def secret_files(k8s: dict[tuple[str, str], dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    """Every *_FILE path the ConfigMap sets or shows commented -> (variable, set?)."""
    found = {value: (name, False) for name, value in COMMENTED_SETTING.findall(
        (K8S / "configmap.yaml").read_text()) if name.endswith("_FILE")}
    found |= {value: (name, True) for name, value in
              k8s[("ConfigMap", "cxpulse-config")]["data"].items() if name.endswith("_FILE")}
    return found


def test_k8s_secret_files_are_mounted_from_secrets(
        k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Each container that reads the ConfigMap mounts every secret file it names, read-only,
    from a Secret volume; a Secret defined here holds each file (key) a set variable names
    (a commented one's file is the user's to add, as secret.yaml says)."""
    files = secret_files(k8s)
    assert {name for name, _ in files.values()} >= {"CX_CLICKHOUSE_PASSWORD_FILE",
                                                     "CX_KAFKA_SASL_PASSWORD_FILE"}
    for (kind, name), doc in k8s.items():
        if kind not in {"Deployment", "Job"}:
            continue
        volumes = {v["name"]: v["secret"] for v in doc["spec"]["template"]["spec"]["volumes"]
                   if "secret" in v}
        for container in pod_containers(doc):
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])
                      if m["name"] in volumes}
            for path, (variable, active) in files.items():
                directory, _, key = path.rpartition("/")
                assert directory in mounts, f"{name}/{container['name']}: {variable} {path}"
                mount = mounts[directory]
                assert mount.get("readOnly") is True
                secret = volumes[mount["name"]]
                defined = k8s.get(("Secret", secret["secretName"]))
                if defined is not None:
                    assert key in defined["stringData"] or not active, (
                        f"{secret['secretName']} lacks {key}")
                else:
                    assert secret.get("optional") is True, secret["secretName"]


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_k8s_worker(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    deployment = k8s[("Deployment", "cxpulse-worker")]
    config = k8s[("ConfigMap", "cxpulse-config")]["data"]
    port = int(config["CX_METRICS_PORT"])
    assert deployment["spec"]["replicas"] == 2
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    (container,) = template["spec"]["containers"]
    assert container["image"].split(":")[0] == "cxpulse"
    assert container["args"] == ["worker"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port in ports.values()
    for probe in ("readinessProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] in WORKER_OPEN_PATHS  # /metrics may need CX_METRICS_TOKEN
        assert ports.get(http["port"], http["port"]) == port, probe
    data_dir = config["CX_DATA_DIR"]
    assert data_dir in {mount["mountPath"] for mount in container["volumeMounts"]}
    security = template["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0

    service = k8s[("Service", "cxpulse-worker")]
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert ports.get(service_port["targetPort"], service_port["targetPort"]) == port


def test_k8s_setup_job(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    job = k8s[("Job", "cxpulse-setup")]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
    commands = [container["args"] for container in pod_containers(job)]
    assert commands == [["migrate"], ["topics"]]
    for (kind, name), doc in k8s.items():
        if kind in {"Deployment", "Job"}:
            for container in pod_containers(doc):
                assert container["args"][0] in CX_COMMANDS, f"{name}: {container['args']}"


# ---------------------------------------------------------------- pinned images, names, scaling


def is_pinned(image: str) -> bool:
    """A patch-level version tag or a digest (``latest``, ``3.11-slim``, ``25.3`` are not)."""
    match = PINNED.fullmatch(image)
    return bool(match and (match.group(1) or DIGEST in image))


def test_pinning_check_can_fail() -> None:
    for loose in ("python:3.11-slim", "grafana/grafana:latest", "grafana/grafana",
                  "clickhouse/clickhouse-server:25.3"):
        assert not is_pinned(loose), loose
    for pinned in ("prom/prometheus:v2.55.1", "python:3.11.11-slim-bookworm",
                   "busybox@sha256:" + "a" * 64):
        assert is_pinned(pinned), pinned


def kustomized_images() -> dict[str, str]:
    """Image name in the manifests -> what kustomize sets it to."""
    return {image["name"]: f"{image.get('newName', image['name'])}:{image['newTag']}"
            for image in load_yaml(K8S / "kustomization.yaml").get("images", [])}


def test_every_image_is_pinned(
    services: dict[str, dict[str, Any]], k8s: dict[tuple[str, str], dict[str, Any]]
) -> None:
    images = {f"compose {name}": service["image"] for name, service in services.items()
              if "build" not in service}
    images |= {f"Dockerfile FROM {args.split()[0]}": args.split()[0]
               for op, args in dockerfile_instructions(DEPLOY / "Dockerfile") if op == "FROM"}
    syntax = (DEPLOY / "Dockerfile").read_text().splitlines()[0]
    images["Dockerfile syntax"] = syntax.removeprefix("# syntax=")
    kustomized = kustomized_images()
    for (kind, name), doc in k8s.items():
        if kind in {"Deployment", "Job"}:
            for container in pod_containers(doc):
                image = container["image"]
                images[f"{kind} {name} {container['name']}"] = kustomized.get(image, image)
    loose = {where: image for where, image in images.items() if not is_pinned(image)}
    assert not loose, loose
    # The one plugin Grafana installs at start is pinned too ("<plugin id> <version>").
    for plugin in services["grafana"]["environment"]["GF_INSTALL_PLUGINS"].split(","):
        assert re.fullmatch(r"[\w-]+ \d+\.\d+\.\d+", plugin.strip()), plugin


def deploy_texts() -> dict[str, str]:
    paths = [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), DEPLOY / "Dockerfile",
             DEPLOY / "README.md", ROOT / "README.md"]
    return {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
            for path in paths}


def test_every_cx_variable_named_in_deploy_files_is_a_setting() -> None:
    named: dict[str, set[str]] = {}
    for where, text in deploy_texts().items():
        for name in re.findall(r"\bCX_[A-Z0-9_]*[A-Z0-9]\b", text):
            named.setdefault(name, set()).add(where)
    unknown = {name: sorted(where) for name, where in named.items()
               if name not in CX_ENV | CX_FILE_ENV}
    assert not unknown, f"not read by streams/config.py Settings: {unknown}"
    assert set(named) >= DEPLOYED_ENV


def test_compose_worker_scales_with_scale_flag(services: dict[str, dict[str, Any]]) -> None:
    """``docker compose up --scale worker=N``: nothing may be unique per container."""
    worker = services["worker"]
    assert "container_name" not in worker and "hostname" not in worker
    assert not worker.get("ports"), "a published host port collides at the second replica"
    assert worker.get("expose"), "Prometheus reaches each replica on its network port"
    named = [volume for volume in worker.get("volumes", [])
             if not str(volume).startswith(("/", "."))]
    assert not named, f"a named volume would be shared by every replica: {named}"
    for name, service in services.items():
        assert "container_name" not in service, f"{name}: container_name blocks --scale"
    test = " ".join(worker["healthcheck"]["test"])
    assert "CX_METRICS_PORT" in test, "the healthcheck follows each container's own port"


def test_k8s_containers_have_requests_and_limits(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for (kind, name), doc in k8s.items():
        if kind in {"Deployment", "Job"}:
            for container in pod_containers(doc):
                resources = container.get("resources", {})
                for part in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(resources.get(part, {})), (
                        f"{kind} {name} {container['name']}: {part}")


def test_k8s_worker_probes_and_disruption_budget(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    deployment = k8s[("Deployment", "cxpulse-worker")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in WORKER_OPEN_PATHS, probe
    budget = disruption_budget(k8s, deployment)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"].get("maxUnavailable") == 1 or (
        budget["spec"]["minAvailable"] < deployment["spec"]["replicas"])
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}


def disruption_budget(k8s: dict[tuple[str, str], dict[str, Any]],
                      deployment: dict[str, Any]) -> dict[str, Any]:
    """The one PodDisruptionBudget whose selector picks this Deployment's pods."""
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    budgets = [doc for (kind, _), doc in k8s.items() if kind == "PodDisruptionBudget"
               and doc["spec"]["selector"]["matchLabels"].items() <= labels.items()]
    (budget,) = budgets
    assert budget["apiVersion"] == "policy/v1"
    return budget


def test_k8s_collector(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Port from the ConfigMap's CX_COLLECT_PORT (the setting's default), liveness on
    /healthz and readiness on /readyz (routes the collector serves), a Service on that
    port, scraped like the workers, a disruption budget, spread over nodes."""
    deployment = k8s[("Deployment", "cxpulse-collector")]
    config = k8s[("ConfigMap", "cxpulse-config")]["data"]
    port = int(config["CX_COLLECT_PORT"])
    assert port == setting_default("CX_COLLECT_PORT")
    assert deployment["spec"]["replicas"] >= 2
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    annotations = template["metadata"]["annotations"]
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (
        str(port), "/metrics")
    (container,) = template["spec"]["containers"]
    assert container["image"] == "cxpulse" and container["args"] == ["collect"]
    refs = {source.get("configMapRef", source.get("secretRef"))["name"]
            for source in container["envFrom"]}
    assert refs == {"cxpulse-config"}  # settings; the secrets are files (below)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [port]
    expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz",
                "startupProbe": "/healthz"}
    for probe, path in expected.items():
        http = container[probe]["httpGet"]
        assert http["path"] == path and path in COLLECTOR_ROUTES, probe
        assert ports.get(http["port"], http["port"]) == port, probe
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True
    # Webhook and Kafka secrets: mounted when the Secret exists, never required to start;
    # ClickHouse's password (for the key table) is.
    secrets = {volume["secret"]["secretName"]: volume["secret"].get("optional", False)
               for volume in template["spec"]["volumes"] if "secret" in volume}
    assert secrets == {"cxpulse-hook-secrets": True, "cxpulse-kafka": True,
                       "cxpulse-clickhouse": False}
    spread = template["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}

    service = k8s[("Service", "cxpulse-collector")]
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert ports.get(service_port["targetPort"], service_port["targetPort"]) == port

    budget = disruption_budget(k8s, deployment)
    assert budget["spec"].get("maxUnavailable") == 1 or (
        budget["spec"]["minAvailable"] < deployment["spec"]["replicas"])
    worker = k8s[("Deployment", "cxpulse-worker")]
    assert budget is not disruption_budget(k8s, worker)
