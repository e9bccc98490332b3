"""The alert state machine: fire once, hysteresis, cooldown, escalation, rebuilt state."""

from __future__ import annotations

from dataclasses import replace

from streams.core.alerts import FIRING, RESOLVED, AlertState, state_of, step
from streams.core.drops import DetectorConfig, Finding, Verdict
from streams.core.stats import ALL

CONFIG = DetectorConfig()
KEY = ("acme", "web", ALL, "nps")


def finding(effect: float, q: float = 1e-6) -> Finding:
    return Finding(KEY[:3], "nps", 3_600_000, "nps", 30 - effect, 30.0, 50, 5000, effect,
                   q / 10, q)


ALARM = Verdict(finding(20), clear=False, current=finding(20))
STILL_BAD = Verdict(None, clear=False, current=finding(10, 0.5))
CLEAR = Verdict(None, clear=True, current=finding(1, 1.0))


def run(passes: list[Verdict | None], state: AlertState | None = None,
        every: int = 60) -> list[tuple[int, str, str]]:
    state = state or AlertState()
    out = []
    for i, verdict in enumerate(passes):
        verdicts = {} if verdict is None else {KEY: verdict}
        out += [(c.at, c.state, c.severity) for c in step(state, verdicts, i * every, CONFIG)]
    return out


def test_fires_once_and_stays_open_while_the_freshest_window_is_not_clear() -> None:
    assert run([CLEAR, ALARM, ALARM, STILL_BAD, ALARM]) == [(60, FIRING, "warning")]


def test_resolves_on_a_clear_freshest_window_or_when_no_window_has_data() -> None:
    assert run([ALARM, CLEAR]) == [(0, FIRING, "warning"), (60, RESOLVED, "warning")]
    assert run([ALARM, None])[-1][1] == RESOLVED


def test_an_alarm_in_a_long_window_does_not_fire_when_the_freshest_is_clear() -> None:
    past_incident = Verdict(finding(20), clear=True, current=finding(1, 1.0))
    assert run([past_incident, past_incident]) == []


def test_cooldown_holds_back_a_new_firing() -> None:
    changes = run([ALARM, CLEAR] + [ALARM] * 40)
    cooldown_s = CONFIG.cooldown_ms // 1000
    assert [c[1] for c in changes] == [FIRING, RESOLVED, FIRING]
    assert changes[2][0] - changes[1][0] == cooldown_s


def test_a_warning_escalates_to_critical_once() -> None:
    critical = Verdict(finding(40), clear=False, current=finding(40))
    assert run([ALARM, critical, critical]) == [(0, FIRING, "warning"), (60, FIRING, "critical")]


def test_a_new_leader_rebuilds_the_state_and_neither_refires_nor_forgets() -> None:
    first = AlertState()
    recorded = step(first, {KEY: ALARM}, 0, CONFIG)
    rebuilt = state_of(recorded)
    assert rebuilt == first
    assert step(rebuilt, {KEY: ALARM}, 60, CONFIG) == []  # no second firing
    resolved = step(rebuilt, {KEY: CLEAR}, 120, CONFIG)
    assert [c.state for c in resolved] == [RESOLVED]
    later = state_of(recorded + resolved)
    assert step(later, {KEY: ALARM}, 180, CONFIG) == []  # cooling down, also after a restart


def test_changes_carry_the_evidence_and_the_windows_compared() -> None:
    (change,) = step(AlertState(), {KEY: ALARM}, 600, CONFIG)
    assert change.key == KEY and change.window == "1h" and change.windows == "1h,6h"
    assert change.baseline_window == "7d" and change.n == 50 and change.value == 10.0
    assert "nps fell from 30.0 to 10.0 over 1h" in change.reason
    assert change.p_value == replace(finding(20)).p_value
