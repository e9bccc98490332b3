"""``cxpulse forget`` as an operator runs it: counts, JSON, exit codes, and an audit row that
never holds the customer id in clear."""

from __future__ import annotations

import threading
import time
import zlib
from pathlib import Path

import orjson
import pytest

from streams.core.erasure import customer_hash, salt_id
from streams.core.pseudonyms import pseudonymiser
from streams.queries.erasure import ERASED_TABLES, audits
from streams.tools.load import load
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from tests.cli.test_cli import cxpulse, one_line_error
from tests.support.databases import string_values
from tests.support.events import record, stamp
from tests.support.services import produce, table_count, wait_until, worker_env

SALT = "test-salt-not-a-secret"


def events(customer: str, now: float) -> list[dict]:
    """An interaction, a detractor and its follow-up; ids that do not spell the customer."""
    common = {"tenant": "acme-shop", "channel": "web", "customer_id": customer}
    customer = f"ev{zlib.crc32(customer.encode())}"
    return [
        {**common, "event_id": f"{customer}-i", "type": "interaction",
         "occurred_at": stamp(now - 600), "kind": "visit"},
        {**common, "event_id": f"{customer}-f", "type": "feedback",
         "occurred_at": stamp(now - 500), "survey": "nps", "score": 2, "comment": "bad"},
        {**common, "event_id": f"{customer}-u", "type": "followup",
         "occurred_at": stamp(now - 400), "feedback_id": f"{customer}-f", "action": "resolved"},
    ]


