"""The fast path (msgspec Structs) agrees with the published contract (the JSON Schema files).

``Validator.fast`` may decline an event (then the schema path decides), but it must
never accept what the schema path rejects, nor read an event differently.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.core.contract import Stamps, Validator, ValidEvent, load_event_schemas, parse_timestamp
from streams.tools.generate import TrafficSpec, generate
from tests.support.contract_cases import EXAMPLES, NOW, REVISION_EXAMPLE
from tests.support.events import hostile, stamp

validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
TOPIC = {"interaction": "cx.interactions", "feedback": "cx.feedback", "followup": "cx.followups"}


def agrees(raw: bytes, topic: str, now: float = NOW) -> ValidEvent | None:
    """The fast verdict, after checking it against the schema's verdict."""
    fast = validator.fast(raw, topic, now)
    if fast is not None:
        assert validator.explain(raw, topic, now) == fast, raw[:300]
    return fast


def test_generated_traffic_takes_the_fast_path() -> None:
    spec = TrafficSpec(seed=4, start=NOW - 3 * 3600, duration=3 * 3600, rate=1, scenario="incident")
    events = list(generate(spec))
    assert len(events) > 5000
    assert all(agrees(orjson.dumps(e), TOPIC[e["type"]], NOW + 3 * 3600) for e in events)


@pytest.mark.parametrize("kind", sorted(TOPIC))
def test_examples_take_the_fast_path(kind: str) -> None:
    assert agrees(orjson.dumps(EXAMPLES[kind]), TOPIC[kind]) is not None


def test_hostile_input_never_takes_the_fast_path() -> None:
    for topic, _, value, _ in hostile(NOW):
        assert agrees(value or b"", topic) is None


ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([3.0, -0.0, 1e308]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=80),
    st.sampled_from(["", "x" * 65, "x" * 1025, "Acme", "acme-shop", "fr-FR", "arabic language",
                     "EUR", "eur", "nps", "csat", "ces", "web", "fax", "contacted", "checkout",
                     "failure", "2026-11-22T10:15:30+25:00", "2026-11-22T10:15:30",
                     "2026-11-22T11:15:30.5+05:60", "é" * 5001]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=70), st.integers(),
                                                          max_size=3))
FIELDS = sorted({name for kind in ("interaction", "feedback", "followup")
                 for name in load_event_schemas()[kind]["properties"]} | {"surprise"})


@settings(max_examples=3000, deadline=None)
@example(kind="feedback", topic="cx.feedback", changes={"locale": ""}, drop=[], offset=0)
@example(kind="interaction", topic="cx.interactions", changes={"currency": ""}, drop=[],
         offset=0)
@example(kind="feedback", topic="cx.feedback", changes={"attributes": None}, drop=[], offset=0)
@given(kind=st.sampled_from(sorted(TOPIC)), topic=st.sampled_from(sorted(TOPIC.values())),
       changes=st.dictionaries(st.sampled_from(FIELDS), ODD_VALUES, max_size=4),
       drop=st.lists(st.sampled_from(FIELDS), max_size=2),
       offset=st.integers(-40 * 86400, 3600))
def test_fast_path_never_disagrees_with_the_schema(kind: str, topic: str, changes: dict[str, Any],
                                                   drop: list[str], offset: int) -> None:
    event = {**EXAMPLES[kind], "occurred_at": stamp(NOW + offset, 330)} | changes
    for name in drop:
        event.pop(name, None)
    try:
        raw = orjson.dumps(event)
    except TypeError:  # beyond what orjson writes (e.g. integers over 64 bits)
        raw = repr(event).encode()
    agrees(raw, topic)


@settings(max_examples=2000, deadline=None)
@given(data=st.data())
def test_fast_path_survives_byte_mutations(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(TOPIC)))
    raw = bytearray(orjson.dumps(EXAMPLES[kind]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    agrees(bytes(raw), TOPIC[kind])


STAMPS = load_event_schemas()["common"]["definitions"]["occurred_at"]["pattern"]


@settings(max_examples=3000, deadline=None)
@given(text=st.one_of(
    st.builds(lambda day, time, frac, zone: f"2026-11-{day}T{time}{frac}{zone}",
              st.sampled_from(["22", "31", "30", "2a", "٣1"]),
              st.sampled_from(["10:15:30", "23:59:59", "24:00:00", "10:15:60", "10:15", "1:15:30"]),
              st.sampled_from(["", ".5", ".123456789", ".1234567890", ".", ".12a"]),
              st.sampled_from(["Z", "z", "+05:30", "-03:00", "+23:59", "+24:00", "+05:60",
                               "+0530", "", "Z\n", " Z"])),
    st.text(alphabet="0123456789-:.TtZz+ ", min_size=15, max_size=35)))
def test_stamp_reader_matches_the_general_parser(text: str) -> None:
    import re

    reader = Stamps(STAMPS)
    for _ in range(2):  # the first call learns the minute, the second reads it by slicing
        got = reader.parse(text)
        if got is not None:
            assert re.match(STAMPS, text) and got == parse_timestamp(text), text


def test_revision_example_takes_the_fast_path() -> None:
    fast = agrees(orjson.dumps(REVISION_EXAMPLE), TOPIC["feedback"])
    assert fast is not None and fast.event.revision == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("revision", [0, 1, 99_999_999, 100_000_000, -1, 2.0, True, "1"])
def test_revision_agrees(revision: Any) -> None:
    agrees(orjson.dumps({**EXAMPLES["feedback"], "revision": revision}), TOPIC["feedback"])
