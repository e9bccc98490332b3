"""Settings from the environment (12-factor), each with a safe default.

Read once per process; everything else receives a ``Settings`` instead of
touching ``os.environ`` so tests can build their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from streams.core.units import parse_duration


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _int(env: dict[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {raw!r}")
    return value


def _windows(raw: str) -> tuple[float, ...]:
    try:
        return tuple(parse_duration(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"CX_SCORE_WINDOWS: {error}") from None


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str | None = None
    """``host:port[,host:port]``; None means "start the bundled local broker"."""
    clickhouse_url: str | None = None
    """``clickhouse://user:pass@host:9000/db`` or ``chdb:///path``; None means embedded."""
    data_dir: Path = field(default_factory=lambda: Path(".cxpulse"))
    metrics_port: int = 6066
    partitions: int = 4
    app_id: str = "cxpulse"
    max_event_age_days: int = 30
    max_event_bytes: int = 64 * 1024
    batch_rows: int = 10_000
    batch_seconds: float = 0.5
    session_timeout: float = 15.0
    followup_hours: int = 48
    score_windows: tuple[float, ...] = (3600.0, 86400.0, 7 * 86400.0)
    """Rolling windows for gauges and cx.scores, in seconds (CX_SCORE_WINDOWS=1h,24h,7d)."""
    snapshot_seconds: float = 15.0
    top_touchpoints: int = 10
    min_answers: int = 5
    """Coverage: a channel with interactions but fewer answers in a window is a blind spot."""
    health_weights: str = ""
    """CX_HEALTH_WEIGHTS, e.g. ``nps=2,csat=1``; checked by scores.parse_weights."""
    """A feedback needing follow-up is met by a contacted/resolved follow-up within this."""
    """Kafka group session: how soon a dead worker's partitions move to the others."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            kafka_bootstrap=env.get("CX_KAFKA_BOOTSTRAP") or None,
            clickhouse_url=env.get("CX_CLICKHOUSE_URL") or None,
            data_dir=Path(env.get("CX_DATA_DIR") or ".cxpulse"),
            metrics_port=_int(env, "CX_METRICS_PORT", 6066, minimum=1),
            partitions=_int(env, "CX_PARTITIONS", 4, minimum=1),
            app_id=env.get("CX_APP_ID") or "cxpulse",
            max_event_age_days=_int(env, "CX_MAX_EVENT_AGE_DAYS", 30, minimum=1),
            max_event_bytes=_int(env, "CX_MAX_EVENT_BYTES", 64 * 1024, minimum=1024),
            batch_rows=_int(env, "CX_BATCH_ROWS", 10_000, minimum=1),
            batch_seconds=_float(env, "CX_BATCH_SECONDS", 0.5),
            session_timeout=_float(env, "CX_SESSION_TIMEOUT", 15.0),
            followup_hours=_int(env, "CX_FOLLOWUP_HOURS", 48, minimum=1),
            score_windows=_windows(env.get("CX_SCORE_WINDOWS") or "1h,24h,7d"),
            snapshot_seconds=_float(env, "CX_SNAPSHOT_SECONDS", 15.0),
            top_touchpoints=_int(env, "CX_TOP_TOUCHPOINTS", 10, minimum=0),
            min_answers=_int(env, "CX_MIN_ANSWERS", 5, minimum=1),
            health_weights=env.get("CX_HEALTH_WEIGHTS", ""),
        )

    @property
    def warehouse_url(self) -> str:
        """The ClickHouse URL in force: the configured one or embedded chdb in the data dir."""
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def followup_deadline_ms(self) -> int:
        return self.followup_hours * 3_600_000
