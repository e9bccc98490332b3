"""Alert state: which alerts are open, and the changes one pass makes to it. No I/O.

The state is small (open alerts, recent resolutions) and can always be rebuilt
from the changes already recorded (``state_of``), which is how a new leader
takes over without firing an open alert again or forgetting it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from streams.core.drops import (
    AlertKey,
    DetectorConfig,
    Finding,
    Verdict,
    describe,
    recovery,
    severity,
)
from streams.core.units import format_window

FIRING: Final = "firing"
RESOLVED: Final = "resolved"

ALERT_COLUMNS: Final = ("tenant", "channel", "touchpoint", "metric", "state", "at", "window",
                        "value", "baseline", "n", "reason", "severity", "p_value",
                        "baseline_window", "windows")
"""``cx.alerts`` and the ``cx.alerts`` topic: DESIGN.md's columns, then severity and evidence."""


@dataclass(frozen=True, slots=True)
class Change:
    """One alert state change, as stored and published."""

    tenant: str
    channel: str
    touchpoint: str
    metric: str
    state: str
    at: int
    """Event time of the evaluation (Unix seconds, a minute boundary)."""
    window: str
    value: float | None
    baseline: float | None
    n: int
    reason: str
    severity: str
    p_value: float | None
    baseline_window: str
    windows: str
    """Every recent window compared, e.g. ``1h,6h``."""

    @property
    def key(self) -> AlertKey:
        return (self.tenant, self.channel, self.touchpoint, self.metric)

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in ALERT_COLUMNS)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ALERT_COLUMNS}


@dataclass(frozen=True, slots=True)
class Open:
    severity: str
    since: int
    """When it fired (Unix seconds)."""


@dataclass(slots=True)
class AlertState:
    open: dict[AlertKey, Open] = field(default_factory=dict)
    resolved_at: dict[AlertKey, int] = field(default_factory=dict)


def state_of(changes: Iterable[Change]) -> AlertState:
    """The state after these changes, applied in order of ``at`` (ties: as given)."""
    state = AlertState()
    for change in sorted(changes, key=lambda c: c.at):
        if change.state == FIRING:
            since = state.open[change.key].since if change.key in state.open else change.at
            state.open[change.key] = Open(change.severity, since)
        else:
            state.open.pop(change.key, None)
            state.resolved_at[change.key] = change.at
    return state


def _change(key: AlertKey, state: str, at: int, finding: Finding | None, reason: str,
            level: str, config: DetectorConfig) -> Change:
    return Change(
        *key, state=state, at=at,
        window=format_window(finding.window_ms) if finding else "",
        value=finding.value if finding else None,
        baseline=finding.baseline if finding else None,
        n=finding.n if finding else 0, reason=reason, severity=level,
        p_value=finding.p_value if finding else None,
        baseline_window=format_window(config.baseline_ms),
        windows=",".join(format_window(w) for w in config.windows_ms))


def step(state: AlertState, verdicts: Mapping[AlertKey, Verdict], at: int,
         config: DetectorConfig) -> list[Change]:
    """Apply one pass at ``at`` (Unix seconds) to ``state``; return the changes, in key order.

    Fire: some window alarms, the freshest window is not clear, and the key is
    not cooling down. Resolve: the freshest window is clear, or no window has
    enough data to judge. An open warning that now alarms as critical fires again
    as critical (escalation); nothing else changes an open alert.
    """
    changes: list[Change] = []
    for key in sorted(set(verdicts) | set(state.open)):
        verdict = verdicts.get(key)
        opened = state.open.get(key)
        if opened is not None:
            if verdict is None or verdict.clear:
                current = verdict.current if verdict else None
                reason = (recovery(current) if current
                          else "no longer enough data to judge in any window")
                changes.append(_change(key, RESOLVED, at, current, reason, opened.severity,
                                       config))
                del state.open[key]
                state.resolved_at[key] = at
            elif verdict.alarm is not None and opened.severity == "warning" \
                    and severity(verdict.alarm, config) == "critical":
                changes.append(_change(key, FIRING, at, verdict.alarm,
                                       describe(verdict.alarm), "critical", config))
                state.open[key] = Open("critical", opened.since)
            continue
        if verdict is None or verdict.alarm is None or verdict.clear:
            continue
        resolved = state.resolved_at.get(key)
        if resolved is not None and at - resolved < config.cooldown_ms // 1000:
            continue
        level = severity(verdict.alarm, config)
        changes.append(_change(key, FIRING, at, verdict.alarm, describe(verdict.alarm), level,
                               config))
        state.open[key] = Open(level, at)
    return changes
