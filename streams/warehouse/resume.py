"""What a schema statement still has to do, given what the database holds now.

A migrator killed after the server ran a statement but before it recorded it runs
that statement again. ClickHouse 18.16 has no ``ADD COLUMN IF NOT EXISTS`` and runs
the pairs of a ``RENAME TABLE`` one by one, so instead of running it blindly the
migrator asks ``remaining``: the statement itself, the part of it not yet done (the
ALTER operations whose column is not there yet, the RENAME pairs not yet moved), or
None when its effect is already there. The schema files stay plain DDL.

A copy marked ``WHERE /* chunk per EXPR */ 1`` (plain ``WHERE 1`` to anything else)
is run once per value of EXPR over its source table, each chunk recorded, so a big
copy is bounded in memory and resumes at its chunk.
"""

from __future__ import annotations

import re

from streams.warehouse import Warehouse
from streams.warehouse.cluster import ClusterError, read_renames, split_top_level

_FLAGS = re.IGNORECASE | re.DOTALL
_ON_CLUSTER = r"(?:\s+ON\s+CLUSTER\s+(?P<cluster>'[^']*'|\w+))?"
_CREATE = re.compile(r"CREATE\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?!IF\s)(?P<db>\w+)\."
                     r"(?P<table>\w+)", _FLAGS)
_DROP = re.compile(r"DROP\s+(?:TABLE|VIEW)\s+(?!IF\s)(?P<db>\w+)\.(?P<table>\w+)", _FLAGS)
_RENAME = re.compile(r"RENAME\s+TABLE\s+(?P<pairs>.*?)" + _ON_CLUSTER + r"\s*$", _FLAGS)
_ALTER = re.compile(r"ALTER\s+TABLE\s+(?P<db>\w+)\.(?P<table>\w+)" + _ON_CLUSTER + r"\s+", _FLAGS)
_ADD = re.compile(r"ADD\s+COLUMN\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(?P<name>\w+)`?", _FLAGS)
_DROP_COLUMN = re.compile(r"DROP\s+COLUMN\s+(?:IF\s+EXISTS\s+)?`?(?P<name>\w+)`?", _FLAGS)
_MODIFY = re.compile(r"MODIFY\s+COLUMN\s+(?:IF\s+EXISTS\s+)?`?(?P<name>\w+)`?\s+(?P<type>.+?)"
                     r"(?:\s+(?:DEFAULT|MATERIALIZED|ALIAS|CODEC|COMMENT|TTL)\b.*)?$", _FLAGS)
_RENAME_COLUMN = re.compile(r"RENAME\s+COLUMN\s+`?(?P<old>\w+)`?\s+TO\s+`?(?P<new>\w+)`?", _FLAGS)
CHUNK = re.compile(r"/\*\s*chunk\s+per\s+(?P<expr>.+?)\s*\*/\s*1\b", _FLAGS)
INSERT = re.compile(r"INSERT\s+INTO\s+(?P<target>\w+\.\w+)", _FLAGS)
SOURCE = re.compile(r"\bFROM\s+(?P<source>\w+\.\w+)", _FLAGS)


def exists(warehouse: Warehouse, name: str) -> bool:
    db, table = name.split(".")
    return bool(warehouse.query(f"SELECT name FROM system.tables WHERE database = '{db}' "
                                f"AND name = '{table}'"))


