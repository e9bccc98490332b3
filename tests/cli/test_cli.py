"""``cxpulse`` as a user runs it: real subprocesses, real broker, clear one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from streams.ports import free_port
from tests.support.services import CXPULSE, consume_all, wait_until

COMMANDS = ["demo", "worker", "topics", "migrate", "produce", "generate", "scores", "top", "cases",
            "verify", "bench", "keys", "forget", "incidents", "status", "retention"]


def cxpulse(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    return subprocess.run([CXPULSE, *args], env=clean | (env or {}), capture_output=True,
                          timeout=timeout, input=stdin, cwd=cwd)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = cxpulse(command, "--help")
    assert result.returncode == 0 and b"usage: cxpulse " + command.encode() in result.stdout


def one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    text = result.stderr.decode()
    assert result.returncode == 2, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    for needle in needles:
        assert needle in text, text
    return text


def test_unreachable_broker_is_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    result = cxpulse("topics", env={"CX_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
                                    "CX_DATA_DIR": str(tmp_path)})
    one_line_error(result, f"127.0.0.1:{port}", "CX_KAFKA_BOOTSTRAP")


def test_no_broker_at_all_says_how_to_get_one(tmp_path: Path) -> None:
    result = cxpulse("produce", "-", env={"CX_DATA_DIR": str(tmp_path)}, stdin=b"")
    one_line_error(result, "no Kafka", "cxpulse worker")


def test_an_enrich_worker_without_the_model_is_one_clear_line(tmp_path: Path) -> None:
    env = {"CX_COMMENT_ENRICH": "off", "CX_DATA_DIR": str(tmp_path)}
    one_line_error(cxpulse("worker", "--role", "enrich", env=env), "CX_COMMENT_ENRICH=off")
    one_line_error(cxpulse("worker", env=env | {"CX_WORKER_ROLE": "enrich"}),
                   "CX_COMMENT_ENRICH=off")
    one_line_error(cxpulse("worker", env={"CX_WORKER_ROLE": "scorer"}), "CX_WORKER_ROLE")
    result = cxpulse("worker", "--role", "scorer")
    assert result.returncode == 2 and b"invalid choice: 'scorer'" in result.stderr


def test_bad_settings_name_the_variable(tmp_path: Path) -> None:
    one_line_error(cxpulse("migrate", env={"CX_PARTITIONS": "four"}), "CX_PARTITIONS")
    one_line_error(cxpulse("migrate", env={"CX_CLICKHOUSE_URL": "postgres://x"}),
                   "CX_CLICKHOUSE_URL")
    port = free_port()
    one_line_error(cxpulse("migrate", env={
        "CX_CLICKHOUSE_URL": f"clickhouse://default:@127.0.0.1:{port}/cx"}), f"{port}")
    one_line_error(cxpulse("produce", str(tmp_path / "missing.jsonl"),
                           env={"CX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}), "127.0.0.1:1")


def test_cases_errors_are_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    one_line_error(cxpulse("cases", "--json", env={
        "CX_CLICKHOUSE_URL": f"clickhouse://default:@127.0.0.1:{port}/cx"}), f"{port}")
    one_line_error(cxpulse("cases", env={"CX_NOTIFY_KEYWORDS": " , "}), "CX_NOTIFY_KEYWORDS")
    one_line_error(cxpulse("cases", cwd=tmp_path), "cxpulse cases: error:", "does not exist")


def test_produce_routes_by_type_and_reports_unroutable_lines(kafka: str, tmp_path: Path) -> None:
    lines = [
        {"event_id": "a", "type": "interaction"}, {"event_id": "b", "type": "feedback"},
        {"event_id": "c", "type": "followup", "feedback_id": "b"},
    ]
    data = b"\n".join(orjson.dumps(line) for line in lines) + b"\n\nnot json\n{\"type\": \"x\"}\n"
    result = cxpulse("produce", "-", env={"CX_KAFKA_BOOTSTRAP": kafka}, stdin=data)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "line 5: not JSON" in err and "line 6: no routable 'type'" in err
    assert "sent 3 messages" in err
    for topic, event_id in [("cx.interactions", "a"), ("cx.feedback", "b"),
                            ("cx.followups", "c")]:
        assert [orjson.loads(v)["event_id"] for v in consume_all(kafka, topic, 1)] == [event_id]


def test_generate_is_deterministic_and_writes_json_lines() -> None:
    args = ("generate", "--seed", "3", "--rate", "50", "--duration", "20s", "--backfill",
            "--start", "2026-11-20T10:00:00+01:00", "--output", "-")
    first, second = cxpulse(*args), cxpulse(*args)
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(events) > 500
    assert first.stdout == second.stdout
    assert events[0]["occurred_at"].startswith("2026-11-20")


@pytest.mark.integration
def test_demo_shows_events_landing_and_stops_its_broker(tmp_path: Path) -> None:
    result = cxpulse("demo", "--duration", "12s", "--rate", "100", "--history", "2m",
                     cwd=tmp_path, env={
        "CX_DATA_DIR": str(tmp_path / "data"), "CX_METRICS_PORT": str(free_port())},
        timeout=180)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    landed = [tuple(map(int, m)) for m in re.findall(
        r"landed: interactions (\d+), feedback (\d+), followups (\d+), dead letters (\d+)", out)]
    assert landed, out
    interactions, feedback, _, dead = landed[-1]
    assert interactions > 100 and feedback > 10, out
    assert dead == 3 and "invalid_json 2" in out, out
    assert not (tmp_path / "data" / "broker.json").exists()


@pytest.mark.integration
def test_demo_makes_a_key_top_reads_its_worker_with(tmp_path: Path) -> None:
    """The demo's worker needs a key like any other; the demo makes one (an admin key, in a
    file only its owner reads) and says how ``top --worker`` uses it."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    log = tmp_path / "demo.out"
    demo = subprocess.Popen(
        [CXPULSE, "demo", "--duration", "60s", "--rate", "50", "--history", "1m"], cwd=tmp_path,
        env=clean | {"CX_DATA_DIR": str(tmp_path / "data"), "CX_METRICS_PORT": str(port)},
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        key_file = tmp_path / "data" / "demo-key"
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: "landed:" in log.read_text(), 120, "the demo's first view")
        assert f'cxpulse top --worker {url} --key "$(cat {key_file})"' in log.read_text()
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text().strip()
        assert key not in log.read_text()
        top = wait_until(lambda: (lambda done: done if b"acme-shop" in done.stdout else None)(
            cxpulse("top", "--once", "--worker", url, env={"CX_API_KEY": key})), 60,
            "top to show the demo's tenants")
        assert b"nordwind" in top.stdout and key.encode() not in top.stdout + top.stderr
        one_line_error(cxpulse("top", "--worker", url), "answered 401")
    finally:
        demo.terminate()
        demo.wait(timeout=60)
    assert not key_file.exists()  # revoked and removed when the demo stops