@pytest.mark.integration
def test_forget_dry_run_json_audit_and_idempotence(server_url: str, tmp_path: Path) -> None:
    warehouse = connect(server_url)
    migrate(warehouse)
    now = time.time()
    target = f"cust-{time.monotonic_ns()}"
    load(warehouse, events(target, now) + events("cust-other", now), deadline_ms=48 * 3_600_000)
    env = {"CX_CLICKHOUSE_URL": server_url, "CX_DATA_DIR": str(tmp_path),
           "CX_ERASURE_SALT": SALT}

    dry = cxpulse("forget", "--tenant", "acme-shop", "--customer", target, "--dry-run",
                  "--json", env=env)
    assert dry.returncode == 0, dry.stderr.decode()
    planned = orjson.loads(dry.stdout)
    assert planned["dry_run"] is True and planned["audit_id"] is None
    assert list(planned["counts"]) == list(ERASED_TABLES)
    assert planned["counts"]["interactions"] == 1 and planned["counts"]["followups"] == 1
    assert planned["rows"] == sum(planned["counts"].values()) >= 6

    done = cxpulse("forget", "--tenant", "acme-shop", "--customer", target, "--json",
                   "--operator", "dpo@acme", env=env)
    assert done.returncode == 0, done.stderr.decode()
    result = orjson.loads(done.stdout)
    assert result["counts"] == planned["counts"] and result["audit_id"]
    assert b"removing" in done.stderr and b"rewrote" in done.stderr  # progress on stderr

    verified = cxpulse("verify", env=env)
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    rows = audits(warehouse, "acme-shop")
    assert len(rows) == 1
    audit = rows[0]
    assert audit["id"] == result["audit_id"] and audit["operator"] == "dpo@acme"
    assert audit["customer_hash"] == customer_hash(SALT.encode(), "acme-shop", target)
    assert audit["salt_id"] == salt_id(SALT.encode()) and audit["counts"] == result["counts"]
    leaks = {table for table, values in string_values(warehouse).items()
             if any(target.encode() in value for value in values)}
    assert leaks == set()
    assert any(b"cust-other" in value for value in string_values(warehouse)["feedback"])

    again = cxpulse("forget", "--tenant", "acme-shop", "--customer", target, env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert b"removed 0 rows" in again.stderr and len(audits(warehouse)) == 1
    lines = again.stdout.decode().splitlines()
    assert [line.split()[0] for line in lines] == [*ERASED_TABLES, "total"]


@pytest.mark.integration
def test_without_a_salt_setting_one_is_made_once_in_the_data_dir(server_url: str,
                                                                 tmp_path: Path) -> None:
    env = {"CX_CLICKHOUSE_URL": server_url, "CX_DATA_DIR": str(tmp_path)}
    for _ in range(2):
        result = cxpulse("forget", "--tenant", "acme-shop", "--customer", "nobody", env=env)
        assert result.returncode == 0, result.stderr.decode()
    salt = tmp_path / "erasure_salt"
    assert salt.stat().st_mode & 0o777 == 0o600 and len(salt.read_text().strip()) == 64


def test_bad_input_and_an_unreachable_server_are_one_line(tmp_path: Path) -> None:
    env = {"CX_DATA_DIR": str(tmp_path), "CX_CLICKHOUSE_URL": "clickhouse://127.0.0.1:1/cx"}
    one_line_error(cxpulse("forget", "--tenant", "Bad Tenant", "--customer", "x", env=env),
                   "tenant 'Bad Tenant' is not valid")
    one_line_error(cxpulse("forget", "--tenant", "acme-shop", "--customer", "x" * 129,
                           env=env), "1 to 128 characters")
    one_line_error(cxpulse("forget", "--tenant", "acme-shop", "--customer", "x", env=env),
                   "ClickHouse at clickhouse://127.0.0.1:1/cx")
    missing = cxpulse("forget", "--tenant", "acme-shop", env=env)
    assert missing.returncode == 2 and b"--customer" in missing.stderr


@pytest.mark.integration
def test_forget_while_a_worker_ingests_others_into_the_same_minutes(
        kafka: str, server_url: str, start_worker, tmp_path: Path) -> None:
    """With pseudonymous customer ids (CX_CUSTOMER_ID_HASH) on, so forget hashes the id."""
    from streams.queries.verify import differences

    secret = {"CX_CUSTOMER_ID_HASH": "pseudonym secret"}
    worker = start_worker(worker_env(kafka, server_url, tmp_path) | secret)
    worker.wait_ready()
    now = time.time()
    target = f"cust-{time.monotonic_ns()}"
    bad = {**events(target, now)[1], "event_id": "bad", "score": 11}
    produce(kafka, [record(event) for event in events(target, now)]
            + [("cx.feedback", None, orjson.dumps(bad))])
    warehouse = connect(server_url)
    wait_until(lambda: table_count(warehouse, "deadletters") == 1
               and table_count(warehouse, "followup_cases") == 1
               and not differences(warehouse, 48 * 3_600_000), 90, "the target's events")
    pseudonym = pseudonymiser(b"pseudonym secret")(target).encode()
    assert naming(warehouse, target.encode()) == set()
    assert naming(warehouse, pseudonym) >= {"interactions", "feedback", "followups",
                                            "followup_cases", "deadletters"}

    sent: list[int] = []

    def others() -> None:  # ~4 s of other customers' events in the target's minutes
        for round_ in range(20):
            produce(kafka, [record(event) for event in events(f"other-{round_}", now)])
            sent.append(round_)
            time.sleep(0.2)

    feeder = threading.Thread(target=others)
    feeder.start()
    time.sleep(0.5)
    env = {"CX_CLICKHOUSE_URL": server_url, "CX_DATA_DIR": str(tmp_path / "cli"),
           "CX_ERASURE_SALT": SALT} | secret
    before = len(sent)
    done = cxpulse("forget", "--tenant", "acme-shop", "--customer", target, "--json", env=env)
    during = len(sent) - before
    feeder.join()
    assert before < 20 and during > 0, (before, during)  # the worker ingested meanwhile
    assert done.returncode == 0, done.stderr.decode()
    assert orjson.loads(done.stdout)["counts"]["deadletters"] == 1 and len(sent) == 20
    wait_until(lambda: table_count(warehouse, "interactions") == 20
               and table_count(warehouse, "followup_cases") == 20, 60, "the others' events")
    wait_until(lambda: not differences(warehouse, 48 * 3_600_000), 60, "exact scores")
    assert cxpulse("verify", env=env).returncode == 0
    assert naming(warehouse, target.encode()) == naming(warehouse, pseudonym) == set()
    assert naming(warehouse, pseudonymiser(b"pseudonym secret")("other-19").encode()) >= {
        "interactions", "feedback", "followups", "followup_cases"}  # the others stay


def naming(warehouse, needle: bytes) -> set[str]:
    """The tables where some String value holds ``needle``."""
    return {table for table, values in string_values(warehouse).items()
            if any(needle in value for value in values)}
