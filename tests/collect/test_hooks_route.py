"""POST /v1/hooks/{source}: a signed delivery takes the /v1/events path; a bad one writes
nothing."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.config import Settings
from streams.kafka import ALL_TOPICS, admin
from streams.kafka.security import PLAINTEXT
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.events import stamp
from tests.support.hooks import SECRETS, TENANT, fixture, signed
from tests.support.services import CXPULSE, consume_all, wait_until, worker_env

pytestmark = pytest.mark.integration


def typeform_now() -> bytes:
    """The Typeform sample, submitted a minute ago (the contract refuses old events)."""
    payload = orjson.loads(fixture("typeform_form_response"))
    payload["form_response"]["landed_at"] = stamp(time.time() - 300).replace(".000", "")
    payload["form_response"]["submitted_at"] = stamp(time.time() - 60).replace(".000", "")
    return orjson.dumps(payload)


def test_a_signed_typeform_response_lands_as_feedback_a_bad_signature_writes_nothing(
        kafka: str, server_warehouse: Warehouse, server_url: str, tmp_path: Path,
        start_collector: Any) -> None:
    admin.create_topics(kafka, 2, PLAINTEXT)
    migrate(server_warehouse)
    secrets_file = tmp_path / "hooks.json"
    secrets_file.write_text(json.dumps(SECRETS))
    settings = dataclasses.replace(Settings(), kafka_bootstrap=kafka, clickhouse_url=server_url,
                                   data_dir=tmp_path / "data", hook_secrets_file=secrets_file)
    collector = start_collector(settings, kafka)
    path = f"/v1/hooks/typeform?tenant={TENANT}"
    body = typeform_now()
    # refused: a wrong signature, a signature for another tenant, none, an unknown source
    tampered = body.replace(b'"score"', b'"Score"', 1)
    for name, (url, data, headers, status, reason) in {
        "tampered body": (path, tampered, signed("typeform", body), 401, "bad_signature"),
        "other tenant": ("/v1/hooks/typeform?tenant=globex", body, signed("typeform", body),
                         401, "bad_signature"),
        "unsigned": (path, body, {"Content-Type": "application/json"}, 401,
                     "missing_signature"),
        "unknown source": ("/v1/hooks/surveymonkey?tenant=acme", body, {}, 404,
                           "unknown_source"),
        "no tenant": ("/v1/hooks/typeform", body, signed("typeform", body), 400,
                      "missing_tenant"),
    }.items():
        answer = collector.post(url, data, headers)
        assert (answer[0], answer[2]["error"]) == (status, reason), name
        assert SECRETS[TENANT]["typeform"] not in str(answer)
    assert all(not consume_all(kafka, topic, 1, timeout=0.5) for topic in ALL_TOPICS)
    # signed: the mapped events take the /v1/events path for the URL's tenant
    status, _, answer = collector.post(path, body, signed("typeform", body))
    assert status == 200
    assert (answer["accepted"], answer["rejected"]) == (2, [])
    landed = {e["survey"]: e for e in map(orjson.loads, consume_all(kafka, "cx.feedback", 2))}
    assert (landed["nps"]["score"], landed["nps"]["tenant"], landed["nps"]["locale"]) == (
        6, TENANT, "fr-FR")
    assert landed["nps"]["comment"].startswith("Le colis est arrivé")
    # the provider's retry is the same events again: deduplicated downstream by event_id
    assert collector.post(path, body, signed("typeform", body))[2]["accepted"] == 2
    again = list(map(orjson.loads, consume_all(kafka, "cx.feedback", 4)))
    assert len({e["event_id"] for e in again}) == 2


def delighted_now(name: str, created: float, updated: float) -> bytes:
    """A Delighted sample, created and updated at these times (the contract refuses old
    events)."""
    payload = orjson.loads(fixture(name))
    payload["event_data"]["created_at"] = int(created)
    payload["event_data"]["updated_at"] = int(updated)
    return orjson.dumps(payload)


def test_a_delighted_score_then_its_comment_update_ends_as_one_feedback_with_the_comment(
        kafka: str, server_warehouse: Warehouse, server_url: str, tmp_path: Path,
        start_collector: Any, start_worker: Any) -> None:
    """The update arrives first and the score is resent after it: the highest revision
    still wins, the answer counts once, and verify agrees."""
    admin.create_topics(kafka, 2, PLAINTEXT)
    migrate(server_warehouse)
    secrets_file = tmp_path / "hooks.json"
    secrets_file.write_text(json.dumps(SECRETS))
    settings = dataclasses.replace(Settings(), kafka_bootstrap=kafka, clickhouse_url=server_url,
                                   data_dir=tmp_path / "data", hook_secrets_file=secrets_file)
    worker = start_worker(worker_env(kafka, server_url, tmp_path))
    collector = start_collector(settings, kafka)
    created = time.time() - 900
    score = delighted_now("delighted_survey_response_created", created, created)
    comment = delighted_now("delighted_survey_response_updated", created, created + 300)
    path = f"/v1/hooks/delighted?tenant={TENANT}"
    for body in (score, comment, score):
        status, _, answer = collector.post(path, body, signed("delighted", body))
        assert (status, answer["accepted"], answer["rejected"]) == (200, 1, [])
    worker.wait_ready()
    db = server_warehouse.database

    def stored() -> list[dict[str, Any]]:
        return server_warehouse.query(
            f"SELECT event_id, revision, survey, score, comment, locale, tenant "
            f"FROM {db}.feedback FINAL")

    wait_until(lambda: worker.counter("cx_events_total", outcome="accepted") >= 3, 60,
               "the three deliveries consumed by the worker")
    updated = orjson.loads(comment)["event_data"]
    rows = wait_until(lambda: (found := stored()) and found[0]["revision"] == 300 and found,
                      60, "the update stored")
    assert [(r["revision"], r["survey"], r["score"], r["locale"], r["tenant"]) for r in rows] \
        == [(300, "nps", updated["score"], "it", TENANT)]
    assert rows[0]["comment"] == updated["comment"] and rows[0]["event_id"].startswith(
        "delighted:")
    wait_until(lambda: int(server_warehouse.query(
        f"SELECT sum(nps_n) AS n FROM {db}.score_minutes FINAL")[0]["n"]) == 1, 60,
        "the answer counted once")
    result = subprocess.run([CXPULSE, "verify"], env={"CX_CLICKHOUSE_URL": server_url},
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout.decode()[-2000:]
