"""receive() as the collector's route calls it, and the secrets file it reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.hooks import SOURCES, HookError, load_secrets, receive
from tests.support.hooks import NOW, SECRETS, TENANT, fixture, signed
from tests.test_layout import GRAPH, IO_MODULES, top

SAMPLE = {"typeform": "typeform_form_response", "zendesk": "zendesk_rating_bad",
          "formbricks": "formbricks_response_finished", "standard": "standard_feedback_submitted",
          "delighted": "delighted_survey_response_updated"}


def refused(source: str, body: bytes, headers: dict[str, str] | None = None,
            tenant: str = TENANT, secrets: Any = SECRETS) -> HookError:
    with pytest.raises(HookError) as caught:
        receive(source, tenant, signed(source, body) if headers is None else headers, body,
                secrets, NOW)
    return caught.value


def test_sources_are_the_interface() -> None:
    assert SOURCES == ("typeform", "zendesk", "formbricks", "standard", "delighted")


@pytest.mark.parametrize("source", ["surveymonkey", "", "Typeform", "../typeform", "mapping"])
def test_unknown_source_is_404(source: str) -> None:
    with pytest.raises(HookError) as caught:  # before any signature is looked at
        receive(source, TENANT, {}, b"{}", SECRETS, NOW)
    assert (caught.value.status, caught.value.reason) == (404, "unknown_source")
    assert "typeform" in caught.value.message


@pytest.mark.parametrize("source", SOURCES)
def test_the_signature_is_checked_before_the_body_is_parsed(source: str) -> None:
    junk = b"\xff{not json"
    unsigned = refused(source, junk, {})
    assert (unsigned.status, unsigned.reason) == (401, "missing_signature")
    signed_junk = refused(source, junk)
    assert (signed_junk.status, signed_junk.reason) == (400, "invalid_payload")
    assert "JSON" in signed_junk.message


@pytest.mark.parametrize("source", SOURCES)
def test_another_tenants_secret_or_none_is_401(source: str) -> None:
    body = fixture(SAMPLE[source])
    headers = signed(source, body)
    # The same delivery claimed for another tenant: globex has no secret for some sources,
    # a different one for others; both answer the same way.
    for tenant in ("globex", "nobody", "UPPER", ""):
        error = refused(source, body, headers, tenant=tenant)
        assert (error.status, error.reason) == (401, "bad_signature")
    assert refused(source, body, headers, secrets={}).reason == "bad_signature"


@pytest.mark.parametrize("source", SOURCES)
def test_a_tampered_sample_writes_nothing(source: str) -> None:
    body = fixture(SAMPLE[source])
    headers = signed(source, body)
    tampered = body.replace(b'"', b"'", 1) if source != "typeform" else body.replace(b"6", b"9")
    assert refused(source, tampered, headers).status == 401


# ------------------------------------------------------------------ hostile payloads

@pytest.mark.parametrize(("source", "body", "words"), [
    ("typeform", b"", "JSON"),
    ("typeform", b"\xfe\xff\x00{", "JSON"),
    ("typeform", b"[" * 5000 + b"]" * 5000, "JSON"),
    ("typeform", b'"form_response"', "object"),
    ("typeform", b"[1, 2]", "body[0]"),
    ("typeform", b"{}", "event_type"),
    ("typeform", b'{"event_type": "form_response", "form_response": []}', "token"),
    ("typeform", b'{"event_type": "form_response", "form_response": {"answers": {}}}',
     "form_response.answers"),
    ("typeform", b'{"event_type": "form_response", "form_response": {"answers": [7]}}',
     "answers[0]"),
    ("delighted", b'{"event_type": "survey_response.created", "event_data": '
                  b'{"id": "1", "survey_type": "nps", "score": 1e300, "created_at": 1}}',
     "event_data.score"),
    ("delighted", b'{"event_type": "survey_response.created", "event_data": '
                  b'{"id": "1", "survey_type": "nps", "score": true, "created_at": 1}}',
     "event_data.score"),
    ("delighted", b'{"event_type": "survey_response.created", "event_data": '
                  b'{"id": "1", "survey_type": "nps", "score": "nine", "created_at": 1}}',
     "event_data.score"),
    ("delighted", b'{"event_type": "survey_response.created", "event_data": '
                  b'{"id": {"x": 1}, "survey_type": "nps", "score": 9, "created_at": 1}}',
     "event_data.id"),
    ("delighted", b'{"event_type": "survey_response.created", "event_data": '
                  b'{"id": "1", "survey_type": "nps", "score": 9, "created_at": 1e20}}',
     "event_data.created_at"),
    ("delighted", b'{"event_type": "survey_response.created", "event_data": '
                  b'{"id": "1", "survey_type": "nps", "score": 9, "created_at": 1795346100}}',
     "event_data.updated_at"),
    ("zendesk", b'{"event": "satisfaction_rating", "ticket": {"id": "1", '
                b'"created_at": "soon", "updated_at": "2026-11-22T09:41Z"}, '
                b'"satisfaction": {"rating": "Good"}}', "ticket.created_at"),
    ("zendesk", b'{"event": "satisfaction_rating", "ticket": {"id": "1"}, '
                b'"satisfaction": {"rating": "Good"}}', "ticket.updated_at"),
    ("zendesk", b'{"event": "satisfaction_rating", "ticket": {"id": "1", '
                b'"created_at": "2026-11-21T16:02Z", "updated_at": "2026-11-22T09:41Z"}, '
                b'"satisfaction": {"rating": "Meh"}}', "satisfaction.rating"),
    ("formbricks", b'{"event": "responseFinished", "data": {"id": "r", "data": "nps=9"}}',
     "data.data"),
])
def test_hostile_payloads_are_a_400_with_a_message(source: str, body: bytes,
                                                   words: str) -> None:
    error = refused(source, body)
    assert (error.status, error.reason) == (400, "invalid_payload"), error
    assert words in error.message, error.message


@st.composite
def json_values(draw: st.DrawFn) -> Any:
    scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1)
               | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=30) | st.sampled_from(
                   ["nps", "csat", "ces", "Good", "Bad", "9", "2026-11-22T10:15:30Z",
                    "form_response", "survey_response.updated", "responseFinished",
                    "feedback.submitted", "satisfaction_rating", "true"]))
    return draw(st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                             | st.dictionaries(st.text(max_size=12) | st.sampled_from(
                                 ["id", "score", "survey", "data", "answers", "number",
                                  "event_data", "form_response", "ticket", "satisfaction",
                                  "created_at", "updated_at", "createdAt", "finished"]),
                                 children, max_size=5), max_leaves=25))


def _mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """The sample with the value at one path (chosen by ``path``, modulo the sizes) replaced."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    doc[key] = _mutate(doc[key], path[1:], value)
    return doc


