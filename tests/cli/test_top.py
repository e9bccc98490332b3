"""``cxpulse top`` as a person uses it: in a real terminal (tmux), against a ClickHouse
server holding generated traffic and an open alert; and through a worker's HTTP API."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.cli.screen import BLOCKS
from streams.core.alerts import Change
from streams.core.incidents import incidents
from streams.core.stats import ALL
from streams.ports import free_port
from streams.queries.alerting import record
from streams.queries.incidents import record as record_incidents
from streams.queries.keys import revoke_key
from streams.queries.windows import window_scores
from streams.tools.generate import TrafficSpec, generate
from streams.tools.load import load
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from tests.cli.test_cli import cxpulse, one_line_error
from tests.support.services import (
    CXPULSE,
    get_json,
    stored_key,
    system_binary,
    wait_until,
    worker_env,
)

DEADLINE_MS = 48 * 3_600_000
REASON = "failure_rate rose from 0.031 to 0.352 over 1h (n=210, baseline n=4000, p=1e-12)"
SPLIT = {"metric": "failure_rate", "channel": "web", "touchpoint": ALL, "value": 0.352,
         "baseline": 0.031, "change": 0.321, "surges": [],
         "cause": {"channel": "web", "touchpoint": "checkout", "share": 0.92},
         "summary": "checkout explains 92% of the rise in web failure_rate"}
INCIDENT = ("critical acme-shop: checkout explains 92% of the rise in web failure_rate "
            "(0.031 → 0.352)  since ")
ROW = re.compile(  # channel, health, trend, NPS ±moe, n, CSAT [low-high], n
    r"^(?P<channel>\S+)\s+(?P<health>\d+\.\d)\s+(?P<trend>[" + BLOCKS + r"·]{12})\s+"
    r"(?P<nps>-?\d+\.\d) ±\d+\.\d\s+(?P<nps_n>\d+)\s+\d+\.\d \[\d+-\d+\]\s+(?P<csat_n>\d+)",
    re.MULTILINE)


@pytest.fixture
def filled(server_url: str) -> str:
    """50 minutes of degraded traffic (acme-shop's web fails in the last third) for two
    tenants, and a critical alert firing on acme-shop/web, in an open incident."""
    warehouse = connect(server_url)
    migrate(warehouse)
    now = time.time()
    spec = TrafficSpec(seed=5, start=now - 3000, duration=3000, rate=8, scenario="degraded")
    assert load(warehouse, generate(spec), deadline_ms=DEADLINE_MS) > 10_000
    changes = [Change("acme-shop", "web", ALL, "failure_rate", "firing", int(now) // 60 * 60,
                      "1h", 0.352, 0.031, 210, REASON, "critical", 1e-12, "7d", "1h,6h")]
    record(warehouse, changes)
    [opened] = incidents(changes)
    record_incidents(warehouse, [opened], {opened.id: (SPLIT, {"comments": [], "cases": 2})})
    return server_url


class Tmux:
    """A private tmux server (its own socket, no user config) running one command."""

    def __init__(self, socket: Path) -> None:
        self.status = socket.with_name("exit-status")
        self.base = [system_binary("tmux"), "-u", "-f", "/dev/null", "-S", str(socket)]
        # The pane's size is the terminal's: a runner's COLUMNS/LINES (pytest-xdist sets
        # 80x24) would override it for the command inside.
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("CX_") and k not in ("COLUMNS", "LINES")} | {
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def tmux(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], env=self.env, capture_output=True, text=True,
                              timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, command: list[str], env: dict[str, str], width: int, height: int) -> None:
        """The command in a ``width`` x ``height`` pane; its exit status goes to a file."""
        line = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), *command])
        line += f"; echo $? > {shlex.quote(str(self.status))}"
        self.tmux("new-session", "-d", "-s", "top", "-x", str(width), "-y", str(height), line)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "top")

    def wait_for(self, *texts: str, timeout: float = 20) -> str:
        """The screen once it shows every one of ``texts``."""
        return wait_until(lambda: (lambda s: s if all(t in s for t in texts) else None)(
            self.screen()), timeout, f"the screen to show {texts}; it shows:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "top", *keys)

    def exit_status(self) -> int | None:
        """The command's exit status once it has exited, else None."""
        text = self.status.read_text().strip() if self.status.exists() else ""
        return int(text) if text else None

    def stop(self) -> None:
        subprocess.run([*self.base, "kill-server"], env=self.env, capture_output=True)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    terminal = Tmux(tmp_path / "tmux.sock")
    yield terminal
    terminal.stop()


def rows_of(screen: str) -> dict[str, re.Match]:
    return {match["channel"]: match for match in ROW.finditer(screen)}


@pytest.mark.integration
def test_top_in_tmux_shows_scores_and_alerts_and_follows_keys(filled: str, tmux: Tmux) -> None:
    tmux.start([CXPULSE, "top", "--interval", "1s"], {"CX_CLICKHOUSE_URL": filled},
               width=170, height=40)
    screen = tmux.wait_for("alerts firing: 1")
    assert "tenants: [1 acme-shop !1]  2 nordwind" in screen, screen
    assert "acme-shop · window 1h" in screen, screen
    assert "critical web/*" in screen and REASON in screen, screen
    # the open incident, one line above the alerts
    assert f"incidents open: 1\n  {INCIDENT}" in screen, screen
    assert screen.index(INCIDENT) < screen.index("alerts firing: 1"), screen

    rows = rows_of(screen)
    assert {"all", "web", "mobile_app", "email"} <= set(rows), screen
    end_ms = (int(time.time()) // 60 + 1) * 60_000
    want = {row["channel"]: row for row in window_scores(
        connect(filled), end_ms=end_ms, window_ms=3_600_000, deadline_ms=DEADLINE_MS,
        tenant="acme-shop", touchpoint=ALL)}
    web = rows["web"]
    assert int(web["nps_n"]) == want["web"]["nps_n"] > 0, screen
    assert float(web["nps"]) == pytest.approx(want["web"]["nps"], abs=0.051), screen
    assert int(rows["all"]["csat_n"]) == want[ALL]["csat_n"], screen
    # web degrades in the last third: its health trend falls to the lowest block
    assert set(web["trend"]) & set(BLOCKS) and web["trend"][-1] == BLOCKS[0], screen

    tmux.keys("t")
    screen = tmux.wait_for("[2 nordwind]", "nordwind · window 1h")
    assert "alerts firing: none" in screen and "+ 1 firing for other tenants" in screen, screen
    assert rows_of(screen)["web"]["nps_n"] != web["nps_n"], screen

    tmux.keys("w")
    screen = tmux.wait_for("nordwind · window 24h")
    tmux.keys("Left")
    screen = tmux.wait_for("[1 acme-shop !1]", "acme-shop · window 24h")
    tmux.keys("w", "w")
    tmux.wait_for("acme-shop · window 1h")

    tmux.keys("q")
    wait_until(lambda: tmux.exit_status() is not None, 10, "top to exit on q")
    assert tmux.exit_status() == 0


@pytest.mark.integration
def test_top_reads_a_worker_as_it_reads_clickhouse(filled: str, kafka: str, start_worker,
                                                    tmp_path: Path, tmux: Tmux) -> None:
    admin = stored_key(connect(filled), "*", "admin")
    nordwind = stored_key(connect(filled), "nordwind", "read")
    worker = start_worker(worker_env(kafka, filled, tmp_path) | {"CX_ALERT_SECONDS": "3600"})
    worker.wait_ready()
    url = f"http://127.0.0.1:{worker.port}"
    firing = get_json(f"{url}/v1/alerts?firing=1", key=admin)
    assert [(a["tenant"], a["channel"], a["metric"], a["reason"]) for a in firing] == [
        ("acme-shop", "web", "failure_rate", REASON)]
    direct = cxpulse("top", "--tenant", "nordwind", env={"CX_CLICKHOUSE_URL": filled})
    via = cxpulse("top", "--tenant", "nordwind", "--worker", url, "--key", admin)
    assert direct.returncode == via.returncode == 0, (direct.stderr, via.stderr)
    # not a terminal: one snapshot; the same below the title line (source and clock)
    screen = direct.stdout.decode()
    assert "[2 nordwind]" in screen and "+ 1 firing for other tenants" in screen, screen
    assert via.stdout.decode().splitlines()[1:] == screen.splitlines()[1:]
    acme, acme_via = (cxpulse("top", "--tenant", "acme-shop", *args, env={
        "CX_CLICKHOUSE_URL": filled}).stdout.decode() for args in (
            (), ("--worker", url, "--key", admin)))
    assert INCIDENT in acme and acme_via.splitlines()[1:] == acme.splitlines()[1:], acme_via
    assert f"worker {url}" in via.stdout.decode() and admin not in via.stdout.decode()
    # a tenant's key (from CX_API_KEY) shows that tenant alone; no key or a bad one: one line
    own = cxpulse("top", "--worker", url, env={"CX_API_KEY": nordwind}).stdout.decode()
    assert "[1 nordwind]" in own and "acme-shop" not in own, own
    one_line_error(cxpulse("top", "--worker", url), f"worker {url} answered 401",
                   "--key or CX_API_KEY")
    bad = one_line_error(cxpulse("top", "--worker", url, "--key", admin[:-4] + "AAAA"),
                         "answered 401", "unauthorized")
    assert admin[:-4] not in bad
    # full screen with a tenant's key: that tenant; once revoked, one line on screen
    tmux.start([CXPULSE, "top", "--worker", url, "--interval", "1s"], {"CX_API_KEY": nordwind},
               width=170, height=40)
    screen = tmux.wait_for("[1 nordwind]", "nordwind · window 1h")
    assert "acme-shop" not in screen and nordwind not in screen, screen
    revoke_key(connect(filled), nordwind.split("_")[1], int(time.time()))
    screen = tmux.wait_for("answered 401 to /v1/scores", timeout=30)
    assert "Traceback" not in screen and nordwind not in screen, screen
    tmux.keys("q")
    wait_until(lambda: tmux.exit_status() is not None, 10, "top to exit on q")


def test_top_without_data_or_services_says_so_in_one_line(server_url: str) -> None:
    migrate(connect(server_url))
    empty = cxpulse("top", "--once", env={"CX_CLICKHOUSE_URL": server_url})
    assert empty.returncode == 0 and "no scores yet in the last 1h" in empty.stdout.decode()
    port = free_port()
    one_line_error(cxpulse("top", env={
        "CX_CLICKHOUSE_URL": f"clickhouse://default:@127.0.0.1:{port}/cx"}), "cxpulse top:",
        str(port))
    one_line_error(cxpulse("top", "--worker", f"http://127.0.0.1:{port}"),
                   f"cannot reach the worker at http://127.0.0.1:{port}")


@pytest.mark.integration
def test_demo_on_a_terminal_is_the_top_view(tmux: Tmux, tmp_path: Path) -> None:
    data = tmp_path / "data"
    tmux.start([CXPULSE, "demo", "--rate", "60", "--history", "5m"],
               {"CX_DATA_DIR": str(data), "CX_METRICS_PORT": str(free_port())},
               width=170, height=40)
    screen = tmux.wait_for("tenants: [1 acme-shop]", "demo: landed: interactions", timeout=60)
    assert "dead letters 3" in screen or "dead letters 0" in screen, screen

    def scored() -> str | None:
        """The screen once it shows scores and the web channel's comment sentiment and top
        theme (the comments are enriched behind the ingest, so they may come later)."""
        now = tmux.screen()
        return now if {"all", "web"} <= set(rows_of(now)) and re.search(
            r"^web .*[+-]\d\.\d\d  \w+ \d+%", now, re.MULTILINE) else None

    screen = wait_until(scored, 120, "scores and comment sentiment on the top screen")
    tmux.keys("2")
    tmux.wait_for("[2 nordwind]", "nordwind · window 1h")
    tmux.keys("q")
    wait_until(lambda: tmux.exit_status() is not None, 30, "the demo to stop on q")
    assert tmux.exit_status() == 0
    assert "generating incident traffic" in (data / "demo.log").read_text()  # not on screen
    assert not (data / "broker.json").exists()
