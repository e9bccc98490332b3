"""``cxpulse status``: the pipeline on one screen, against a real broker, ClickHouse server and
worker; a dependency that is down is one line, and the rest is still shown."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from streams.core.retention import RULES
from streams.ports import free_port
from streams.warehouse import connect
from tests.cli.test_cli import cxpulse
from tests.support.events import record, valid_events
from tests.support.services import committed, produce, table_count, wait_until, worker_env

pytestmark = pytest.mark.integration


def status(env: dict[str, str], *flags: str) -> tuple[int, str, str]:
    result = cxpulse("status", *flags, env=env, timeout=60)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_status_shows_tables_lag_and_the_oldest_unsettled_minute_after_a_worker_ran(
        kafka: str, server_url: str, start_worker, tmp_path: Path) -> None:
    env = worker_env(kafka, server_url, tmp_path)
    worker = start_worker(env)
    worker.wait_ready()
    now = time.time()
    events = valid_events(40, now)
    produce(kafka, [record(e) for e in events])
    warehouse = connect(server_url)
    wait_until(lambda: committed(kafka, f"{env['CX_APP_ID']}-ingest") == len(events), 90,
               "the batch committed")
    code, out, err = status(env, "--json")
    assert code == 0, err
    report = orjson.loads(out)
    assert set(report) == {"at", "dependencies", "schema", "tables", "open_alerts",
                           "open_incidents", "consumer_groups", "unsettled", "ok"}
    assert report["ok"] is True
    assert {name: dep["up"] for name, dep in report["dependencies"].items()} == {
        "clickhouse": True, "kafka": True}
    assert "18.16" in report["dependencies"]["clickhouse"]["detail"]
    assert report["schema"]["pending"] == [] and report["schema"]["version"] == \
        report["schema"]["latest"]
    tables = {row["table"]: row for row in report["tables"]}
    assert set(tables) == set(RULES)
    interactions = tables["interactions"]
    assert interactions["rows"] == table_count(warehouse, "interactions") > 0
    assert interactions["bytes"] > 0
    oldest = min(e["occurred_at"] for e in events if e["type"] == "interaction")
    stored = warehouse.query(f"SELECT toString(min(occurred_at)) AS t "
                             f"FROM {warehouse.database}.interactions")[0]["t"]
    assert interactions["oldest"] == stored.replace(" ", "T") + "Z"
    assert oldest[:4] == stored[:4]
    assert tables["deadletters"]["retention"] == "age"
    assert tables["deadletters"]["retention_days"] == RULES["deadletters"].days
    groups = {group["group"]: group for group in report["consumer_groups"]}
    ingest = groups[f"{env['CX_APP_ID']}-ingest"]
    assert ingest["lag"] == 0 and len(ingest["partitions"]) == 3 * 4
    assert report["unsettled"] == {"messages": 0, "oldest_minute": None}
    assert list(groups) == [f"{env['CX_APP_ID']}-ingest"]  # CX_COMMENT_ENRICH=off: no enrich
    assert report["open_alerts"] == [] and report["open_incidents"] == []

    # The worker stops; what arrives now waits, and status says since when.
    worker.stop()
    later = valid_events(8, time.time(), prefix="later")
    sent_at = time.time()
    produce(kafka, [record(e) for e in later])
    code, out, err = status(env, "--json")
    assert code == 0, err
    report = orjson.loads(out)
    assert report["unsettled"]["messages"] == len(later)
    minute = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(sent_at // 60 * 60))
    after = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(time.time() // 60 * 60))
    assert report["unsettled"]["oldest_minute"] in (minute, after)

    code, out, err = status(env)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) <= 40, out  # one screen
    assert any(line.startswith("kafka") and " up " in line for line in lines), out
    assert any(line.startswith("settled") and "oldest unsettled minute" in line
               and f"({len(later)} messages to go)" in line for line in lines), out
    assert any(line.split()[:2] == ["interactions", f"{interactions['rows']:,}"]
               for line in lines), out


def test_kafka_down_is_shown_down_and_clickhouse_still_shown(
        server_url: str, start_prometheus, tmp_path: Path) -> None:
    prometheus = start_prometheus({"global": {"scrape_interval": "1m"}})
    env = {"CX_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}", "CX_CLICKHOUSE_URL": server_url,
           "CX_DATA_DIR": str(tmp_path), "CX_PROMETHEUS_URL": prometheus.url}
    assert cxpulse("migrate", env=env).returncode == 0
    code, out, err = status(env)
    assert code == 1 and "Traceback" not in out + err, out + err
    lines = out.splitlines()
    kafka = [line for line in lines if line.startswith("kafka")]
    assert len(kafka) == 1 and "DOWN" in kafka[0] and "cannot reach Kafka" in kafka[0], out
    assert any(line.startswith("clickhouse") and " up " in line for line in lines), out
    assert any(line.startswith("prometheus") and " up " in line for line in lines), out
    assert any(line.startswith("schema") and "up to date" in line for line in lines), out
    assert sum(line.split()[0] in RULES for line in lines if line.split()) == len(RULES), out
    code, out, err = status(env, "--json")
    report = orjson.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["dependencies"]["kafka"]["up"] is False
    assert "consumer_groups" not in report and len(report["tables"]) == len(RULES)


def test_clickhouse_down_is_shown_down_with_kafka_still_asked(kafka: str, tmp_path: Path) -> None:
    env = {"CX_KAFKA_BOOTSTRAP": kafka, "CX_DATA_DIR": str(tmp_path),
           "CX_CLICKHOUSE_URL": f"clickhouse://default@127.0.0.1:{free_port()}/cx",
           "CX_PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}"}
    code, out, err = status(env, "--json")
    assert code == 1 and "Traceback" not in out + err, out + err
    report = orjson.loads(out)
    assert report["dependencies"]["clickhouse"]["up"] is False
    assert report["dependencies"]["kafka"]["up"] is True
    assert report["dependencies"]["prometheus"] == {
        "up": False, "detail": "<urlopen error [Errno 111] Connection refused>"}
    assert "tables" not in report and report["unsettled"]["messages"] == 0
