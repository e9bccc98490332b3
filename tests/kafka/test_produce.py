"""Routing JSON lines to topics (pure)."""

from __future__ import annotations

import orjson
import pytest

from streams.kafka.produce import RouteError, route


def test_routes_by_type_with_keys_that_colocate() -> None:
    assert route(b'{"type": "interaction", "event_id": "i1"}')[:2] == ("cx.interactions", b"i1")
    assert route(b'{"type": "feedback", "event_id": "f1"}')[:2] == ("cx.feedback", b"f1")
    followup = orjson.dumps({"type": "followup", "event_id": "u1", "feedback_id": "f1"})
    assert route(followup) == ("cx.followups", b"f1", followup)


def test_forced_topic_sends_verbatim() -> None:
    assert route(b"\xff garbage", topic="cx.feedback") == ("cx.feedback", None, b"\xff garbage")


@pytest.mark.parametrize("line", [b"nope", b"[1]", b'{"type": "sale"}', b"{}"])
def test_unroutable_lines_are_errors(line: bytes) -> None:
    with pytest.raises(RouteError):
        route(line)
