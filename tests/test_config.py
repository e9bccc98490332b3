"""Settings from the environment: safe defaults, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import DEFAULT_KAFKA, ConfigError, Settings
from streams.core.drops import DetectorConfig


def test_defaults_are_embedded_and_local() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap is None and settings.clickhouse_url is None
    assert settings.warehouse_url == f"chdb://{Path('.cxpulse/clickhouse').resolve()}"
    assert (settings.metrics_port, settings.partitions) == (6066, 4)


def test_defaults_are_written_once() -> None:
    """Kafka's default address and the detector's defaults each have one home."""
    assert Settings.from_env({}).kafka_servers == DEFAULT_KAFKA == "127.0.0.1:9092"
    assert Settings.from_env({"CX_KAFKA_BOOTSTRAP": "k:1,k:2"}).kafka_servers == "k:1,k:2"
    made, default = Settings.from_env({}).detector(), DetectorConfig()
    assert (made.windows_ms, made.baseline_ms, made.fdr, made.cooldown_ms) == (
        default.windows_ms, default.baseline_ms, default.fdr, default.cooldown_ms) == (
        (3_600_000, 21_600_000), 604_800_000, 0.001, 1_800_000)


def test_values_are_read() -> None:
    settings = Settings.from_env({"CX_KAFKA_BOOTSTRAP": "k:9092", "CX_PARTITIONS": "12",
                                  "CX_CLICKHOUSE_URL": "clickhouse://h/db",
                                  "CX_BATCH_SECONDS": "0.1"})
    assert settings.kafka_bootstrap == "k:9092" and settings.partitions == 12
    assert settings.warehouse_url == "clickhouse://h/db" and settings.batch_seconds == 0.1


def test_notify_keywords_default_read_and_off() -> None:
    assert "refund" in Settings.from_env({}).notify_keywords
    assert Settings.from_env({"CX_NOTIFY_KEYWORDS": "Chargeback, never  again"}
                             ).notify_keywords == ("chargeback", "never again")
    assert Settings.from_env({"CX_NOTIFY_KEYWORDS": "none"}).notify_keywords == ()


@pytest.mark.parametrize(("name", "value"), [
    ("CX_PARTITIONS", "four"), ("CX_PARTITIONS", "0"), ("CX_METRICS_PORT", "-1"),
    ("CX_BATCH_SECONDS", "soon"), ("CX_BATCH_SECONDS", "0"), ("CX_MAX_EVENT_BYTES", "10"),
    ("CX_NOTIFY_KEYWORDS", ","), ("CX_COMMENT_ENRICH", "maybe"),
    ("CX_COMMENT_LANGUAGES", "en,xx"), ("CX_COMMENT_LANGUAGES", ","),
    ("CX_COMMENT_THEMES", "9 lives=size"), ("CX_COMMENT_THEMES", "sizing="),
    ("CX_COMMENT_THEMES", "delivery=late"), ("CX_COMMENT_BATCH", "0"),
    ("CX_PII_MASK", "email,ssn"), ("CX_PII_MASK", "phones"), ("CX_WORKER_ROLE", "scorer"),
    ("CX_COMMENT_ENGINE", "fast"),
])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_comment_settings_default_and_read() -> None:
    default = Settings.from_env({})
    assert default.comment_enrich and len(default.comment_languages) == 7
    assert default.comment_themes == {} and default.comment_threads == 1
    read = Settings.from_env({"CX_COMMENT_ENRICH": "off", "CX_COMMENT_LANGUAGES": "FR, en",
                              "CX_COMMENT_THEMES": "sizing=size|taille ; gift=gift"})
    assert not read.comment_enrich and read.comment_languages == ("fr", "en")
    assert read.comment_themes == {"sizing": ("size", "taille"), "gift": ("gift",)}
    assert default.worker_role == "all"
    assert Settings.from_env({"CX_WORKER_ROLE": " Enrich"}).worker_role == "enrich"
    assert default.comment_engine == "built"
    assert Settings.from_env({"CX_COMMENT_ENGINE": "Bundled"}).comment_engine == "bundled"


def test_pii_mask_is_on_by_default_and_configurable() -> None:
    assert Settings.from_env({}).pii_mask == {"email", "phone", "card", "iban"}
    assert Settings.from_env({"CX_PII_MASK": ""}).pii_mask == {"email", "phone", "card", "iban"}
    assert Settings.from_env({"CX_PII_MASK": "Email, card"}).pii_mask == {"email", "card"}
    assert Settings.from_env({"CX_PII_MASK": "off"}).pii_mask == frozenset()
    assert Settings.from_env({"CX_PII_MASK": "none"}).pii_mask == frozenset()


SASL = {"CX_KAFKA_BOOTSTRAP": "k:9093", "CX_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "CX_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "CX_KAFKA_SASL_USERNAME": "svc",
        "CX_KAFKA_SASL_PASSWORD": "hunter2-secret"}


def test_kafka_security_is_read_and_secrets_never_shown() -> None:
    settings = Settings.from_env(SASL | {"CX_KAFKA_SSL_CAFILE": "/ca.pem",
                                         "CX_CLICKHOUSE_URL": "clickhouses://cx:pw-in-url@h/db",
                                         "CX_KAFKA_SSL_KEY_PASSWORD": "key-secret"})
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.reveal() == "hunter2-secret"
    shown = f"{settings!r} {settings} {settings.kafka_sasl_password} " \
            f"{[settings.kafka_sasl_password]}"
    for secret in ("hunter2-secret", "pw-in-url", "key-secret"):
        assert secret not in shown


def test_secrets_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("from-a-file\n")
    (tmp_path / "url").write_text("clickhouse://cx@h:9000/db")
    env = SASL | {"CX_KAFKA_SASL_PASSWORD": "", "CX_CLICKHOUSE_URL_FILE": str(tmp_path / "url"),
                  "CX_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "password"),
                  "CX_CLICKHOUSE_PASSWORD_FILE": str(tmp_path / "password")}
    settings = Settings.from_env(env)
    assert settings.kafka_sasl_password and settings.kafka_sasl_password.reveal() == "from-a-file"
    assert settings.warehouse_url == "clickhouse://cx:from-a-file@h:9000/db"


@pytest.mark.parametrize(("env", "message"), [
    ({"CX_KAFKA_SASL_PASSWORD_FILE": "/nonexistent/pw", "CX_KAFKA_SASL_PASSWORD": ""},
     "CX_KAFKA_SASL_PASSWORD_FILE: cannot read /nonexistent/pw: No such file"),
    ({"CX_KAFKA_SASL_PASSWORD_FILE": "EMPTY", "CX_KAFKA_SASL_PASSWORD": ""},
     "CX_KAFKA_SASL_PASSWORD_FILE: .* is empty"),
    ({"CX_KAFKA_SASL_PASSWORD_FILE": "FULL"},
     "set CX_KAFKA_SASL_PASSWORD or CX_KAFKA_SASL_PASSWORD_FILE, not both"),
    ({"CX_KAFKA_SASL_USERNAME": ""}, "SASL_SSL needs CX_KAFKA_SASL_USERNAME"),
    ({"CX_KAFKA_SASL_MECHANISM": ""}, "SASL_SSL needs CX_KAFKA_SASL_MECHANISM"),
    ({"CX_KAFKA_SASL_PASSWORD": ""}, "SASL_SSL needs CX_KAFKA_SASL_PASSWORD"),
    ({"CX_KAFKA_SASL_MECHANISM": "GSSAPI"},
     "CX_KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
    ({"CX_KAFKA_SECURITY_PROTOCOL": "TLS"}, "CX_KAFKA_SECURITY_PROTOCOL must be one of"),
    ({"CX_KAFKA_SECURITY_PROTOCOL": "SSL"}, "CX_KAFKA_SASL_MECHANISM is set but .*=SSL"),
])
def test_bad_security_settings_name_the_variable(env: dict[str, str], message: str,
                                                 tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "full").write_text("pw")
    env = {name: {"EMPTY": str(tmp_path / "empty"), "FULL": str(tmp_path / "full")}.get(v, v)
           for name, v in env.items()}
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env(SASL | env)
    assert "hunter2-secret" not in str(caught.value)


def test_tls_files_need_a_tls_protocol() -> None:
    with pytest.raises(ConfigError, match="CX_KAFKA_SSL_CAFILE is set but "
                       "CX_KAFKA_SECURITY_PROTOCOL=PLAINTEXT: use SSL or SASL_SSL"):
        Settings.from_env({"CX_KAFKA_SSL_CAFILE": "/ca.pem"})
    with pytest.raises(ConfigError, match="CX_KAFKA_SSL_KEYFILE needs CX_KAFKA_SSL_CERTFILE"):
        Settings.from_env({"CX_KAFKA_SECURITY_PROTOCOL": "SSL", "CX_KAFKA_SSL_KEYFILE": "/k"})


def test_sequential_onsets_default_inside_the_longest_window_set_or_off() -> None:
    config = Settings.from_env({}).detector()
    # The default rungs 15m, 30m, 2h, 3h and the windows 1h, 6h: one ladder, which alone fires.
    assert config.onsets_ms == (900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000,
                                21_600_000)
    assert not config.window_alarms
    assert Settings.from_env({"CX_ALERT_WINDOWS": "1h"}).detector().onsets_ms == (
        900_000, 1_800_000, 3_600_000)  # the rungs inside the hour: no longer reach
    for off in ({"CX_ALERT_WINDOWS": "5m,15m"}, {"CX_ALERT_ONSETS": "off"}):
        windows = Settings.from_env(off).detector()
        assert windows.onsets_ms == () and windows.window_alarms
    assert Settings.from_env({"CX_ALERT_ONSETS": "1h,10m,1h"}).detector().onsets_ms == (
        600_000, 3_600_000, 21_600_000)
    with pytest.raises(ConfigError, match="CX_ALERT_ONSETS must be whole minutes, got 90s"):
        Settings.from_env({"CX_ALERT_ONSETS": "10m,90s"}).detector()
    with pytest.raises(ConfigError, match="CX_ALERT_ONSETS: duration 'soon'"):
        Settings.from_env({"CX_ALERT_ONSETS": "soon"})


def test_retention_per_table_defaults_overrides_and_refusals() -> None:
    default = Settings.from_env({}).retention_days_of()
    assert default["deadletters"] == 30 and default["interactions"] is None
    assert default["erasures"] is None and default["followup_cases"] == 180
    days = Settings.from_env({"CX_RETENTION": "deadletters=7,alerts=off",
                              "CX_RETENTION_DAYS": "400"}).retention_days_of()
    assert (days["deadletters"], days["alerts"], days["score_facts"]) == (7, None, 400)
    for raw, said in (("interactions=30", "CX_RETENTION_DAYS"), ("deadletters=-1", ">= 1"),
                      ("notifications=10", "CX_MAX_EVENT_AGE_DAYS")):
        with pytest.raises(ConfigError, match=f"CX_RETENTION.*{said}"):
            Settings.from_env({"CX_RETENTION": raw})
    assert Settings.from_env({"CX_RETENTION": "notifications=10",
                              "CX_MAX_EVENT_AGE_DAYS": "7"}).retention_days_of()[
        "notifications"] == 10


def test_prometheus_url_is_optional() -> None:
    assert Settings.from_env({}).prometheus_url is None
    assert Settings.from_env({"CX_PROMETHEUS_URL": "http://p:9090"}).prometheus_url == \
        "http://p:9090"
