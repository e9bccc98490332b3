"""ClickHouse server over the native protocol (clickhouse-driver)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from streams.warehouse import WarehouseError, WarehouseUnavailable, database_of, one_line
from streams.warehouse.sql import column_list

# The driver logs each failed connect with a traceback; WarehouseError says it in one line.
logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)

_ERRORS = (ch_errors.Error, OSError, EOFError)
# Errors that mean "the server is not there right now" as opposed to "it said no".
_UNAVAILABLE = (ch_errors.NetworkError, ch_errors.SocketTimeoutError, OSError, EOFError)


def version_settings(version: str) -> dict[str, Any]:
    """Per-version settings, so the DDL itself runs unchanged on every engine we support."""
    major = int(version.split(".", 1)[0])
    return {"allow_experimental_low_cardinality_type": 1} if major < 19 else {}


def _hint(text: str) -> str:
    """What to check for the failures a configuration causes (TLS trust, login)."""
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "; set CX_CLICKHOUSE_CA_FILE to the CA that signed the server's certificate"
    if "WRONG_VERSION_NUMBER" in text:
        return "; this port does not speak TLS: use clickhouse:// or the server's secure port"
    if "Code: 193." in text or "Code: 516." in text or "Code: 192." in text:
        return "; check the URL's user and CX_CLICKHOUSE_PASSWORD"
    return ""


def address_of(url: str) -> str:
    """Where a ``clickhouse(s)://`` URL points, never with its password: it names the server
    in every message and page."""
    parts = urlsplit(url)
    port = parts.port or (9440 if parts.scheme == "clickhouses" else 9000)
    return f"{parts.scheme}://{parts.hostname or 'localhost'}:{port}/{database_of(url)}"


class NativeWarehouse:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.database = database_of(url)
        self._where = address_of(url)
        query = parse_qs(parts.query)
        if query.get("verify", ["true"])[0].lower() in ("0", "false", "no", "off"):
            raise WarehouseError(f"ClickHouse at {self._where}: verify=false is refused; give "
                                 "a private CA with CX_CLICKHOUSE_CA_FILE or ?ca_certs= instead")
        # Connect without a database: the first migration creates it. A dead or silent
        # server fails within the connect timeout instead of hanging.
        if "connect_timeout" not in query:
            extra = "connect_timeout=5"
            parts = parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra)
        try:
            self._client = Client.from_url(urlunsplit(parts._replace(path="/default")))
        except (ValueError, TypeError) as error:  # never echo the URL: it may hold a password
            raise WarehouseError(f"ClickHouse at {self._where}: bad URL option: "
                                 f"{type(error).__name__}") from None
        self._settings: dict[str, Any] | None = None
        self._lock = threading.Lock()  # a Client is one connection: one call at a time
        self.description = self._where

    def _ensure_settings(self) -> dict[str, Any]:
        if self._settings is None:
            version = self._call(lambda: self._client.execute("SELECT version()"))[0][0]
            self._settings = version_settings(version)
            self.description = f"{self._where} (ClickHouse {version})"
        return self._settings

    def _call(self, fn: Any) -> Any:
        try:
            with self._lock:
                return fn()
        except _ERRORS as error:
            text = one_line(error)
            hint = _hint(text)
            kind = WarehouseUnavailable if isinstance(error, _UNAVAILABLE) and not hint \
                else WarehouseError
            raise kind(f"ClickHouse at {self._where}: {type(error).__name__}: {text}{hint}"
                       ) from error

    def execute(self, sql: str) -> None:
        settings = self._ensure_settings()
        self._call(lambda: self._client.execute(sql, settings=settings))

    def query(self, sql: str) -> list[dict[str, Any]]:
        settings = self._ensure_settings()
        rows, columns = self._call(lambda: self._client.execute(
            sql, settings=settings, with_column_types=True))
        names = [name for name, _ in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if not rows:
            return
        settings = self._ensure_settings()
        sql = f"INSERT INTO {self.database}.{table} {column_list(columns)} VALUES"
        data = list(zip(*rows, strict=True))  # columnar: the driver's cheapest shape
        self._call(lambda: self._client.execute(sql, data, settings=settings, columnar=True))

    def close(self) -> None:
        self._client.disconnect()