def _outcome_is_sound(source: str, body: bytes) -> None:
    try:
        events = receive(source, TENANT, signed(source, body), body, SECRETS, NOW)
    except HookError as error:
        assert error.status == 400 and error.reason == "invalid_payload" and error.message
        return
    assert isinstance(events, list)
    for event in events:
        orjson.dumps(event)  # the collector serializes them for the validator
        assert len(event["event_id"]) <= 64 and event["tenant"] == TENANT


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(SOURCES), body=st.binary(max_size=200) | json_values().map(
    orjson.dumps))
def test_any_signed_body_gives_a_list_or_a_hook_error(source: str, body: bytes) -> None:
    _outcome_is_sound(source, body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(SOURCES), path=st.lists(st.integers(0, 50), max_size=5),
       value=json_values())
def test_any_mutation_of_a_sample_gives_a_list_or_a_hook_error(source: str, path: list[int],
                                                                value: Any) -> None:
    doc = _mutate(json.loads(fixture(SAMPLE[source])), path, value)
    _outcome_is_sound(source, orjson.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(source=st.sampled_from(SOURCES),
       headers=st.dictionaries(st.sampled_from(
           ["typeform-signature", "x-zendesk-webhook-signature", "webhook-id",
            "x-zendesk-webhook-signature-timestamp", "webhook-timestamp", "webhook-signature",
            "x-delighted-webhook-signature"]) | st.text(max_size=20), st.text(max_size=80)),
       body=st.binary(max_size=100))
def test_random_headers_are_401_never_a_crash(source: str, headers: dict[str, str],
                                              body: bytes) -> None:
    with pytest.raises(HookError) as caught:
        receive(source, TENANT, headers, body, SECRETS, NOW)
    assert caught.value.status == 401


# ------------------------------------------------------------------ the secrets file

def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "hooks.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_load_secrets_reads_the_file(tmp_path: Path) -> None:
    assert load_secrets(write(tmp_path, SECRETS)) == SECRETS


@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "not a JSON file"),
    ([], "must be a JSON object"),
    ({"Acme Corp": {}}, "'Acme Corp' is not a valid tenant"),
    ({"acme": "whsec_x"}, "tenant 'acme' must map"),
    ({"acme": {"surveymonkey": "s3cret-value"}}, "unknown source 'surveymonkey'"),
    ({"acme": {"typeform": 12345}}, "must be a string"),
    ({"acme": {"typeform": "  "}}, "empty"),
    ({"acme": {"formbricks": "whsec_not*base64!s3cret-value"}}, "whsec_ followed by base64"),
    ({"acme": {"standard": "whsec_"}}, "no key"),
    ('{"acme": {"typeform": "s3cret-value\\udc80"}}', "not valid Unicode"),
])
def test_load_secrets_names_what_is_wrong_and_never_the_secret(
        tmp_path: Path, content: Any, words: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ValueError) as caught:
        load_secrets(path)
    assert words in str(caught.value) and str(path) in str(caught.value)
    assert "s3cret-value" not in str(caught.value)


@pytest.mark.parametrize("source", SOURCES)
def test_a_broken_secret_passed_directly_is_a_401_not_a_crash(source: str) -> None:
    body = fixture(SAMPLE[source])
    for secret in ("\udc80", "whsec_\udc80", "whsec_***"):
        error = refused(source, body, secrets={TENANT: {source: secret}})
        assert (error.status, error.reason) == (401, "bad_signature")


def test_load_secrets_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_secrets(tmp_path / "absent.json")


def test_secrets_from_the_file_verify_the_samples(tmp_path: Path) -> None:
    secrets = load_secrets(write(tmp_path, SECRETS))
    for source, name in SAMPLE.items():
        body = fixture(name)
        assert receive(source, TENANT, signed(source, body), body, secrets, NOW)


# ------------------------------------------------------------------ purity

def test_the_hooks_package_is_pure() -> None:
    """No sockets, Kafka or ClickHouse: the collector does the I/O around it."""
    modules = [name for name in GRAPH if name == "streams.hooks" or
               name.startswith("streams.hooks.")]
    assert {"streams.hooks.receive", "streams.hooks.signatures", "streams.hooks.mapping"} \
        <= set(modules)
    for module in modules:
        imported = GRAPH[module]
        assert not {top(name) for name in imported} & (IO_MODULES | {"aiohttp", "asyncio"})
        assert all(name.startswith(("streams.hooks", "streams.core")) for name in imported
                   if top(name) == "streams"), (module, imported)