@pytest.mark.integration
def test_demo_via_collector_sends_live_traffic_over_http(tmp_path: Path) -> None:
    result = cxpulse("demo", "--via-collector", "--duration", "12s", "--rate", "100",
                     "--history", "1m", cwd=tmp_path, env={
        "CX_DATA_DIR": str(tmp_path / "data"), "CX_METRICS_PORT": str(free_port()),
        "CX_COLLECT_PORT": str(free_port())}, timeout=180)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err[-3000:]
    assert "live traffic goes over HTTP through the collector" in out, out
    (history,) = [int(n) for n in re.findall(r"sent (\d+) messages", err)]  # straight to Kafka
    landed = [tuple(map(int, m)) for m in re.findall(
        r"landed: interactions (\d+), feedback (\d+), followups (\d+), dead letters (\d+)", out)]
    via = [tuple(map(int, m)) for m in re.findall(
        r"via collector http://127\.0\.0\.1:\d+: (\d+) events accepted in (\d+) requests, "
        r"rejected (\d+) \(tenant_mismatch 1\)", out)]
    assert landed and via, out
    interactions, feedback, followups, dead = landed[-1]
    accepted, requests, rejected = via[-1]  # printed after the landed line of its refresh
    assert accepted > 300 and requests > 5 and rejected == 1, out
    # Everything live came through the collector, and it landed: more than the history,
    # no more than the history and what the collector had accepted by then.
    assert history < interactions + feedback + followups <= history + accepted, out
    # The hostile messages, and the other tenant's event refused at the door.
    assert dead == 4 and "tenant_mismatch 1" in out.split("landed:")[-1], out


def test_incidents_lists_them_with_attribution_and_evidence(server_url: str) -> None:
    from streams.core.alerts import FIRING, RESOLVED
    from streams.core.incidents import incidents
    from streams.queries.incidents import record
    from streams.warehouse import connect
    from streams.warehouse.migrate import migrate
    from tests.core.test_incidents import ch

    warehouse = connect(server_url)
    migrate(warehouse)
    tenant = f"cli{os.getpid()}{time.monotonic_ns() % 10**6}"
    now = int(time.time()) // 60 * 60
    found = incidents([ch("app", "checkout", "failure_rate", FIRING, now - 600, tenant=tenant),
                       ch("web", "home", "nps", FIRING, now - 7200, tenant=tenant),
                       ch("web", "home", "nps", RESOLVED, now - 3600, tenant=tenant)])
    attribution = {"summary": "checkout explains 97% of the rise in app failure_rate",
                   "surges": [{"theme": "payment", "ratio": 4.0}]}
    evidence = {"comments": [{"comment": "Zahlung klappt nicht", "language": "de",
                              "themes": ["payment"]}], "cases": 3}
    record(warehouse, found, {found[1].id: (attribution, evidence)})
    env = {"CX_CLICKHOUSE_URL": server_url}
    listed = cxpulse("incidents", "--json", "--since", "2000-01-01T00:00:00Z", env=env)
    assert listed.returncode == 0, listed.stderr.decode()
    mine = [r for r in orjson.loads(listed.stdout) if r["tenant"] == tenant]
    assert [(r["primary_metric"], r["state"]) for r in mine] == [("failure_rate", "open"),
                                                                 ("nps", "resolved")]
    assert mine[0]["attribution"] == attribution and mine[0]["evidence"] == evidence
    opened = cxpulse("incidents", "--open", "--json", env=env)
    assert [r["id"] for r in orjson.loads(opened.stdout) if r["tenant"] == tenant] == [
        found[1].id]
    table = cxpulse("incidents", "--open", env=env).stdout.decode()
    block = table.split(tenant, 1)[1].split("\n")
    assert block[1:5] == ["    checkout explains 97% of the rise in app failure_rate",
                          "    themes: payment x4.0",
                          '    "Zahlung klappt nicht" (de) [payment]',
                          "    3 follow-up cases opened"]
