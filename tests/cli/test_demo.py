"""``cxpulse demo`` as a user runs it: worker, traffic, hostile messages and the live view."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from streams.ports import free_port
from tests.cli.test_cli import cxpulse, one_line_error
from tests.support.services import CXPULSE, wait_until


@pytest.mark.integration
def test_demo_shows_events_landing_and_stops_its_broker(tmp_path: Path) -> None:
    result = cxpulse("demo", "--duration", "12s", "--rate", "100", "--history", "2m",
                     cwd=tmp_path, env={
        "CX_DATA_DIR": str(tmp_path / "data"), "CX_METRICS_PORT": str(free_port())},
        timeout=180)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    landed = [tuple(map(int, m)) for m in re.findall(
        r"landed: interactions (\d+), feedback (\d+), followups (\d+), dead letters (\d+)", out)]
    assert landed, out
    interactions, feedback, _, dead = landed[-1]
    assert interactions > 100 and feedback > 10, out
    assert dead == 3 and "invalid_json 2" in out, out
    assert not (tmp_path / "data" / "broker.json").exists()


def _hangup_by_default() -> None:
    """SIGHUP as a terminal's process has it, whatever the test runner inherited (nohup)."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.mark.integration
def test_demo_makes_a_key_top_reads_its_worker_with(tmp_path: Path) -> None:
    """The demo's worker needs a key like any other; the demo makes one (an admin key, in a
    file only its owner reads) and says how ``top --worker`` uses it. A hang-up (its
    terminal closed) stops it like Ctrl-C: key revoked, broker stopped."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    log = tmp_path / "demo.out"
    demo = subprocess.Popen(
        [CXPULSE, "demo", "--duration", "180s", "--rate", "50", "--history", "1m"], cwd=tmp_path,
        env=clean | {"CX_DATA_DIR": str(tmp_path / "data"), "CX_METRICS_PORT": str(port)},
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_hangup_by_default)
    try:
        key_file = tmp_path / "data" / "demo-key"
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: "landed:" in log.read_text(), 120, "the demo's first view")
        assert f'cxpulse top --worker {url} --key "$(cat {key_file})"' in log.read_text()
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text().strip()
        assert key not in log.read_text()
        top = wait_until(lambda: (lambda done: done if b"acme-shop" in done.stdout else None)(
            cxpulse("top", "--once", "--worker", url, env={"CX_API_KEY": key})), 60,
            "top to show the demo's tenants")
        assert b"nordwind" in top.stdout and key.encode() not in top.stdout + top.stderr
        one_line_error(cxpulse("top", "--worker", url), "answered 401")
    finally:  # as when its terminal is closed: it stops what it started
        demo.send_signal(signal.SIGHUP)
        try:
            stopped = demo.wait(timeout=60)  # well before its own end
        finally:
            demo.kill()
    assert stopped == 0
    assert not key_file.exists()  # revoked and removed when the demo stops
    assert not (tmp_path / "data" / "broker.json").exists()  # and its broker stopped


@pytest.mark.integration
def test_demo_via_collector_sends_live_traffic_over_http(tmp_path: Path) -> None:
    result = cxpulse("demo", "--via-collector", "--duration", "12s", "--rate", "100",
                     "--history", "1m", cwd=tmp_path, env={
        "CX_DATA_DIR": str(tmp_path / "data"), "CX_METRICS_PORT": str(free_port()),
        "CX_COLLECT_PORT": str(free_port())}, timeout=180)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err[-3000:]
    assert "live traffic goes over HTTP through the collector" in out, out
    (history,) = [int(n) for n in re.findall(r"sent (\d+) messages", err)]  # straight to Kafka
    landed = [tuple(map(int, m)) for m in re.findall(
        r"landed: interactions (\d+), feedback (\d+), followups (\d+), dead letters (\d+)", out)]
    via = [tuple(map(int, m)) for m in re.findall(
        r"via collector http://127\.0\.0\.1:\d+: (\d+) events accepted in (\d+) requests, "
        r"rejected (\d+) \(tenant_mismatch 1\)", out)]
    assert landed and via, out
    interactions, feedback, followups, dead = landed[-1]
    accepted, requests, rejected = via[-1]  # printed after the landed line of its refresh
    assert accepted > 300 and requests > 5 and rejected == 1, out
    # Everything live came through the collector, and it landed: more than the history,
    # no more than the history and what the collector had accepted by then.
    assert history < interactions + feedback + followups <= history + accepted, out
    # The hostile messages, and the other tenant's event refused at the door.
    assert dead == 4 and "tenant_mismatch 1" in out.split("landed:")[-1], out
