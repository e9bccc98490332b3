"""Waiting for a dependency (Kafka, ClickHouse) and living through its outages, with no I/O:
clocks are passed in, so tests choose time.

- ``StartupWait``: when a service that cannot reach a dependency tries again (1 s doubling
  to 15 s) and when it gives up (``CX_STARTUP_TIMEOUT``; 0 waits forever).
- ``Outage``: one dependency's state as its probes and its users see it. It says what to log:
  one line when it goes down, a summary a minute while it stays down, one line when it is
  back; everything else that fails meanwhile is counted into those lines, not logged.
- ``Fold``: the client libraries' own repeated errors (aiokafka logs each reconnect, many a
  second) let through once a minute per kind, the rest counted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from streams.core.limits import MAX_ENTRIES, backoff

STARTUP_FIRST_S: Final = 1.0
STARTUP_CAP_S: Final = 15.0
SUMMARY_EVERY_S: Final = 60.0
FOLD_EVERY_S: Final = 60.0
EXIT_STARTUP_TIMEOUT: Final = 3
"""The exit code of a service that gave up waiting (``cxpulse`` exits 2 on a bad setting)."""


@dataclass
class StartupWait:
    """The attempts of a start-up wait: ``delay`` says how long to sleep before the next
    one, or None once ``timeout`` seconds have passed since ``started`` (0: never)."""

    started: float
    timeout: float = 0.0
    attempts: int = 0

    def delay(self, now: float) -> float | None:
        """Count a failed attempt; the seconds to the next one (never past the timeout)."""
        pause = backoff(self.attempts, first=STARTUP_FIRST_S, cap=STARTUP_CAP_S)
        self.attempts += 1
        if not self.timeout:
            return pause
        left = self.started + self.timeout - now
        return min(pause, left) if left > 0 else None

    def waited(self, now: float) -> float:
        return now - self.started


def waiting_line(label: str, address: str, setting: str, reason: str, attempt: int,
                 pause: float) -> str:
    """One start-up attempt that failed, naming the dependency, where and which setting."""
    return (f"waiting for {label} at {address} ({setting}), attempt {attempt}: {reason}; "
            f"next attempt in {pause:.0f} s")


def gave_up_line(label: str, address: str, setting: str, reason: str, waited: float,
                 timeout: float) -> str:
    return (f"gave up waiting for {label} at {address} ({setting}) after {waited:.0f} s "
            f"(CX_STARTUP_TIMEOUT={timeout:g}): {reason}")


@dataclass
class Outage:
    """One dependency, up or down: probes decide (``probed``); users that fail meanwhile
    report it (``failed``) and stay quiet while ``down``. Each method returns the line to
    log, if any."""

    name: str
    where: str
    """Address and setting, e.g. ``127.0.0.1:9092 (CX_KAFKA_BOOTSTRAP)``."""
    up: bool | None = None
    """None until the first probe."""
    since: float = 0.0
    attempts: int = 0
    folded: int = 0
    reason: str = ""
    waiting: dict[str, int] = field(default_factory=dict)
    """What waits on it while it is down -> failed attempts of that."""
    _summarised: float = 0.0
    _accounted: float = 0.0

    @property
    def down(self) -> bool:
        return self.up is False

    def probed(self, now: float, reason: str | None) -> str | None:
        """A probe's result: None when the dependency answered, else why not."""
        if reason is None:
            if self.up is False:
                line = (f"{self.name} back after {now - self.since:.0f} s down "
                        f"({self._counts()})")
                self.up = True
                return line
            self.up = True
            return None
        self.reason = reason
        if self.up is False:
            self.attempts += 1
            return None
        self.up, self.since, self._summarised, self._accounted = False, now, now, now
        self.attempts, self.folded, self.waiting = 1, 0, {}
        return f"{self.name} down at {self.where}: {reason}"

    def failed(self, what: str) -> None:
        """``what`` (a write, a publish) failed on it while it is down: one more attempt."""
        self.waiting[what] = self.waiting.get(what, 0) + 1
        self.attempts += 1

    def fold(self, what: str) -> None:
        """A client log line of ``what`` (consumers, producer) about it, not logged."""
        self.waiting[what] = self.waiting.get(what, 0) + 1
        self.folded += 1

    def summary(self, now: float) -> str | None:
        """Every ``SUMMARY_EVERY_S`` while down: how long, how many attempts, what waits."""
        if self.up is not False or now - self._summarised < SUMMARY_EVERY_S:
            return None
        self._summarised = now
        return (f"{self.name} still down after {now - self.since:.0f} s at {self.where}: "
                f"{self._counts()}; last error: {self.reason}")

    def down_seconds(self, now: float) -> float:
        """Seconds down since the last call (for a counter), 0 while up."""
        if self.up is not False:
            return 0.0
        seconds, self._accounted = now - self._accounted, now
        return max(0.0, seconds)

    def _counts(self) -> str:
        waits = ", ".join(f"{what} ({n})" for what, n in sorted(self.waiting.items()))
        return (f"{self.attempts} failed attempts, {self.folded} client errors folded; "
                f"waiting: {waits or 'nothing yet'}")


class Fold:
    """Lets one line of each kind through per ``every`` seconds; counts the rest."""

    def __init__(self, every: float = FOLD_EVERY_S) -> None:
        self.every = every
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()
        """kind -> (when one was let through, how many were held back since)."""

    def admit(self, kind: str, now: float) -> int | None:
        """None: hold this one back; else let it through, with the count held back since
        the last one of its kind."""
        when, held = self._last.pop(kind, (None, 0))
        if when is not None and now - when < self.every:
            self._last[kind] = (when, held + 1)
            return None
        self._last[kind] = (now, 0)
        if len(self._last) > MAX_ENTRIES:
            self._last.popitem(last=False)
        return held
