"""Single-node DDL -> ClickHouse cluster DDL, so one set of schema files serves both.

Each MergeTree-family table ``db.t`` becomes a replicated table ``db.t_local`` on
every node (``Replicated<Engine>`` with the ZooKeeper path
``/clickhouse/tables/{shard}/<db>/t_local`` and the ``{replica}`` macro) plus a
``Distributed`` table under the public name ``db.t``: every query and insert
keeps working unchanged and reads all shards. Rows are sharded by a hash of the
sorting key, so the copies a Replacing/Summing/Aggregating engine collapses
always meet on one shard. DDL runs ``ON CLUSTER``; an ``INSERT ... SELECT``
data migration runs once, through the Distributed tables (run ON CLUSTER it
would copy the data once per node). A statement this cannot translate faithfully
raises ``ClusterError`` naming it, rather than guessing.

Pure text over statements whose names are qualified (``{database}.t`` in the
schema files); the translator remembers the tables it has seen, so feed it every
statement of every file in order (``migrate.plan`` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LOCAL_SUFFIX = "_local"
MERGE_TREE_ENGINES = frozenset({
    "MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree",
    "CollapsingMergeTree", "VersionedCollapsingMergeTree", "GraphiteMergeTree"})
CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME = r"(?P<db>\w+)\.(?P<table>\w+)"
_IF_NOT_EXISTS = r"(?P<ine>IF\s+NOT\s+EXISTS\s+)?"
_FLAGS = re.IGNORECASE | re.DOTALL
# ALTER operations after which the Distributed table must take the new columns too.
_COLUMN_OPERATION = re.compile(r"(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.IGNORECASE)
# Clauses that may follow ORDER BY in a MergeTree definition.
_AFTER_ORDER_BY = re.compile(r"\s+(PARTITION\s+BY|PRIMARY\s+KEY|SAMPLE\s+BY|TTL|SETTINGS)\b",
                             re.IGNORECASE)


class ClusterError(ValueError):
    """A statement that has no faithful cluster form; the message names it."""


def check_cluster_name(name: str) -> str:
    if not CLUSTER_NAME.fullmatch(name):
        raise ClusterError(f"cluster name {name!r}: use letters, digits and _ as in "
                           "<remote_servers> (CX_CLICKHOUSE_CLUSTER)")
    return name


def balanced(text: str, start: int) -> int:
    """Index just past the parenthesis group opening at ``text[start]`` (quotes respected)."""
    depth, quote, index = 0, "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'`\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ClusterError(f"unbalanced parentheses in: {text[start:start + 80]}...")


def split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses and quotes."""
    parts, begin, index = [], 0, 0
    while index < len(text):
        if text[index] in "('`\"":
            index = balanced(text, index) if text[index] == "(" else _past_quote(text, index)
            continue
        if text[index] == ",":
            parts.append(text[begin:index].strip())
            begin = index + 1
        index += 1
    parts.append(text[begin:].strip())
    return [part for part in parts if part]


def read_renames(pairs: str) -> list[tuple[str, str]]:
    """(old, new) of each ``db.a TO db.b`` in the pairs of a ``RENAME TABLE``; the one reader
    of them (the translator, and ``resume`` when it reruns or follows a swap)."""
    found = []
    for part in split_top_level(pairs):
        pair = re.fullmatch(r"(\w+\.\w+)\s+TO\s+(\w+\.\w+)", part, re.IGNORECASE)
        if not pair:
            raise ClusterError(f"RENAME TABLE: cannot read {part!r} (use db.a TO db.b)")
        found.append((pair[1], pair[2]))
    return found


def _past_quote(text: str, start: int) -> int:
    end = text.find(text[start], start + 1)
    while end > 0 and text[end - 1] == "\\":
        end = text.find(text[start], end + 1)
    if end < 0:
        raise ClusterError(f"unterminated quote in: {text[start:start + 80]}...")
    return end + 1


def sharding_key(order_by: str) -> str:
    """``cityHash64`` of the sorting key: rows the engine collapses share a shard."""
    expression = order_by.strip()
    if expression.startswith("(") and balanced(expression, 0) == len(expression):
        expression = expression[1:-1].strip()
    if expression in ("", "tuple()"):
        return "rand()"
    return f"cityHash64({expression})"


