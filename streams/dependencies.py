"""Kafka and ClickHouse as what a service (``cxpulse worker``, ``cxpulse collect``) depends on.

- ``wait_at_start``: before the service starts, wait for each dependency with backoff, one
  line per attempt, a ``/readyz`` that says not ready meanwhile, and after
  ``CX_STARTUP_TIMEOUT`` one line and exit code 3 (``core.outages``), never a traceback.
- ``Watch``: while it runs, probe each dependency (every 5 s, every second while down) and
  log its outages in a few lines (``core.outages.Outage``); ``record`` feeds its metrics.
- ``FoldClientErrors``: the logging filter that keeps aiokafka's reconnect errors (many a
  second during a broker outage) and our own retries out of the log while the dependency is
  known down, counting them into the outage's lines instead.

Our own code marks a log line about a failing dependency with
``extra=about("clickhouse", "ClickHouse insert")``, so the filter knows what waits on what.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge

from streams.config import Settings
from streams.console import say
from streams.core.outages import (
    EXIT_STARTUP_TIMEOUT,
    Fold,
    Outage,
    StartupWait,
    gave_up_line,
    waiting_line,
)
from streams.kafka import KafkaError, KafkaUnavailable
from streams.kafka.security import KafkaSecurity
from streams.warehouse import WarehouseError, WarehouseUnavailable, connect
from streams.warehouse.native import address_of

log = logging.getLogger(__name__)

CLIENT_LOGGERS: Final = ("aiokafka", "kafka.")
PROBE_EVERY_S: Final = 5.0
PROBE_DOWN_EVERY_S: Final = 1.0
Unavailable: Final = (KafkaUnavailable, WarehouseUnavailable)


@dataclass(frozen=True)
class Dependency:
    name: str
    """``kafka`` or ``clickhouse``: the metrics' label."""
    label: str
    address: str
    """Where, without a password."""
    setting: str
    probe: Callable[[], None]
    """Blocks; raises ``KafkaUnavailable``/``WarehouseUnavailable`` while it does not answer,
    another error when it refuses us (a setting to fix, not worth waiting for)."""

    @property
    def where(self) -> str:
        return f"{self.address} ({self.setting})"


def dependencies(settings: Settings, bootstrap: str | None = None,
                 warehouse_url: str | None = None) -> list[Dependency]:
    """The dependencies a service waits for and watches: Kafka at ``bootstrap`` (default
    CX_KAFKA_BOOTSTRAP; none: the CLI starts a local broker) and a ClickHouse server
    (default CX_CLICKHOUSE_URL; embedded chdb runs in the process: nothing to wait for)."""
    found = []
    bootstrap = bootstrap or settings.kafka_bootstrap
    if bootstrap:
        found.append(Dependency("kafka", "Kafka", bootstrap, "CX_KAFKA_BOOTSTRAP",
                                _kafka_probe(bootstrap, KafkaSecurity.of(settings))))
    url = warehouse_url or settings.warehouse_url
    if not url.startswith("chdb:"):
        found.append(Dependency("clickhouse", "ClickHouse", address_of(url), "CX_CLICKHOUSE_URL",
                                _clickhouse_probe(url)))
    return found


def _kafka_probe(bootstrap: str, security: KafkaSecurity) -> Callable[[], None]:
    from streams.kafka.admin import check_reachable, login, login_failure

    def probe() -> None:
        try:
            check_reachable(bootstrap, security, timeout=1.0)
        except KafkaUnavailable:
            raise KafkaUnavailable("nothing answers on its port") from None
        try:  # not check_login: its quieting of aiokafka's loggers would hide the service's
            asyncio.run(login(bootstrap, security, timeout=3.0))
        except Exception as error:
            failure = login_failure(bootstrap, security, error)
            _, closed, hint = str(failure).partition("closed the connection: ")
            if not isinstance(failure, KafkaUnavailable) or not closed:
                raise failure from None
            raise KafkaUnavailable(  # said for start-up and outages alike
                f"it closed the connection (down, restarting or cut off?): {hint}") from None

    return probe


