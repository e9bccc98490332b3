"""``cxpulse bench collect --quick``: a real collector, a real broker, every phase run once.

No timing asserts (the machine is shared): the shape of the report, requests answered
200 with every event accepted, and every accepted event counted in Kafka.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.tools.bench.collect import TARGETS, ack_quantiles, report
from tests.cli.test_cli import cxpulse


@pytest.mark.integration
def test_bench_collect_quick(server_url: str, tmp_path: Path) -> None:
    output = tmp_path / "collect.json"
    result = cxpulse("bench", "collect", "--quick", "--json", str(output),
                     env={"CX_CLICKHOUSE_URL": server_url, "CX_PARTITIONS": "2"}, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    results = orjson.loads(output.read_bytes())
    capacity, latency = results["capacity"], results["latency"]
    for kind, size in (("single", 1), ("batch", 100)):
        done = capacity[kind]
        assert done["requests"] > 10 and done["failed"] == {}, done
        assert done["accepted"] == size * done["requests"], done
        assert done["cores"]["collector"] > 0 and done["p99_ms"] >= done["p50_ms"] > 0
        for share in (50, 90):
            point = latency[f"{kind}_{share}pct"]
            assert point["share"] == share and point["failed"] == {}, point
            assert point["accepted"] == size * point["requests"] > 0
            assert 0 < point["kafka_ack_p50_ms"] <= point["kafka_ack_p99_ms"], point
    kafka = results["kafka"]
    assert kafka["all_in_kafka"] and kafka["in_kafka"] == kafka["accepted"] > 0, kafka
    assert kafka["deadletters"] == 0
    assert set(results["met"]) == set(TARGETS) == set(results["targets"])
    out = result.stdout.decode()
    assert report(results) in out and "every accepted event is in Kafka" in result.stderr.decode()


def test_ack_quantiles_count_only_the_phase() -> None:
    """Requests before the phase (all under 1 ms) do not pull its quantiles down."""
    before = [(0.001, 500.0), (0.01, 500.0), (float("inf"), 500.0)]
    after = [(0.001, 500.0), (0.01, 600.0), (float("inf"), 600.0)]
    assert ack_quantiles(before, after) == {"kafka_ack_p50_ms": 5.5, "kafka_ack_p99_ms": 9.91}
