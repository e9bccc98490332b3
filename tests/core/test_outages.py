"""The start-up schedule, an outage's lines and the folding of repeated client errors."""

from __future__ import annotations

from streams.core.outages import (
    STARTUP_CAP_S,
    Fold,
    Outage,
    StartupWait,
    gave_up_line,
    waiting_line,
)


def test_startup_wait_doubles_from_one_second_to_fifteen() -> None:
    wait = StartupWait(started=100.0)
    assert [wait.delay(100.0) for _ in range(7)] == [1, 2, 4, 8, 15, 15, 15]
    assert wait.attempts == 7
    assert max(wait.delay(10**9) for _ in range(50)) == STARTUP_CAP_S  # 0: waits forever


def test_startup_wait_never_sleeps_past_its_timeout_then_gives_up() -> None:
    wait = StartupWait(started=0.0, timeout=5.0)
    assert wait.delay(0.0) == 1
    assert wait.delay(1.0) == 2
    assert wait.delay(3.0) == 2  # 4 s would overshoot: the last attempt is at the timeout
    assert wait.delay(5.0) is None
    assert wait.waited(5.5) == 5.5


def test_start_up_lines_name_the_dependency_address_and_setting() -> None:
    line = waiting_line("Kafka", "kafka:9092", "CX_KAFKA_BOOTSTRAP", "nothing answers", 3, 4.0)
    assert line == ("waiting for Kafka at kafka:9092 (CX_KAFKA_BOOTSTRAP), attempt 3: "
                    "nothing answers; next attempt in 4 s")
    assert "\n" not in line
    gave_up = gave_up_line("ClickHouse", "clickhouse://ch:9000/cx", "CX_CLICKHOUSE_URL",
                           "refused", 300.2, 300)
    assert gave_up == ("gave up waiting for ClickHouse at clickhouse://ch:9000/cx "
                       "(CX_CLICKHOUSE_URL) after 300 s (CX_STARTUP_TIMEOUT=300): refused")


def test_an_outage_is_one_line_down_a_summary_a_minute_and_one_line_back() -> None:
    outage = Outage("kafka", "k:9092 (CX_KAFKA_BOOTSTRAP)")
    assert outage.up is None and not outage.down
    assert outage.probed(0.0, None) is None and outage.up
    assert outage.down_seconds(0.0) == 0
    down = outage.probed(10.0, "closed the connection")
    assert down == "kafka down at k:9092 (CX_KAFKA_BOOTSTRAP): closed the connection"
    lines = [outage.probed(10.0 + t, "closed the connection") for t in range(1, 130)]
    for _ in range(40):
        outage.fold("consumers")
    outage.failed("dead-letter publish")
    assert lines == [None] * 129  # the probes while it stays down say nothing themselves
    assert outage.summary(69.0) is None
    summary = outage.summary(70.0)
    assert summary == ("kafka still down after 60 s at k:9092 (CX_KAFKA_BOOTSTRAP): 131 failed "
                       "attempts, 40 client errors folded; waiting: consumers (40), dead-letter "
                       "publish (1); last error: closed the connection")
    assert outage.summary(100.0) is None and outage.summary(130.0) is not None
    assert outage.down_seconds(40.0) == 30 and outage.down_seconds(45.0) == 5
    back = outage.probed(150.0, None)
    assert back is not None and back.startswith("kafka back after 140 s down (131 failed")
    assert outage.up and outage.down_seconds(160.0) == 0 and outage.summary(300.0) is None
    # The next outage counts from zero.
    outage.probed(200.0, "refused")
    assert outage.attempts == 1 and outage.folded == 0 and outage.waiting == {}


def test_fold_lets_one_of_a_kind_through_a_minute_and_says_how_many_it_held() -> None:
    fold = Fold(every=60.0)
    assert fold.admit("a", 0.0) == 0
    assert [fold.admit("a", t) for t in (1.0, 2.0, 59.0)] == [None, None, None]
    assert fold.admit("b", 3.0) == 0  # another kind is not held by the first
    assert fold.admit("a", 60.0) == 3
    assert fold.admit("a", 61.0) is None