def _clickhouse_probe(url: str) -> Callable[[], None]:
    def probe() -> None:
        warehouse = connect(url)
        try:
            warehouse.query("SELECT 1")
        except WarehouseUnavailable as error:  # "ClickHouse at <where>: ...": said already
            raise WarehouseUnavailable(str(error).removeprefix(
                f"ClickHouse at {address_of(url)}: ")) from None
        finally:
            warehouse.close()

    return probe


def about(dependency: str, what: str) -> dict[str, Any]:
    """``extra`` for a log line saying ``what`` failed on ``dependency``."""
    return {"dependency": dependency, "waiting": what}


def about_failure(error: BaseException, what: str) -> dict[str, Any] | None:
    """``extra`` for a log line saying ``what`` failed with ``error``: the dependency whose
    client raised it, or None (a bug, a refusal: always logged)."""
    from aiokafka.errors import KafkaError as ClientError

    if isinstance(error, WarehouseError):
        return about("clickhouse", what)
    if isinstance(error, ClientError | KafkaError):
        return about("kafka", what)
    return None


def wait_at_start(settings: Settings, command: str, *, port: int, host: str = "0.0.0.0",
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once every dependency answers; meanwhile ``/readyz`` on ``port`` answers 503.
    After CX_STARTUP_TIMEOUT seconds (0: never), one line naming ``command`` (as the
    CLI's errors do) and exit code 3."""
    found = dependencies(settings)
    if not found:
        return
    started = clock()
    with NotReady(host, port) as page:
        for dependency in found:
            wait = StartupWait(started, settings.startup_timeout)
            page.waiting = f"waiting for {dependency.label} at {dependency.where}"
            while True:
                try:
                    dependency.probe()
                    break
                except Unavailable as error:
                    reason = str(error)
                pause = wait.delay(clock())
                if pause is None:
                    say(f"cxpulse {command}: " + gave_up_line(
                        dependency.label, dependency.address, dependency.setting, reason,
                        wait.waited(clock()), settings.startup_timeout))
                    raise SystemExit(EXIT_STARTUP_TIMEOUT)
                say(waiting_line(dependency.label, dependency.address, dependency.setting,
                                 reason, wait.attempts, pause))
                page.waiting = f"waiting for {dependency.label} at {dependency.where}: {reason}"
                sleep(pause)


class NotReady:
    """A tiny HTTP server on the service's port while it waits to start: ``/readyz`` answers
    503 with what it waits for, ``/healthz`` 200 (it is alive, waiting on purpose)."""

    def __init__(self, host: str, port: int) -> None:
        self.waiting = "starting"
        """What /readyz says."""
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                status, body = ((200, {"status": "ok"}) if path == "/healthz" else
                                (503, {"error": "not_ready", "message": state.waiting}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 503:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds: not worth a line each

        try:
            self._server: ThreadingHTTPServer | None = ThreadingHTTPServer((host, port), Handler)
        except OSError:  # the port is taken: the service itself will say so when it binds
            self._server = None
            return
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="not-ready")

    def __enter__(self) -> NotReady:
        if self._server is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


Record = Callable[[str, bool, float], None]
"""(dependency, up, seconds down since the last call): the service's metrics."""


def dependency_metrics(registry: CollectorRegistry) -> Record:
    """The dependency metrics in ``registry`` (the worker's global one, or a collector's own),
    and how a ``Watch`` records a probe in them."""
    up = Gauge("cx_dependency_up", "1 while the dependency (kafka, clickhouse) answers this "
               "process's probes, 0 while it is down", ["dependency"], registry=registry)
    down_seconds = Counter("cx_dependency_down_seconds", "Seconds the dependency (kafka, "
                           "clickhouse) was down, as this process's probes saw it",
                           ["dependency"], registry=registry)

    def record(name: str, is_up: bool, seconds: float) -> None:
        up.labels(name).set(1 if is_up else 0)
        down_seconds.labels(name).inc(seconds)

    return record


class Watch:
    """Each dependency's ``Outage``, kept by probes; ``run`` until cancelled."""

    def __init__(self, found: list[Dependency], record: Record | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dependencies = {dependency.name: dependency for dependency in found}
        self.outages = {dependency.name: Outage(dependency.name, dependency.where)
                        for dependency in found}
        self._record = record
        self._clock = clock
        self._wake: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def problems(self) -> list[str]:
        """Why the service is not ready (empty: ready)."""
        return [f"{outage.name} at {outage.where}: "
                + ("not probed yet" if outage.up is None else f"down: {outage.reason}")
                for outage in self.outages.values() if not outage.up]

    def suspect(self, name: str) -> None:
        """Something failed on ``name``: probe it now rather than at the next tick (while it
        is down, probes run every second anyway)."""
        wake = self._wake.get(name)
        if wake is not None and self._loop is not None and not self.outages[name].down:
            self._loop.call_soon_threadsafe(wake.set)  # the filter runs on any thread

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.gather(*(self._watch(name) for name in self.dependencies))

    async def _watch(self, name: str) -> None:
        dependency, outage = self.dependencies[name], self.outages[name]
        wake = self._wake[name] = asyncio.Event()
        while True:
            wake.clear()
            try:
                await asyncio.to_thread(dependency.probe)
                reason = None
            except Exception as error:  # any failure to answer counts: keep probing
                reason = str(error)
            now = self._clock()
            for line in (outage.probed(now, reason), outage.summary(now)):
                if line:
                    log.warning("%s", line)
            if self._record is not None:
                self._record(name, bool(outage.up), outage.down_seconds(now))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), PROBE_DOWN_EVERY_S if outage.down
                                       else PROBE_EVERY_S)


class FoldClientErrors(logging.Filter):
    """Keeps a known outage out of the log (see the module's docstring); otherwise lets the
    client libraries' repeated errors through once a minute per kind, on one line each."""

    def __init__(self, watch: Watch, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._watch = watch
        self._fold = Fold()
        self._clock = clock

    def filter(self, record: logging.LogRecord) -> bool:
        verdict = getattr(record, "cx_folded", None)  # judged by another handler already
        if verdict is None:
            try:
                verdict = self._judge(record)
            except Exception:  # a filter that fails would break the caller's log call
                verdict = True
            record.cx_folded = verdict
            if verdict:
                _flatten(record)
        return verdict

    def _judge(self, record: logging.LogRecord) -> bool:
        name = getattr(record, "dependency", None)
        client = name is None and record.name.startswith(CLIENT_LOGGERS) \
            and record.levelno >= logging.WARNING
        if client:
            name = "kafka"
        outage = self._watch.outages.get(name) if name else None
        if outage is None:
            return True
        self._watch.suspect(outage.name)
        what = getattr(record, "waiting", None) or _client_of(record.name)
        if outage.down:
            if client:
                outage.fold(what)
            else:
                outage.failed(what)
            return False
        if not client:
            return True
        held = self._fold.admit(f"{record.name}:{record.msg}", self._clock())
        if held is None:
            outage.fold(what)
            return False
        _one_line(record, held)
        return True


def _client_of(logger: str) -> str:
    """What waits, from an aiokafka logger's name."""
    if ".consumer" in logger:
        return "consumers"
    if ".producer" in logger:
        return "producer"
    return "connections"


def _reword(record: logging.LogRecord, text: str) -> None:
    """The record's message, final: args ``()``, not None (Faust's formatter would make None
    ``(None,)`` and format the text with it)."""
    record.msg, record.args = text, ()


def _flatten(record: logging.LogRecord) -> None:
    """A message on one line (a Kafka error's text can hold several); a traceback, kept for
    the unexpected, still follows it."""
    with contextlib.suppress(Exception):  # a message that cannot format is logging's to report
        message = record.getMessage()
        if "\n" in message:
            _reword(record, " ".join(message.split()))


def _one_line(record: logging.LogRecord, held: int) -> None:
    """A client's error without its traceback, saying how many like it were held back."""
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        _reword(record, f"{record.getMessage()} ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''})")
        record.exc_info, record.exc_text = None, None
    if held:
        _reword(record, f"{record.getMessage()} ({held} more like it folded)")


@contextlib.contextmanager
def folding(watch: Watch) -> Iterator[FoldClientErrors]:
    """The filter on every handler of the root logger (where Faust and ``basicConfig`` put
    theirs), for as long as the service runs."""
    fold = FoldClientErrors(watch)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(fold)
    try:
        yield fold
    finally:
        for handler in handlers:
            handler.removeFilter(fold)
