"""Every table the schema files create has a retention rule or a reason to keep its rows."""

from __future__ import annotations

import re

import pytest

from streams.core.retention import KEEP, MONTHS, RULES, SETTABLE, days_per_table, parse_overrides
from streams.warehouse.migrate import bookkeeping, migration_files

_CREATED = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?\{database\}\.(\w+)")
_REBUILD = re.compile(r"_v\d+$")
"""006 and 010 rebuild a table under ``<name>_vN`` and swap the names: it is still ``name``."""


def ddl_tables() -> set[str]:
    found = {_REBUILD.sub("", name) for _, sql in migration_files()
             for name in _CREATED.findall(sql)}
    return found | {name.split(".")[-1] for statement in bookkeeping("{database}")
                    for name in _CREATED.findall(statement.replace("\n", " "))}


def test_every_table_in_the_ddl_has_a_rule_or_a_reason_to_keep_it() -> None:
    tables = ddl_tables()
    assert {"followup_cases", "deadletters", "incidents", "schema_migrations"} <= tables
    missing = sorted(tables - set(RULES))
    assert missing == [], f"add a retention rule (core.retention.RULES) for {missing}"
    assert sorted(set(RULES) - tables) == []  # no rule for a table that no longer exists
    for table, rule in RULES.items():
        assert rule.why, f"{table}: say why it keeps its rows this long"
        assert (rule.days is None) == (rule.how in (MONTHS, KEEP)), table


def test_overrides_set_days_or_off_and_refuse_other_tables() -> None:
    assert parse_overrides(" deadletters=14, alerts=off ,") == {"deadletters": 14,
                                                                 "alerts": None}
    days = days_per_table(parse_overrides("deadletters=14,alerts=off"), 400)
    assert days["deadletters"] == 14 and days["alerts"] is None
    assert days["incidents"] == RULES["incidents"].days
    assert days["interactions"] == days["score_minutes"] == 400
    assert days["api_keys"] is None and days["score_days"] is None
    assert set(SETTABLE) == {"deadletters", "notifications", "followup_cases", "alerts",
                             "incidents"}
    for raw, said in (("interactions=3", "CX_RETENTION_DAYS"), ("erasures=3", "erased"),
                      ("nope=1", "no such table"), ("alerts=0", ">= 1"),
                      ("alerts=1y", "whole days")):
        with pytest.raises(ValueError, match=said):
            parse_overrides(raw)