def order_by_of(rest: str, name: str) -> str:
    """The ORDER BY expression of a MergeTree definition's tail."""
    found = re.search(r"\bORDER\s+BY\s+", rest, re.IGNORECASE)
    if not found:
        raise ClusterError(f"CREATE TABLE {name}: the cluster form needs ORDER BY "
                           "(not the old MergeTree(date, key, granularity) syntax)")
    tail = rest[found.end():]
    if tail.startswith("("):
        return tail[:balanced(tail, 0)]
    end = _AFTER_ORDER_BY.search(tail)
    return (tail[:end.start()] if end else tail).strip()


@dataclass
class ClusterDDL:
    """Translates the statements of the schema files, in order, for ``cluster``."""

    cluster: str
    sharded: dict[str, str] = field(default_factory=dict)
    """Public name (``db.t``) of each distributed table -> its sharding key."""

    def __post_init__(self) -> None:
        check_cluster_name(self.cluster)

    def translate(self, statement: str) -> list[str]:
        """The cluster statements that do what ``statement`` does on one node."""
        text = statement.strip()
        for pattern, handler in (
                (r"CREATE\s+DATABASE\s+" + _IF_NOT_EXISTS + r"(?P<db>\w+)", self._database),
                (r"CREATE\s+TABLE\s+" + _IF_NOT_EXISTS + _NAME + r"\s*", self._table),
                (r"CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+" + _IF_NOT_EXISTS + _NAME, self._view),
                (r"CREATE\s+MATERIALIZED\s+VIEW\s+" + _IF_NOT_EXISTS + _NAME + r"\s+",
                 self._materialized_view),
                (r"INSERT\s+INTO\s+", self._insert),
                (r"ALTER\s+TABLE\s+" + _NAME + r"\s+", self._alter),
                (r"RENAME\s+TABLE\s+", self._rename),
                (r"DROP\s+(TABLE|VIEW)\s+(?P<ie>IF\s+EXISTS\s+)?" + _NAME + r"\s*$", self._drop)):
            head = re.match(pattern, text, _FLAGS)
            if head:
                return handler(head, text)
        raise ClusterError(f"no cluster form for this statement (CX_CLICKHOUSE_CLUSTER): "
                           f"{_first_line(text)}")

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER {self.cluster}"

    def _distributed(self, db: str, table: str, key: str, if_not_exists: str) -> str:
        local = table + LOCAL_SUFFIX
        return (f"CREATE TABLE {if_not_exists}{db}.{table} {self.on_cluster} AS {db}.{local}\n"
                f"ENGINE = Distributed('{self.cluster}', '{db}', '{local}', {key})")

    def _database(self, head: re.Match[str], text: str) -> list[str]:
        return [f"{text[:head.end()]} {self.on_cluster}{text[head.end():]}"]

    def _table(self, head: re.Match[str], text: str) -> list[str]:
        db, table, ine = head["db"], head["table"], head["ine"] or ""
        name = f"{db}.{table}"
        if not text[head.end():].startswith("("):
            raise ClusterError(f"CREATE TABLE {name}: give the column list (the cluster form "
                               "does not translate CREATE TABLE ... AS)")
        columns_end = balanced(text, head.end())
        engine = re.compile(r"\s*ENGINE\s*=\s*(?P<engine>\w+)\s*", re.IGNORECASE).match(
            text, columns_end)
        if not engine or engine["engine"] not in MERGE_TREE_ENGINES:
            found = engine["engine"] if engine else "none"
            raise ClusterError(f"CREATE TABLE {name}: engine {found} has no replicated form; "
                               f"cluster mode takes the MergeTree family")
        arguments, rest = "", text[engine.end():]
        if rest.startswith("("):
            end = balanced(rest, 0)
            arguments, rest = rest[1:end - 1].strip(), rest[end:]
        key = sharding_key(order_by_of(rest, name))
        local = table + LOCAL_SUFFIX
        replicated = ", ".join(filter(None, [
            f"'/clickhouse/tables/{{shard}}/{db}/{local}'", "'{replica}'", arguments]))
        self.sharded[name] = key
        return [
            f"CREATE TABLE {ine}{db}.{local} {self.on_cluster}\n{text[head.end():columns_end]}\n"
            f"ENGINE = Replicated{engine['engine']}({replicated}){rest}",
            self._distributed(db, table, key, ine)]

    def _view(self, head: re.Match[str], text: str) -> list[str]:
        # A plain view reads the public (Distributed) tables: the same on every node.
        return [f"{text[:head.end()]} {self.on_cluster}{text[head.end():]}"]

    def _materialized_view(self, head: re.Match[str], text: str) -> list[str]:
        name = f"{head['db']}.{head['table']}"
        target = re.compile(r"TO\s+(?P<target>\w+\.\w+)\s*", re.IGNORECASE).match(text, head.end())
        if not target or target["target"] not in self.sharded:
            raise ClusterError(
                f"CREATE MATERIALIZED VIEW {name}: cluster mode needs TO <db.table>, a "
                "MergeTree table the schema files create (an inner table is not replicated)")
        # Inserts reach each shard's local tables: the view must watch and fill those.
        return [f"{text[:head.end()]}{self.on_cluster} TO {target['target']}{LOCAL_SUFFIX} "
                + self._to_local(text[target.end():])]

    def _to_local(self, text: str) -> str:
        for name in sorted(self.sharded, key=len, reverse=True):
            text = re.sub(rf"\b{re.escape(name)}\b", name + LOCAL_SUFFIX, text)
        return text

    def _insert(self, head: re.Match[str], text: str) -> list[str]:
        # Once, through the Distributed tables: rows go to the shards by their key.
        return [text]

    def _alter(self, head: re.Match[str], text: str) -> list[str]:
        name = f"{head['db']}.{head['table']}"
        if name not in self.sharded:
            raise ClusterError(f"ALTER TABLE {name}: not a MergeTree table the schema files "
                               "create, so it has no cluster form")
        operations = split_top_level(text[head.end():])
        altered = [f"ALTER TABLE {name}{LOCAL_SUFFIX} {self.on_cluster} {', '.join(operations)}"]
        if any(_COLUMN_OPERATION.match(operation) for operation in operations):
            # The Distributed table takes its columns from the local one again. (ClickHouse
            # before 19 refuses ALTER ... ON CLUSTER of a Distributed table over replicas.)
            altered += [f"DROP TABLE IF EXISTS {name} {self.on_cluster}",
                        self._distributed(head["db"], head["table"], self.sharded[name],
                                          "IF NOT EXISTS ")]
        return altered

    def _rename(self, head: re.Match[str], text: str) -> list[str]:
        pairs = read_renames(text[head.end():])
        moves, drops, creates = [], [], []
        keys = dict(self.sharded)
        for old, new in pairs:
            if old in keys:
                # The Distributed table names its local table: re-create it under the new name.
                moves.append(f"{old}{LOCAL_SUFFIX} TO {new}{LOCAL_SUFFIX}")
                drops.append(f"DROP TABLE IF EXISTS {old} {self.on_cluster}")
                db, table = new.split(".")
                creates.append(self._distributed(db, table, keys[old], "IF NOT EXISTS "))
                self.sharded.pop(old, None)
            else:
                moves.append(f"{old} TO {new}")
        for old, new in pairs:
            if old in keys:
                self.sharded[new] = keys[old]
        return [f"RENAME TABLE {', '.join(moves)} {self.on_cluster}", *drops, *creates]

    def _drop(self, head: re.Match[str], text: str) -> list[str]:
        name = f"{head['db']}.{head['table']}"
        exists = "IF EXISTS " if head["ie"] else ""
        dropped = [f"{text.rstrip()} {self.on_cluster}"]
        if self.sharded.pop(name, None) is not None:
            dropped.append(f"DROP TABLE {exists}{name}{LOCAL_SUFFIX} {self.on_cluster}")
        return dropped


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 120 else line[:120] + "..."
