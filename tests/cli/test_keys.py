"""``cxpulse keys`` as an operator runs it: the key once on stdout, hashes never listed,
revocation seen by every reader of the table, bad input one clear line."""

from __future__ import annotations

import orjson
import pytest

from streams.core.keys import KeyRing, split_key
from streams.queries.keys import list_keys
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from tests.cli.test_cli import cxpulse, one_line_error


@pytest.mark.integration
def test_keys_create_list_revoke(server_url: str) -> None:
    env = {"CX_CLICKHOUSE_URL": server_url}  # a fresh database: the command migrates it
    created = cxpulse("keys", "create", "--tenant", "acme-shop", "--scope", "write",
                      "--name", "web widget", env=env)
    assert created.returncode == 0, created.stderr.decode()
    text = created.stdout.decode().strip()
    key_id, secret = split_key(text) or ("", "")
    assert created.stdout.decode() == text + "\n" and key_id, created.stdout
    notes = created.stderr.decode()
    assert f"created write key {key_id} for tenant acme-shop (web widget)" in notes
    assert "store it now: it cannot be shown again" in notes and secret not in notes

    made = cxpulse("keys", "create", "--scope", "admin", "--name", "ops", "--json", env=env)
    admin = orjson.loads(made.stdout)
    assert admin["tenant"] == "*" and admin["scope"] == "admin" and admin["state"] == "active"
    assert split_key(admin["key"])[0] == admin["id"]
    cxpulse("keys", "create", "--tenant", "nordwind", "--scope", "read", env=env)

    warehouse = connect(server_url)
    stored = list_keys(warehouse)
    assert KeyRing(stored).authenticate(text).tenant == "acme-shop"
    listed = cxpulse("keys", "list", "--json", env=env)
    rows = orjson.loads(listed.stdout)
    assert {(r["id"], r["tenant"], r["scope"]) for r in rows} >= {
        (key_id, "acme-shop", "write"), (admin["id"], "*", "admin")}
    assert len(rows) == 3 and [r["created_at"] for r in rows] == sorted(
        r["created_at"] for r in rows)
    full_hashes = {key.key_hash for key in stored}
    for output in (listed.stdout, cxpulse("keys", "list", env=env).stdout):
        assert not any(h.encode() in output for h in full_hashes)
        assert secret.encode() not in output
    table = cxpulse("keys", "list", "--tenant", "acme-shop", env=env).stdout.decode()
    lines = table.splitlines()
    assert lines[0].startswith("id") and len(lines) == 2
    assert key_id in lines[1] and "active" in lines[1] and "web widget" in lines[1]
    nothing = cxpulse("keys", "list", "--tenant", "globex", env=env)
    assert nothing.returncode == 0 and nothing.stdout == b"" and b"no keys" in nothing.stderr

    revoked = cxpulse("keys", "revoke", key_id, env=env)
    assert revoked.returncode == 0, revoked.stderr.decode()
    assert "within 10 s" in revoked.stderr.decode()
    assert KeyRing(list_keys(warehouse)).authenticate(text) is None
    again = cxpulse("keys", "revoke", text, env=env)  # the whole key text names it too
    assert again.returncode == 0 and b"already revoked" in again.stderr
    state = {r["id"]: r for r in orjson.loads(cxpulse("keys", "list", "--json", env=env).stdout)}
    assert state[key_id]["state"] == "revoked" and state[key_id]["revoked_at"]
    assert state[admin["id"]]["state"] == "active"
    assert "revoked 20" in cxpulse("keys", "list", env=env).stdout.decode()
    warehouse.close()

    one_line_error(cxpulse("keys", "revoke", "0123456789ab", env=env), "no key with id")


@pytest.mark.integration
def test_keys_bad_input_is_one_clear_line(server_url: str) -> None:
    env = {"CX_CLICKHOUSE_URL": server_url}
    for tenant in ("Acme", "acme shop", "-x", "a" * 65):
        one_line_error(cxpulse("keys", "create", f"--tenant={tenant}", "--scope", "write",
                               env=env), "cxpulse keys: error:", "is not valid", "a-z, 0-9")
    one_line_error(cxpulse("keys", "create", "--scope", "read", env=env), "give --tenant")
    one_line_error(cxpulse("keys", "create", "--tenant", "acme", "--scope", "admin", env=env),
                   "drop --tenant")
    one_line_error(cxpulse("keys", "list", "--tenant", "ACME", env=env), "is not valid")
    wrong = cxpulse("keys", "create", "--tenant", "acme", "--scope", "owner", env=env)
    assert wrong.returncode == 2 and b"invalid choice: 'owner'" in wrong.stderr
    assert b"Traceback" not in wrong.stderr
    warehouse = connect(server_url)
    migrate(warehouse)  # refused before touching the warehouse: nothing stored by any of them
    assert list_keys(warehouse) == []
