"""The declarative mappings: each provider's signed sample becomes the right feedback."""

from __future__ import annotations

import copy
import json
from typing import Any

import fastjsonschema
import orjson
import pytest

from streams.core.contract import ValidEvent
from streams.hooks import SOURCES, HookError, receive
from streams.hooks.mapping import (
    ABSENT,
    MAX_REVISION,
    event_id,
    load_mappings,
    map_payload,
    mapping_schema,
    pointer,
)
from tests.support.hooks import (
    FIXTURES,
    NOW,
    SECRETS,
    TENANT,
    fixture,
    signed,
    source_of,
    validate,
)

ALL_FIXTURES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def deliver(name: str, tenant: str = TENANT, body: bytes | None = None) -> list[dict[str, Any]]:
    source = source_of(name)
    body = fixture(name) if body is None else body
    return receive(source, tenant, signed(source, body, tenant=tenant), body, SECRETS, NOW)


def only(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(events) == 1, events
    return events[0]


def by_survey(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {event["survey"]: event for event in events}


# ------------------------------------------------------------------ the mapping files

def test_every_source_has_a_mapping_valid_against_the_schema() -> None:
    validate_mapping = fastjsonschema.compile(mapping_schema())
    files = sorted((FIXTURES.parents[2] / "schemas" / "hooks").glob("*.json"))
    names = [path.stem for path in files if path.stem != "mapping.schema"]
    assert sorted(names) == sorted(SOURCES) == sorted(load_mappings())
    for path in files:
        if path.stem != "mapping.schema":
            validate_mapping(json.loads(path.read_text()))


@pytest.mark.parametrize(("change", "field"), [
    (lambda m: m.pop("scores"), "scores"),
    (lambda m: m.update(signature="hmac-md5"), "signature"),
    (lambda m: m["channel"].update(default="fax"), "channel"),
    (lambda m: m.update(revision=[{"elapsed": {"from": {"path": "/a"}}, "unit": "s"}]),
     "revision"),
    (lambda m: m.update(response_id={"path": "no-leading-slash"}), "response_id"),
    (lambda m: m.update(typo=1), "typo"),
])
def test_the_schema_refuses_a_broken_mapping(change: Any, field: str) -> None:
    validate_mapping = fastjsonschema.compile(mapping_schema())
    mapping = copy.deepcopy(load_mappings()["typeform"])
    change(mapping)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate_mapping(mapping)


def test_each_mapping_cites_the_providers_docs() -> None:
    for mapping in load_mappings().values():
        assert all(url.startswith("https://") for url in mapping["docs"])


# ------------------------------------------------------------------ each provider's sample

def test_typeform_nps_csat_and_comment_from_one_form() -> None:
    events = by_survey(deliver("typeform_form_response"))
    assert sorted(events) == ["csat", "nps"]
    nps, csat = events["nps"], events["csat"]
    assert (nps["score"], csat["score"], csat["scale"]) == (6, 2, 5)
    assert nps["comment"].startswith("Le colis est arrivé avec deux jours de retard")
    assert "comment" not in csat  # one comment, counted once
    for event in (nps, csat):
        assert event["tenant"] == TENANT and event["type"] == "feedback"
        assert (event["locale"], event["customer_id"]) == ("fr-FR", "cus_81f3a2")
        assert (event["channel"], event["touchpoint"]) == ("web", "delivery")
        assert event["occurred_at"] == "2026-11-22T10:15:30Z"
        assert event["attributes"] == {
            "source": "typeform", "response_id": "9kd2lq0v1yq1h3rb9kd2lq0tcnz2s7ek",
            "form_id": "Xk3pQ9aB", "form_title": "Votre livraison", "order_id": "FR-100482"}
        assert event["revision"] == 0
    assert nps["event_id"] != csat["event_id"]


def test_typeform_finds_nps_and_comment_by_question_type_without_refs() -> None:
    event = only(deliver("typeform_nps_only_auto_refs"))
    assert (event["survey"], event["score"]) == ("nps", 10)
    assert event["comment"] == "Entrega super rápida, adorei!"
    assert event["locale"] == "pt-BR"  # pt_BR, as forms often carry it
    assert event["customer_id"] == "u-55213"
    assert (event["channel"], event["touchpoint"]) == ("web", "unspecified")


def test_zendesk_bad_rating_with_comment() -> None:
    event = only(deliver("zendesk_rating_bad"))
    assert (event["survey"], event["score"], event["scale"]) == ("csat", 1, 5)
    assert event["comment"].startswith("Die Rücksendung")
    assert (event["locale"], event["customer_id"]) == ("de", "cus_a77d10")
    assert (event["channel"], event["touchpoint"]) == ("web", "support")
    assert event["occurred_at"] == "2026-11-22T09:41:00Z"  # Zendesk's minute-only ISO time
    assert event["attributes"]["ticket_id"] == "48213"


def test_zendesk_changed_rating_is_a_later_revision_of_the_same_event() -> None:
    bad, good = only(deliver("zendesk_rating_bad")), only(deliver("zendesk_rating_changed_good"))
    assert good["event_id"] == bad["event_id"]
    assert (bad["score"], good["score"]) == (1, 5)
    assert good["revision"] > bad["revision"] > 0
    assert (bad["revision"], good["revision"]) == ((17 * 60 + 39) * 60, (22 * 60 + 3) * 60)


def test_zendesk_plain_good_by_email_and_empty_placeholders() -> None:
    event = only(deliver("zendesk_rating_good_email"))
    assert (event["score"], event["channel"]) == (5, "email")
    assert "comment" not in event  # {{satisfaction.current_comment}} rendered empty
    assert event["customer_id"] == "402215512"  # no external id: Zendesk's user id
    assert "assignee_id" not in event["attributes"]


def test_zendesk_offered_but_unrated_maps_to_nothing() -> None:
    assert deliver("zendesk_rating_offered") == []


def test_formbricks_partial_then_finished_response() -> None:
    created = only(deliver("formbricks_response_created"))
    updated = only(deliver("formbricks_response_updated"))
    finished = by_survey(deliver("formbricks_response_finished"))
    assert sorted(finished) == ["ces", "nps"]
    assert created["event_id"] == updated["event_id"] == finished["nps"]["event_id"]
    assert created["revision"] < updated["revision"] < finished["nps"]["revision"]
    assert finished["nps"]["revision"] == finished["ces"]["revision"] >= 50_000_000
    assert "comment" not in created
    assert updated["comment"] == finished["nps"]["comment"]
    assert "comment" not in finished["ces"]
    assert (finished["ces"]["score"], finished["nps"]["score"]) == (2, 3)
    for event in (created, updated, *finished.values()):
        assert event["occurred_at"] == "2026-11-22T10:20:11.412Z"  # stable across revisions
        assert (event["channel"], event["touchpoint"]) == ("mobile_app", "checkout")
        assert (event["locale"], event["customer_id"]) == ("es", "cus_5c19e0")
        assert event["attributes"]["country"] == "ES"


def test_formbricks_payload_as_a_list_maps_each_item() -> None:
    body = orjson.dumps([json.loads(fixture("formbricks_response_created")),
                         json.loads(fixture("formbricks_response_finished"))])
    assert [e["survey"] for e in deliver("formbricks_response_created", body=body)] == [
        "nps", "nps", "ces"]


def test_standard_webhooks_generic_feedback() -> None:
    event = only(deliver("standard_feedback_submitted"))
    assert (event["survey"], event["score"], event["scale"]) == ("csat", 4, 5)
    assert event["occurred_at"] == "2026-11-22T11:31:02+01:00"  # the sender's offset kept
    assert (event["channel"], event["touchpoint"]) == ("store", "checkout")
    assert (event["locale"], event["customer_id"]) == ("es-ES", "loyalty-88120")
    assert event["comment"].startswith("Personal muy amable")
    assert event["revision"] == 0


def test_standard_requires_survey_and_score() -> None:
    doc = json.loads(fixture("standard_feedback_submitted"))
    for field in ("survey", "score", "response_id"):
        broken = copy.deepcopy(doc)
        del broken["data"][field]
        with pytest.raises(HookError) as caught:
            deliver("standard_feedback_submitted", body=orjson.dumps(broken))
        assert (caught.value.status, caught.value.reason) == (400, "invalid_payload")
        assert f"data.{field}" in caught.value.message


def test_delighted_score_first_then_the_comment() -> None:
    created = only(deliver("delighted_survey_response_created"))
    updated = only(deliver("delighted_survey_response_updated"))
    assert created["event_id"] == updated["event_id"]
    assert (created["revision"], updated["revision"]) == (0, 300)
    assert "comment" not in created
    assert updated["comment"].startswith("Il corriere ha lasciato il pacco")
    for event in (created, updated):
        assert (event["survey"], event["score"]) == ("nps", 4)
        assert "scale" not in event  # scale is for CSAT only
        assert event["occurred_at"] == "2026-11-22T11:15:00Z"
        assert (event["locale"], event["customer_id"]) == ("it", "cus_77a0c3")
        assert (event["channel"], event["touchpoint"]) == ("email", "delivery")
        assert "maria.rossi@example.com" not in json.dumps(event)  # no email leaks in


def test_delighted_unsubscribe_and_unknown_survey_types_map_to_nothing() -> None:
    assert deliver("delighted_unsubscribe_created") == []
    doc = json.loads(fixture("delighted_survey_response_created"))
    doc["event_data"]["survey_type"] = "enps"
    assert deliver("delighted_survey_response_created", body=orjson.dumps(doc)) == []
    doc["event_data"]["survey_type"] = "csat"
    doc["event_data"]["score"] = 5
    event = only(deliver("delighted_survey_response_created", body=orjson.dumps(doc)))
    assert (event["survey"], event["score"], event["scale"]) == ("csat", 5, 5)


# ------------------------------------------------------------------ rules for every source

@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_mapped_event_passes_the_contract_validator(name: str) -> None:
    for event in deliver(name):
        assert isinstance(validate(event), ValidEvent), (event, validate(event))
        assert isinstance(event["revision"], int) and 0 <= event["revision"] <= MAX_REVISION


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_retries_give_the_same_events(name: str) -> None:
    """A provider retrying the delivery (new signature, later time) dedupes downstream."""
    source = source_of(name)
    body = fixture(name)
    first = receive(source, TENANT, signed(source, body), body, SECRETS, NOW)
    later = NOW + 120
    retry = receive(source, TENANT, signed(source, body, now=later, message_id="msg_retry"),
                    body, SECRETS, later)
    assert first == retry
    assert all(len(event["event_id"]) <= 64 for event in first)


def test_ids_differ_by_tenant_source_response_and_survey() -> None:
    ids = {event_id(source, tenant, response, survey)
           for source in SOURCES for tenant in ("acme", "globex")
           for response in ("42", "43") for survey in ("nps", "csat", "ces")}
    assert len(ids) == len(SOURCES) * 2 * 2 * 3
    assert all(len(i) <= 64 for i in ids)
    acme, globex = deliver("zendesk_rating_bad"), deliver("zendesk_rating_bad", tenant="globex")
    assert only(acme)["event_id"] != only(globex)["event_id"]  # ticket #48213 in two accounts
    assert only(globex)["tenant"] == "globex"


def test_revisions_clamp_to_the_contract_bound() -> None:
    doc = json.loads(fixture("delighted_survey_response_updated"))
    doc["event_data"]["updated_at"] = doc["event_data"]["created_at"] + 10**9
    body = orjson.dumps(doc)
    assert only(deliver("delighted_survey_response_updated", body=body))["revision"] \
        == MAX_REVISION
    doc["event_data"]["updated_at"] = doc["event_data"]["created_at"] - 60  # clock skew
    body = orjson.dumps(doc)
    assert only(deliver("delighted_survey_response_updated", body=body))["revision"] == 0


def test_a_long_comment_is_cut_to_the_contract_and_says_so() -> None:
    doc = json.loads(fixture("delighted_survey_response_updated"))
    doc["event_data"]["comment"] = "é" * 6000
    event = only(deliver("delighted_survey_response_updated", body=orjson.dumps(doc)))
    assert event["comment"] == "é" * 5000
    assert event["attributes"]["comment_truncated"] is True
    assert isinstance(validate(event), ValidEvent)


def test_an_invalid_locale_is_kept_as_an_attribute_not_a_rejection() -> None:
    doc = json.loads(fixture("typeform_form_response"))
    doc["form_response"]["hidden"]["locale"] = "français"
    events = deliver("typeform_form_response", body=orjson.dumps(doc))
    for event in events:
        assert "locale" not in event and event["attributes"]["source_locale"] == "français"
        assert isinstance(validate(event), ValidEvent)


def test_formbricks_default_language_is_no_locale() -> None:
    doc = json.loads(fixture("formbricks_response_created"))
    doc["data"]["language"] = "default"
    del doc["data"]["contactAttributes"]["language"]
    event = only(deliver("formbricks_response_created", body=orjson.dumps(doc)))
    assert "locale" not in event and "source_locale" not in event["attributes"]


def test_a_channel_outside_the_contract_falls_back_to_the_default() -> None:
    doc = json.loads(fixture("typeform_form_response"))
    doc["form_response"]["hidden"]["channel"] = "pigeon"
    assert {e["channel"] for e in deliver("typeform_form_response", body=orjson.dumps(doc))} \
        == {"web"}
    doc["form_response"]["hidden"]["channel"] = "iOS"
    assert {e["channel"] for e in deliver("typeform_form_response", body=orjson.dumps(doc))} \
        == {"mobile_app"}


def test_scores_out_of_range_are_left_to_the_validator() -> None:
    doc = json.loads(fixture("typeform_nps_only_auto_refs"))
    doc["form_response"]["answers"][0]["number"] = 11
    event = only(deliver("typeform_nps_only_auto_refs", body=orjson.dumps(doc)))
    verdict = validate(event)
    assert not isinstance(verdict, ValidEvent) and verdict.reason == "score_out_of_range"


def test_a_response_without_a_scored_answer_maps_to_nothing() -> None:
    doc = json.loads(fixture("typeform_form_response"))
    doc["form_response"]["answers"] = [a for a in doc["form_response"]["answers"]
                                       if a["field"]["ref"] in ("comment", "contact_ok")]
    assert deliver("typeform_form_response", body=orjson.dumps(doc)) == []
    doc["event_type"] = "form_response_partial"
    assert deliver("typeform_form_response", body=orjson.dumps(doc)) == []


def test_one_event_per_survey_kind_the_first_rule_wins() -> None:
    """A form with both a 5-point and a 10-point CSAT question: one CSAT event, one id."""
    doc = json.loads(fixture("typeform_form_response"))
    doc["form_response"]["answers"].append(
        {"type": "number", "number": 9, "field": {"id": "Zz", "type": "rating", "ref": "csat10"}})
    events = deliver("typeform_form_response", body=orjson.dumps(doc))
    assert [(e["survey"], e["score"], e.get("scale")) for e in events] == [
        ("nps", 6, None), ("csat", 2, 5)]
    assert len({e["event_id"] for e in events}) == 2


def test_numeric_strings_and_integral_floats_are_scores() -> None:
    mapping = load_mappings()["zendesk"]
    doc = json.loads(fixture("zendesk_rating_bad"))
    for rating, score in (("4", 4), (" 2 ", 2), (3.0, 3), ("GOOD", 5)):
        doc["satisfaction"]["rating"] = rating
        assert only(map_payload(mapping, doc, TENANT))["score"] == score


def test_pointer_reads_json_pointers() -> None:
    doc = {"a": {"b/c": [10, {"~d": 4}]}, "": 1}
    assert pointer(doc, "/a/b~1c/1/~0d") == 4
    assert pointer(doc, "/a/b~1c/0") == 10
    assert pointer(doc, "") is doc
    assert pointer(doc, "/") == 1
    for missing in ("/x", "/a/b~1c/2", "/a/b~1c/-1", "/a/b~1c/0/x"):
        assert pointer(doc, missing) is ABSENT
