"""Settings from the environment: safe defaults, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import ConfigError, Settings


def test_defaults_are_embedded_and_local() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap is None and settings.clickhouse_url is None
    assert settings.warehouse_url == f"chdb://{Path('.cxpulse/clickhouse').resolve()}"
    assert (settings.metrics_port, settings.partitions) == (6066, 4)


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
    ("CX_PII_MASK", "email,ssn"), ("CX_PII_MASK", "phones"),
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


def test_pii_mask_is_on_by_default_and_configurable() -> None:
    assert Settings.from_env({}).pii_mask == {"email", "phone", "card", "iban"}
    assert Settings.from_env({"CX_PII_MASK": ""}).pii_mask == {"email", "phone", "card", "iban"}
    assert Settings.from_env({"CX_PII_MASK": "Email, card"}).pii_mask == {"email", "card"}
    assert Settings.from_env({"CX_PII_MASK": "off"}).pii_mask == frozenset()
    assert Settings.from_env({"CX_PII_MASK": "none"}).pii_mask == frozenset()
