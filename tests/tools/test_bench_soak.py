"""``cxpulse bench soak``: a short run with every fault once, on tiny load.

No timing asserts (the machine is shared): every event lands once, verify finds no
difference through a broker partition, a ClickHouse restart and a worker SIGKILL, and
the report holds one row per fault with the log lines of both workers.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.tools.bench.soak import FAULTS, Plan, line_shapes, report, rss_growth, window_p99
from tests.cli.test_cli import cxpulse, one_line_error


@pytest.mark.integration
def test_a_short_soak_loses_nothing_through_every_fault(tmp_path: Path) -> None:
    output = tmp_path / "soak.json"
    result = cxpulse("bench", "soak", "--duration", "60s", "--fault-every", "15s", "--outage",
                     "4s", "--rate", "20", "--json", str(output),
                     env={"CX_COMMENT_ENRICH": "off", "CX_PARTITIONS": "2"}, timeout=240)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    results = orjson.loads(output.read_bytes())
    events = results["events"]
    assert sum(events["produced"].values()) == results["sent"] > 600, events
    assert events["landed"] == events["produced"], events
    assert events["lost"] == events["duplicated"] == events["deadletters"] == 0, events
    assert events["scored"]["interactions"] == events["landed"]["interactions"], events
    assert results["verify"]["differences"] == 0, results["verify"]
    assert results["unexpected_exits"] == []
    faults = results["faults"]
    assert [fault["kind"] for fault in faults] == list(FAULTS)
    assert faults[2]["target"] == "worker-0"
    for fault in faults:
        assert fault["down_s"] >= 4, fault
        assert set(fault["log_lines"]) == {"worker-0", "worker-1"}, fault
    # Scores flow before the first fault; a window may see none while workers recover.
    assert faults[0]["p99_before_s"] > 0
    assert all(fault[key] is None or fault[key] > 0 for fault in faults
               for key in ("p99_before_s", "p99_after_s"))
    processes = {row["process"] for row in results["rss"]}
    assert processes == {"worker-0", "worker-1", "broker", "clickhouse-server"}
    # The killed worker and the restarted server are new processes, sampled apart.
    assert sum(row["process"] == "worker-0" for row in results["rss"]) == 2
    assert sum(row["process"] == "clickhouse-server" for row in results["rss"]) == 2
    assert all(row["series"][0][1] == round(row["first_mib"]) for row in results["rss"])
    assert report(results) in result.stdout.decode()
    # the workers' logs are kept beside the report, restarts appended
    kept = sorted(path.name for path in tmp_path.glob("soak.json.*.log"))
    assert kept == ["soak.json.soak-0.log", "soak.json.soak-1.log"], kept
    progress = result.stderr.decode()
    assert "fault 3, worker SIGKILL worker-0" in progress and "events landed" in progress


def test_faults_come_in_turn_and_end_before_the_load() -> None:
    plan = Plan(duration=1800, fault_every=300, outage=40)
    assert plan.schedule() == [(300, FAULTS[0]), (600, FAULTS[1]), (900, FAULTS[2]),
                               (1200, FAULTS[0]), (1500, FAULTS[1])]
    assert plan.window == 60 and plan.tick == 5
    assert [at for at, _ in Plan(duration=75, fault_every=20, outage=5).schedule()] == [20, 40,
                                                                                      60]


def test_a_fault_plan_that_cannot_run_is_refused_in_one_line() -> None:
    one_line_error(cxpulse("bench", "soak", "--fault-every", "30s"), "--fault-every (30s)",
                   "--outage 40s")
    one_line_error(cxpulse("bench", "soak", "--duration", "1m", "--fault-every", "1m"),
                   "--duration (60s)")


def test_window_p99_counts_a_restarted_worker_from_zero() -> None:
    """Worker 1 is read before the window; worker 2 starts inside it: both count, and
    what worker 1 observed before the window does not."""
    slow = [(1.0, 0.0), (10.0, 100.0), (float("inf"), 100.0)]
    fast = [(1.0, 100.0), (10.0, 100.0), (float("inf"), 100.0)]
    samples = [(0.0, {1: fast}), (5.0, {1: [(b, c + n) for (b, c), (_, n) in
                                            zip(fast, slow, strict=True)], 2: slow})]
    assert window_p99(samples, 0.0, 5.0) == pytest.approx(9.91)
    assert window_p99(samples, 5.0, 9.0) is None
    assert window_p99(samples[:1], -5.0, 0.0) == pytest.approx(0.99)


def test_rss_growth_is_a_slope_after_the_warm_up() -> None:
    start_up = [(0.0, 10.0), (5.0, 90.0)]
    steady = [(10.0 + 60 * n, 100.0 + n) for n in range(10)]  # 1 MiB a minute on 100 MiB
    row = rss_growth(start_up + steady, warmup=10)
    assert row["growth_pct_per_hour"] == pytest.approx(60.0)
    assert (row["first_mib"], row["last_mib"], row["max_mib"]) == (10.0, 109.0, 109.0)
    assert rss_growth(start_up, warmup=10)["growth_pct_per_hour"] is None


def test_line_shapes_fold_times_pids_and_digits(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text("started\n"
                   "[2026-12-07 13:19:01,494] [6039] [WARNING] kafka down: 3 attempts, 12s\n"
                   "[2026-12-07 13:20:01,001] [6039] [WARNING] kafka down: 4 attempts, 72s\n"
                   "[2026-12-07 13:20:09,100] [6040] [WARNING] kafka back after 80s\n")
    assert line_shapes(log, 1, 4) == [(2, "[WARNING] kafka down: # attempts, #s"),
                                      (1, "[WARNING] kafka back after #s")]
    assert line_shapes(log, 0, 2, top=1) == [(1, "started")]
