"""ClickHouse over TLS with a password user (Debian's 18.16 with a secure native port):
what connects, and what fails in one line, fast, without the password in it."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import pytest

from streams.config import ConfigError, Secret, Settings
from streams.warehouse import WarehouseError, connect, with_credentials
from streams.warehouse.local import ClickHouseServer
from tests.conftest import CLICKHOUSE_PASSWORD, CLICKHOUSE_USER
from tests.support.tls import Certificates

pytestmark = pytest.mark.integration


def secure(server: ClickHouseServer, password: str = CLICKHOUSE_PASSWORD,
           ca: Path | None = None) -> str:
    return with_credentials(server.secure_url("tls_native", CLICKHOUSE_USER), Secret(password),
                            ca)


def refusal(url: str) -> str:
    started = time.monotonic()
    with pytest.raises(WarehouseError) as caught:
        connect(url).query("SELECT 1 AS ok")
    assert time.monotonic() - started < 6
    message = str(caught.value)
    assert CLICKHOUSE_PASSWORD not in message and "\n" not in message
    return message


def test_tls_with_a_custom_ca_and_a_password_from_a_file(
        tls_clickhouse: ClickHouseServer, certificates: Certificates, tmp_path: Path) -> None:
    (tmp_path / "password").write_text(CLICKHOUSE_PASSWORD + "\n")
    settings = Settings.from_env({
        "CX_CLICKHOUSE_URL": tls_clickhouse.secure_url("tls_native", CLICKHOUSE_USER),
        "CX_CLICKHOUSE_PASSWORD_FILE": str(tmp_path / "password"),
        "CX_CLICKHOUSE_CA_FILE": str(certificates.ca)})
    assert CLICKHOUSE_PASSWORD not in repr(settings)
    warehouse = connect(settings.warehouse_url)
    assert warehouse.query("SELECT 1 AS ok") == [{"ok": 1}]
    assert warehouse.description.startswith(f"clickhouses://localhost:{tls_clickhouse.secure_port}")
    assert CLICKHOUSE_PASSWORD not in warehouse.description
    warehouse.close()


def test_a_wrong_password_is_one_line(tls_clickhouse: ClickHouseServer,
                                      certificates: Certificates) -> None:
    message = refusal(secure(tls_clickhouse, "not-the-password", certificates.ca))
    assert "Wrong password" in message and "CX_CLICKHOUSE_PASSWORD" in message
    assert "not-the-password" not in message


def test_an_untrusted_certificate_is_refused(tls_clickhouse: ClickHouseServer,
                                             certificates: Certificates) -> None:
    for ca in (certificates.other_ca, None):  # another CA, the system's CAs
        message = refusal(secure(tls_clickhouse, ca=ca))
        assert "CERTIFICATE_VERIFY_FAILED" in message and "CX_CLICKHOUSE_CA_FILE" in message


def test_plaintext_and_tls_ports_refuse_the_other_protocol(tls_clickhouse: ClickHouseServer,
                                                          certificates: Certificates) -> None:
    plain_to_tls = secure(tls_clickhouse, ca=None).replace("clickhouses://", "clickhouse://", 1)
    assert "ClickHouse at clickhouse://" in refusal(plain_to_tls)
    tls_to_plain = f"clickhouses://default@localhost:{tls_clickhouse.port}/x"
    assert "does not speak TLS" in refusal(with_credentials(tls_to_plain, None, certificates.ca))


def test_verification_cannot_be_turned_off(tls_clickhouse: ClickHouseServer) -> None:
    with pytest.raises(WarehouseError, match="verify=false is refused"):
        connect(secure(tls_clickhouse) + "?verify=false")


def test_the_password_goes_in_once(certificates: Certificates) -> None:
    url = "clickhouses://cx@db.example:9440/cx"
    assert with_credentials(url, Secret("p@ss/w:rd"), certificates.ca) == (
        "clickhouses://cx:p%40ss%2Fw%3Ard@db.example:9440/cx?ca_certs="
        + quote(str(certificates.ca), safe=""))
    with pytest.raises(ConfigError, match="holds a password and CX_CLICKHOUSE_PASSWORD"):
        Settings(clickhouse_url="clickhouse://cx:a@h/cx", clickhouse_password=Secret("b"))
    with pytest.raises(ConfigError, match="CX_CLICKHOUSE_CA_FILE needs a clickhouses://"):
        Settings(clickhouse_url="clickhouse://cx@h/cx", clickhouse_ca_file=certificates.ca)
