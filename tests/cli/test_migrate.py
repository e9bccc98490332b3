"""``cxpulse migrate``: killed with SIGKILL and rerun, ``--status``, and workers that refuse an
older schema."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from streams.warehouse import connect
from streams.warehouse.migrate import migrate, migration_files
from tests.cli.test_cli import CXPULSE, cxpulse, one_line_error
from tests.support.databases import OwnDatabase
from tests.warehouse.test_migrate import OLD, events, load_old_way, raw_counts, schema

pytestmark = pytest.mark.integration


def test_status_shows_pending_then_applied_steps(server_url: str) -> None:
    env = {"CX_CLICKHOUSE_URL": server_url}
    fresh = cxpulse("migrate", "--status", env=env)
    assert fresh.returncode == 0, fresh.stderr
    text = fresh.stdout.decode()
    assert "schema at nothing" in text and "lock: free" in text
    assert text.count("  pending  ") == len(migration_files())
    assert cxpulse("migrate", env=env).returncode == 0
    found = orjson.loads(cxpulse("migrate", "--status", "--json", env=env).stdout)
    assert [step["version"] for step in found["applied"]] == [
        version for version, _ in migration_files()]
    assert found["pending"] == [] and found["lock"] == {"state": "free", "holder": None}
    assert found["version"] == migration_files()[-1][0]
    both = cxpulse("migrate", "--status", "--print", env=env)
    assert both.returncode == 2 and b"not allowed with" in both.stderr
    one_line_error(cxpulse("migrate", "--json", env=env), "--json goes with --status")


def test_a_migrator_killed_with_sigkill_reruns_to_the_clean_schema(
        server_url: str, tmp_path: Path) -> None:
    """A real kill: no ``finally`` runs, the lock stays behind, and the rerun takes it over (its
    holder, on this host, is gone) and resumes where the dead one stopped."""
    loaded = events()
    warehouse = connect(server_url)
    clean = OwnDatabase(warehouse, "clean_sigkill")
    try:
        migrate(warehouse, until=OLD)
        load_old_way(warehouse, loaded)
        migrate(clean, until=OLD)
        load_old_way(clean, loaded)
        migrate(clean)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
        env["CX_CLICKHOUSE_URL"] = server_url
        kills, started = 0, time.monotonic()
        while True:
            process = subprocess.Popen([CXPULSE, "migrate"], env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
            assert process.stderr is not None
            copied = 0
            for line in process.stderr:  # one line per chunk copied; killed after the tenth
                copied += b"copied" in line
                if copied == 10:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                    break
            output, _ = process.communicate(timeout=120)
            if process.returncode == 0:
                break
            assert process.returncode == -signal.SIGKILL and kills < 30
        print(f"\nkilled `cxpulse migrate` {kills} times with SIGKILL, done in "
              f"{time.monotonic() - started:.1f} s")
        assert kills >= 4 and b"applied" in output
        assert schema(warehouse) == schema(clean)
        assert raw_counts(warehouse) == raw_counts(clean)
    finally:
        clean.close()
        warehouse.close()


def test_a_worker_refuses_an_older_schema_when_it_may_not_migrate(
        kafka: str, server_url: str, tmp_path: Path) -> None:
    warehouse = connect(server_url)
    try:
        migrate(warehouse, until=OLD)
    finally:
        warehouse.close()
    env = {"CX_KAFKA_BOOTSTRAP": kafka, "CX_CLICKHOUSE_URL": server_url,
           "CX_DATA_DIR": str(tmp_path), "CX_MIGRATE_ON_START": "off"}
    result = cxpulse("worker", env=env, timeout=60)
    text = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in text, text
    errors = [line for line in text.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0] == text.strip().splitlines()[-1], text
    for needle in ("`cxpulse migrate`", f"schema is at {OLD}", migration_files()[-1][0],
                   "CX_MIGRATE_ON_START=off"):
        assert needle in errors[0], text
