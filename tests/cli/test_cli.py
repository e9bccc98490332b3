"""``cxpulse`` as a user runs it: real subprocesses, real broker, clear one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.ports import free_port
from tests.support.services import CXPULSE

COMMANDS = ["demo", "worker", "topics", "migrate", "produce", "generate", "scores", "top", "cases",
            "verify", "bench", "keys", "forget", "incidents", "status", "retention"]


def cxpulse(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    return subprocess.run([CXPULSE, *args], env=clean | (env or {}), capture_output=True,
                          timeout=timeout, input=stdin, cwd=cwd)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = cxpulse(command, "--help")
    assert result.returncode == 0 and b"usage: cxpulse " + command.encode() in result.stdout


def one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    text = result.stderr.decode()
    assert result.returncode == 2, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    for needle in needles:
        assert needle in text, text
    return text


def test_unreachable_broker_is_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    result = cxpulse("topics", env={"CX_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
                                    "CX_DATA_DIR": str(tmp_path)})
    one_line_error(result, f"127.0.0.1:{port}", "CX_KAFKA_BOOTSTRAP")


def test_no_broker_at_all_says_how_to_get_one(tmp_path: Path) -> None:
    result = cxpulse("produce", "-", env={"CX_DATA_DIR": str(tmp_path)}, stdin=b"")
    one_line_error(result, "no Kafka", "cxpulse worker")


def test_an_enrich_worker_without_the_model_is_one_clear_line(tmp_path: Path) -> None:
    env = {"CX_COMMENT_ENRICH": "off", "CX_DATA_DIR": str(tmp_path)}
    one_line_error(cxpulse("worker", "--role", "enrich", env=env), "CX_COMMENT_ENRICH=off")
    one_line_error(cxpulse("worker", env=env | {"CX_WORKER_ROLE": "enrich"}),
                   "CX_COMMENT_ENRICH=off")
    one_line_error(cxpulse("worker", env={"CX_WORKER_ROLE": "scorer"}), "CX_WORKER_ROLE")
    result = cxpulse("worker", "--role", "scorer")
    assert result.returncode == 2 and b"invalid choice: 'scorer'" in result.stderr


def test_bad_settings_name_the_variable(tmp_path: Path) -> None:
    one_line_error(cxpulse("migrate", env={"CX_PARTITIONS": "four"}), "CX_PARTITIONS")
    one_line_error(cxpulse("migrate", env={"CX_CLICKHOUSE_URL": "postgres://x"}),
                   "CX_CLICKHOUSE_URL")
    port = free_port()
    one_line_error(cxpulse("migrate", env={
        "CX_CLICKHOUSE_URL": f"clickhouse://default:@127.0.0.1:{port}/cx"}), f"{port}")
    one_line_error(cxpulse("produce", str(tmp_path / "missing.jsonl"),
                           env={"CX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}), "127.0.0.1:1")


def test_a_hangup_interrupts_unless_it_is_ignored() -> None:
    """``stop_on_hangup``: SIGHUP becomes Ctrl-C (KeyboardInterrupt, so ``main`` stops what
    it started), whether SIGINT is at Python's default or ignored (a background job); under
    ``nohup`` (SIGHUP ignored) it stays ignored."""
    script = ("import os, signal, sys\n"
              "from streams.cli.main import stop_on_hangup\n"
              "hup, intr = sys.argv[1:]\n"  # set here: whatever this test's runner had
              "signal.signal(signal.SIGHUP, signal.SIG_IGN if hup == 'ignored'\n"
              "              else signal.SIG_DFL)\n"
              "signal.signal(signal.SIGINT, signal.SIG_IGN if intr == 'ignored'\n"
              "              else signal.default_int_handler)\n"
              "stop_on_hangup()\n"
              "try:\n"
              "    os.kill(os.getpid(), signal.SIGHUP)\n"
              "    signal.sigtimedwait([], 0.5)\n"
              "    print('still running')\n"
              "except KeyboardInterrupt:\n"
              "    print('interrupted')\n")
    cases = {("default", "default"): "interrupted", ("default", "ignored"): "interrupted",
             ("ignored", "default"): "still running"}
    for (hup, intr), expected in cases.items():
        done = subprocess.run([sys.executable, "-c", script, hup, intr], capture_output=True,
                              timeout=60, check=True)
        assert done.stdout.decode().strip() == expected, (hup, intr, done)
