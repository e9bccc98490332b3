"""The worker's read API through a real ``cxpulse worker``: every endpoint needs a key of
its tenant, answers no data otherwise, and never answers 500 whatever the parameters."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.alerts import Change
from streams.core.incidents import incidents
from streams.core.keys import new_key, split_key
from streams.core.stats import ALL
from streams.queries.alerting import record
from streams.queries.comments import store_insights
from streams.queries.incidents import record as record_incidents
from streams.queries.keys import list_keys, revoke_key
from streams.tools.generate import TrafficSpec, generate
from streams.tools.load import load
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from tests.collect.test_app import raw_request
from tests.queries.test_comments import enriched
from tests.support.services import (
    PROMETHEUS_FILE,
    fetch,
    get_json,
    render_prometheus,
    stored_key,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

ENDPOINTS = ("/v1/scores", "/v1/alerts", "/v1/incidents", "/v1/cases", "/v1/comments")
TENANTS = ("acme-shop", "nordwind")


@pytest.fixture
def filled(server_url: str) -> str:
    """Half an hour of traffic for two tenants: scores, cases, comments and an alert each."""
    warehouse = connect(server_url)
    migrate(warehouse)
    now = time.time()
    events = list(generate(TrafficSpec(seed=7, start=now - 1800, duration=1800, rate=2)))
    assert load(warehouse, events, deadline_ms=60_000) > 1000  # 1-minute SLA: cases overdue
    commented = [e for e in events if e["type"] == "feedback" and e.get("comment")]
    store_insights(warehouse, [enriched(e) for e in commented], "test")
    changes = [Change(tenant, "web", ALL, "nps", "firing", int(now) // 60 * 60, "1h", 10.0,
                      40.0, 100, "nps fell", "critical", 1e-9, "7d", "1h,6h")
               for tenant in TENANTS]
    record(warehouse, changes)
    record_incidents(warehouse, incidents(changes))
    return server_url


def get(port: int, path: str, headers: dict[str, str] | None = None, source: str | None = None,
        **params: str) -> tuple[int, dict[str, str], bytes]:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    return fetch(f"http://127.0.0.1:{port}{path}{query}", headers, source=source)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def refused(answer: tuple[int, dict[str, str], bytes], status: int, reason: str) -> dict:
    """The answer is a JSON refusal with this status and reason, and nothing else."""
    code, headers, body = answer
    said = json.loads(body)
    assert (code, said["error"]) == (status, reason), (code, body)
    assert set(said) == {"error", "message"}, said
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer"), headers
    return said


def rows(answer: tuple[int, dict[str, str], bytes]) -> list[dict]:
    code, _, body = answer
    assert code == 200, body
    return json.loads(body)


IDENTITY = ("tenant", "channel", "touchpoint", "window", "feedback_id", "event_id", "metric",
            "state", "at")


def ids(found: list[dict]) -> list[str]:
    """What each row is about, without what changes with the clock (overdue seconds)."""
    return sorted(json.dumps({k: row[k] for k in IDENTITY if k in row}) for row in found)


def test_every_read_needs_a_key_of_its_tenant(filled: str, kafka: str, start_worker,
                                              tmp_path: Path) -> None:
    warehouse = connect(filled)
    acme, nordwind = (stored_key(warehouse, tenant) for tenant in TENANTS)
    admin = stored_key(warehouse, "*", "admin")
    write = stored_key(warehouse, "acme-shop", "write")
    revoked = stored_key(warehouse, "acme-shop")
    revoke_key(warehouse, revoked.split("_")[1], int(time.time()))
    unknown = new_key("acme-shop", "read", "never stored", 0)[1]
    worker = start_worker(worker_env(kafka, filled, tmp_path))
    worker.wait_ready()
    port = worker.port
    failures = 0  # wrong keys presented from this address: the limiter counts them

    for path in ENDPOINTS:
        # no data without a live key of the right scope (the revoked key from another
        # address, so this address's failures stay below the limiter's block)
        refused(get(port, path), 401, "unauthorized")
        refused(get(port, path, bearer(unknown)), 401, "unauthorized")
        failures += 1
        refused(get(port, path, bearer(revoked), source="127.0.0.2"), 401, "unauthorized")
        refused(get(port, path, bearer(write)), 403, "forbidden")
        # a read key reads its own tenant, with or without asking for it, and nothing else
        for key, tenant in ((acme, "acme-shop"), (nordwind, "nordwind")):
            own = rows(get(port, path, bearer(key)))
            assert own and {row["tenant"] for row in own} == {tenant}, (path, own[:2])
            assert ids(rows(get(port, path, bearer(key), tenant=tenant))) == ids(own)
            other = "nordwind" if tenant == "acme-shop" else "acme-shop"
            existing = refused(get(port, path, bearer(key), tenant=other), 403, "forbidden")
            missing = refused(get(port, path, bearer(key), tenant="no-such-tenant"), 403,
                              "forbidden")
            assert existing == missing  # no hint whether a tenant exists
        # an admin key reads every tenant, or the one asked for
        every = rows(get(port, path, bearer(admin)))
        assert {row["tenant"] for row in every} == set(TENANTS), path
        assert {row["tenant"] for row in rows(get(port, path, bearer(admin),
                                                  tenant="nordwind"))} == {"nordwind"}
    refused(get(port, "/v1/scores", {"Authorization": "Bearer not-a-key"}), 401, "unauthorized")
    failures += 1

    # the other ways to present a key
    basic = {"Authorization": "Basic " + base64.b64encode(f"{acme}:".encode()).decode()}
    for headers in ({"X-API-Key": acme}, basic):
        assert {row["tenant"] for row in rows(get(port, "/v1/cases", headers))} == {"acme-shop"}
    # bad parameters are a 400 naming them, for a valid key only
    said = refused(get(port, "/v1/scores", bearer(acme), window="soon"), 400, "bad_parameter")
    assert "soon" in said["message"]
    refused(get(port, "/v1/scores", bearer(acme), tennant="nordwind"), 400, "unknown_parameter")

    # a revoked key stops within 10 s (CX_KEYS_REFRESH_SECONDS 5 s, plus a query)
    assert rows(get(port, "/v1/alerts", bearer(acme)))
    revoke_key(warehouse, acme.split("_")[1], int(time.time()))
    assert next(k for k in list_keys(warehouse) if k.id == acme.split("_")[1]).revoked_at
    revoked_at = time.monotonic()
    while get(port, "/v1/alerts", bearer(acme))[0] == 200:
        assert time.monotonic() - revoked_at < 10, "a revoked key still reads after 10 s"
        time.sleep(0.2)
    failures += 1

    # repeated wrong keys from one address block it for a while, even with a good key
    while failures < 10:
        refused(get(port, "/v1/scores", bearer(unknown)), 401, "unauthorized")
        failures += 1
    blocked = refused(get(port, "/v1/scores", bearer(admin)), 429, "auth_blocked")
    assert "wait" in blocked["message"]
    assert int(get(port, "/v1/scores", bearer(admin))[1]["Retry-After"]) > 1

    log = worker.log.read_text()
    assert "Traceback" not in log
    for key in (acme, nordwind, admin, write, revoked, unknown):
        assert key not in log and split_key(key)[1] not in log


def shipped_authorization() -> dict:
    """The scrape ``authorization`` block deploy/prometheus/prometheus.yml shows (commented)."""
    lines = PROMETHEUS_FILE.read_text().splitlines()
    start = lines.index("    # authorization:")
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("    #   "):
            break
        block.append(line)
    return yaml.safe_load("\n".join(line.replace("# ", "", 1) for line in block))[
        "authorization"]


def test_metrics_token_and_no_500_for_any_parameters(filled: str, kafka: str, start_worker,
                                                     start_prometheus, tmp_path: Path) -> None:
    warehouse = connect(filled)
    admin = stored_key(warehouse, "*", "admin")
    acme = stored_key(warehouse, "acme-shop")
    token = "metrics-token-for-the-test"
    worker = start_worker(worker_env(kafka, filled, tmp_path) | {"CX_METRICS_TOKEN": token})
    port = worker.port
    wait_until(lambda: get(port, "/metrics", bearer(token))[0] == 200, 60, "worker metrics")
    refused(get(port, "/metrics"), 401, "unauthorized")
    assert rows(get(port, "/healthz")) == {"status": "ok"}  # probes need no token
    refused(get(port, "/metrics", bearer(token + "x")), 401, "unauthorized")
    _, headers, body = get(port, "/metrics", bearer(token))
    assert b"cx_sink_errors_total" in body and b"cx_api_keys" in body
    assert headers["Content-Type"].startswith("text/plain")
    # Prometheus scrapes it with the shipped authorization block and the token in a file
    authorization = shipped_authorization()
    assert authorization["type"] == "Bearer" and "credentials_file" in authorization
    token_file = tmp_path / "cx-metrics-token"
    token_file.write_text(token + "\n")
    config = render_prometheus([f"127.0.0.1:{port}"])
    config["scrape_configs"][0]["authorization"] = authorization | {
        "credentials_file": str(token_file)}
    prometheus = start_prometheus(config)
    wait_until(lambda: [r["value"][1] for r in get_json(
        f"{prometheus.url}/api/v1/query?query=up")["data"]["result"]] == ["1"], 30,
        "Prometheus to scrape the worker with the token")
    # Faust's own pages are off: they would show the cluster to anyone
    for path in ("/router/", "/table/", "/graph/", "/stats/"):
        refused(get(port, path), 404, "not_found")
    refused(post(port, "/v1/scores", admin), 405, "method_not_allowed")
    # huge headers: refused by the HTTP parser before any handler, with no traceback
    huge = raw_request(port, b"GET /v1/scores HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"x" * 20_000
                       + b"\r\n\r\n", [])
    assert huge.split(b" ")[1] == b"400" and b"Traceback" not in huge
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(100))
    assert raw_request(port, b"GET /v1/scores HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n",
                       []).split(b" ")[1] == b"400"

    # bytes no client library would send: invalid UTF-8, NUL, odd separators
    for query in ("window=%FF", "%00=1", "tenant=%C0%AF", "window=1h&&", "=", "window",
                  "at=2026-11-22T10:00:00%2B01:00", "since=%E2%80%AE24h"):
        code, _, body = fetch(f"http://127.0.0.1:{port}/v1/scores?{query}", bearer(admin))
        assert code in (200, 400), (query, code, body)

    names = {"/v1/scores": ("window", "at", "tenant", "channel", "touchpoint", "detail"),
             "/v1/alerts": ("since", "firing", "tenant"),
             "/v1/incidents": ("since", "open", "tenant"),
             "/v1/cases": ("overdue", "tenant"),
             "/v1/comments": ("tenant", "channel", "theme", "sentiment", "since", "limit")}
    samples = st.one_of(st.text(max_size=30), st.sampled_from(
        ["1h", "7d", "0", "-1h", "inf", "nan", "1e308d", "now", "2026-11-22T10:00:00Z",
         "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00Z", "1", "true", "acme-shop",
         "nordwind", "*", "web", "delivery", "negative", "1000", "1001", "'; DROP TABLE x --",
         "\x00", "é" * 300]))

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(ENDPOINTS), key=st.sampled_from([admin, acme]),
           params=st.lists(st.tuples(st.one_of(st.sampled_from(
               ("window", "at", "tenant", "channel", "touchpoint", "detail", "since", "firing",
                "overdue", "theme", "sentiment", "limit", "open")), st.text(max_size=8)),
               samples),
               max_size=4))
    def probe(path: str, key: str, params: list[tuple[str, str]]) -> None:
        query = urllib.parse.urlencode(params)
        code, _, body = fetch(f"http://127.0.0.1:{port}{path}?{query}", bearer(key))
        assert code in (200, 400, 403), (path, params, code, body)
        said = json.loads(body)
        if code != 200:
            assert set(said) == {"error", "message"}, said
        elif key == acme:
            assert {row["tenant"] for row in said} <= {"acme-shop"}
        if code == 200:
            assert all(name in names[path] for name, _ in params)

    probe()
    assert "Traceback" not in worker.log.read_text()
    assert token not in worker.log.read_text()


def post(port: int, path: str, key: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"{}",
                                     method="POST", headers=bearer(key))
    try:
        with urllib.request.urlopen(request, timeout=10) as page:
            return page.status, dict(page.headers), page.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_auth_off_serves_every_tenant_and_says_so_loudly(filled: str, kafka: str,
                                                          start_worker, tmp_path: Path) -> None:
    worker = start_worker(worker_env(kafka, filled, tmp_path) | {"CX_API_AUTH": "off"})
    worker.wait_ready()
    for path in ENDPOINTS:
        assert {row["tenant"] for row in rows(get(worker.port, path))} == set(TENANTS), path
        assert {row["tenant"] for row in rows(get(worker.port, path, tenant="nordwind"))} \
            == {"nordwind"}
    assert "CX_API_AUTH=off: the /v1 read API serves EVERY tenant" in worker.log.read_text()
