"""``cxpulse comments`` lists stored insights; classify/report keep their arguments."""

from __future__ import annotations

import time

import orjson
import pytest

from streams.comments.enrichment import Enriched
from streams.comments.labels import Insight
from streams.queries.comments import store_insights
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from tests.cli.test_cli import cxpulse, one_line_error

NOW_S = int(time.time())


@pytest.mark.integration
def test_comments_lists_newest_first_with_filters(server_url: str) -> None:
    warehouse = connect(server_url)
    migrate(warehouse)
    items = [
        Enriched("c-old", ("acme", "web", "checkout"), (NOW_S - 7200) * 1000, "en",
                 "Parcel never came", Insight("en", -0.8, "negative", "anger", ("delivery",))),
        Enriched("c-new", ("acme", "email", "unspecified"), (NOW_S - 60) * 1000, "fr-FR",
                 "Livraison rapide\nmerci", Insight("fr", 0.9, "positive", "delight",
                                                    ("delivery", "sizing"))),
        Enriched("c-other", ("nordwind", "web", "search"), (NOW_S - 30) * 1000, "de",
                 "Zu teuer", Insight("de", -0.5, "negative", "frustration", ("price",))),
    ]
    store_insights(warehouse, items, "m1")
    warehouse.close()
    env = {"CX_CLICKHOUSE_URL": server_url, "CX_COMMENT_THEMES": "sizing=size|taille"}

    listed = cxpulse("comments", "--tenant", "acme", "--json", env=env)
    assert listed.returncode == 0, listed.stderr.decode()
    rows = orjson.loads(listed.stdout)
    assert [row["event_id"] for row in rows] == ["c-new", "c-old"]
    assert rows[0]["themes"] == ["delivery", "sizing"] and rows[0]["sentiment"] == 0.9
    assert rows[0]["comment"] == "Livraison rapide\nmerci" and rows[0]["model_version"] == "m1"

    picked = cxpulse("comments", "list", "--theme", "delivery", "--sentiment", "negative",
                     "--json", env=env)
    assert [row["event_id"] for row in orjson.loads(picked.stdout)] == ["c-old"]
    recent = cxpulse("comments", "--since", "1h", "--json", env=env)
    assert [row["event_id"] for row in orjson.loads(recent.stdout)] == ["c-other", "c-new"]
    configured = cxpulse("comments", "--theme", "sizing", "--json", env=env)
    assert [row["event_id"] for row in orjson.loads(configured.stdout)] == ["c-new"]

    table = cxpulse("comments", "--limit", "2", env=env).stdout.decode().splitlines()
    assert table[0].startswith("occurred (UTC)") and len(table) == 3
    assert "nordwind" in table[1] and "Zu teuer" in table[1] and "price" in table[1]
    assert "Livraison rapide merci" in table[2] and "+0.90" in table[2]
    nothing = cxpulse("comments", "--tenant", "nobody", env=env)
    assert nothing.returncode == 0 and nothing.stdout == b"" and b"no comments" in nothing.stderr

    one_line_error(cxpulse("comments", "--theme", "weather", env=env), "unknown theme",
                   "'weather'", "delivery", "sizing")
    one_line_error(cxpulse("comments", "--since", "yesterday", env=env), "--since")
    one_line_error(cxpulse("comments", "--limit", "0", env=env), "--limit")
    stray = cxpulse("comments", "stray", env=env)  # argparse's usage, then the reason
    assert stray.returncode == 2 and b"invalid choice: 'stray'" in stray.stderr
    assert b"Traceback" not in stray.stderr
    one_line_error(cxpulse("comments", "classify", env=env), "classify needs")