def columns(warehouse: Warehouse, name: str) -> dict[str, str]:
    """Column name -> type of table ``db.table`` (empty when it does not exist)."""
    db, table = name.split(".")
    return {row["name"]: row["type"] for row in warehouse.query(
        f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = '{table}'")}


def remaining(warehouse: Warehouse, statement: str) -> str | None:
    """``statement``, or what of it is not done yet, or None when its effect exists."""
    text = statement.strip()
    for pattern, rest in ((_CREATE, _create), (_DROP, _drop), (_RENAME, _rename),
                          (_ALTER, _alter)):
        head = pattern.match(text)
        if head:
            return rest(warehouse, head, text)
    return text


def _create(warehouse: Warehouse, head: re.Match[str], text: str) -> str | None:
    return None if exists(warehouse, f"{head['db']}.{head['table']}") else text


def _drop(warehouse: Warehouse, head: re.Match[str], text: str) -> str | None:
    return text if exists(warehouse, f"{head['db']}.{head['table']}") else None


def rename_pairs(statement: str) -> list[tuple[str, str]]:
    """(old, new) names of a ``RENAME TABLE`` statement (``ON CLUSTER`` or not); empty for any
    other statement, or one whose pairs are not ``db.a TO db.b`` (the server judges it)."""
    head = _RENAME.match(statement.strip())
    if not head:
        return []
    try:
        return read_renames(head["pairs"])
    except ClusterError:
        return []


def _rename(warehouse: Warehouse, head: re.Match[str], text: str) -> str | None:
    pairs = rename_pairs(text)
    there = {name for pair in pairs for name in pair if exists(warehouse, name)}
    for start in range(len(pairs) + 1):  # the first suffix of pairs that can run from here
        names, runnable = set(there), True
        for old, new in pairs[start:]:
            if old not in names or new in names:
                runnable = False
                break
            names = (names - {old}) | {new}
        if runnable:
            if start == 0:
                return text
            if start == len(pairs):
                return None
            cluster = f" ON CLUSTER {head['cluster']}" if head["cluster"] else ""
            return ("RENAME TABLE " + ", ".join(f"{old} TO {new}" for old, new in pairs[start:])
                    + cluster)
    return text  # no consistent state: let the server say what is wrong


def _alter(warehouse: Warehouse, head: re.Match[str], text: str) -> str | None:
    have = columns(warehouse, f"{head['db']}.{head['table']}")
    if not have:
        return text
    todo = [operation for operation in split_top_level(text[head.end():])
            if not _done(operation, have)]
    if not todo:
        return None
    return text[:head.end()] + ", ".join(todo)


def _done(operation: str, have: dict[str, str]) -> bool:
    if found := _ADD.match(operation):
        return found["name"] in have
    if found := _DROP_COLUMN.match(operation):
        return found["name"] not in have
    if found := _MODIFY.match(operation):
        return "".join(have.get(found["name"], "?").split()) == "".join(found["type"].split())
    if found := _RENAME_COLUMN.match(operation):
        return found["old"] not in have and found["new"] in have
    return False


def chunked(statement: str) -> tuple[str, str] | None:
    """(source table, chunk expression) of a copy marked ``/* chunk per EXPR */ 1``."""
    marker, source = CHUNK.search(statement), SOURCE.search(statement)
    if not marker or not source or not INSERT.match(statement.strip()):
        return None
    return source["source"], marker["expr"]


def chunk_values(warehouse: Warehouse, source: str, expression: str) -> list[int]:
    """The distinct values of ``expression`` over ``source``, in order (integers only: a
    month or a day number, which the chunk's WHERE compares literally)."""
    values = [row["chunk"] for row in warehouse.query(
        f"SELECT DISTINCT {expression} AS chunk FROM {source} ORDER BY chunk")]
    if any(not isinstance(value, int) for value in values):
        raise ValueError(f"/* chunk per {expression} */ over {source}: the expression must "
                         "give integers (e.g. toYYYYMM(t), toYYYYMMDD(t))")
    return values


def chunks(warehouse: Warehouse, source: str, expression: str) -> list[tuple[str, str]]:
    """(chunk as recorded, the condition limiting a copy to it) per value of ``expression``
    over ``source``: what a chunked copy, and its catch-up, run one by one."""
    return [(str(value), f"{expression} = {value}")
            for value in chunk_values(warehouse, source, expression)]


def with_condition(statement: str, condition: str) -> str:
    """The marked copy limited to ``condition`` instead of its chunk marker."""
    return CHUNK.sub(lambda _: f"({condition})", statement, count=1)


def redirected(statement: str, target: str, source: str) -> str:
    """A copy ``INSERT INTO x ... FROM y`` rewritten to ``INSERT INTO target ... FROM source``."""
    found = INSERT.match(statement.strip())
    assert found is not None
    text = statement.strip()
    text = f"{text[:found.start('target')]}{target}{text[found.end('target'):]}"
    return SOURCE.sub(f"FROM {source}", text, count=1)


def max_block(warehouse: Warehouse, name: str) -> int:
    """The highest block number in ``name``'s active parts: rows inserted later land in parts
    whose blocks are higher (merges keep the range), so this marks where a copy began."""
    db, table = name.split(".")
    rows = warehouse.query(
        "SELECT max(max_block_number) AS block FROM system.parts "
        f"WHERE database = '{db}' AND table = '{table}' AND active")
    return int(rows[0]["block"] or 0) if rows else 0


def parts_since(warehouse: Warehouse, name: str, block: int) -> list[str]:
    """Active parts of ``name`` holding blocks written after ``block``."""
    db, table = name.split(".")
    return [row["name"] for row in warehouse.query(
        "SELECT name FROM system.parts "
        f"WHERE database = '{db}' AND table = '{table}' AND active "
        f"AND max_block_number > {block} ORDER BY name")]
