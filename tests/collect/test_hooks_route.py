"""POST /v1/hooks/{source}: a signed delivery takes the /v1/events path; a bad one writes
nothing."""

from __future__ import annotations

import dataclasses
import json
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
from tests.support.hooks import REVISION_IN_CONTRACT, SECRETS, TENANT, fixture, signed
from tests.support.services import consume_all

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
    if not REVISION_IN_CONTRACT:  # the contract's revision field is on another branch
        assert answer["accepted"] == 0
        assert {r["reason"] for r in answer["rejected"]} == {"schema_violation"}
        assert "revision" in answer["rejected"][0]["message"]
        assert len(consume_all(kafka, "cx.deadletter", 2, timeout=5)) == 2
        return
    assert (answer["accepted"], answer["rejected"]) == (2, [])
    landed = {e["survey"]: e for e in map(orjson.loads, consume_all(kafka, "cx.feedback", 2))}
    assert (landed["nps"]["score"], landed["nps"]["tenant"], landed["nps"]["locale"]) == (
        6, TENANT, "fr-FR")
    assert landed["nps"]["comment"].startswith("Le colis est arrivé")
    # the provider's retry is the same events again: deduplicated downstream by event_id
    assert collector.post(path, body, signed("typeform", body))[2]["accepted"] == 2
    again = list(map(orjson.loads, consume_all(kafka, "cx.feedback", 4)))
    assert len({e["event_id"] for e in again}) == 2
