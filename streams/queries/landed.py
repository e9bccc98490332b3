"""What landed so far: rows per raw table and dead letters per reason, for the demo's view."""

from __future__ import annotations

from dataclasses import dataclass

from streams.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class Landed:
    counts: dict[str, int]
    """Rows per table: interactions, feedback, followups and deadletters."""
    reasons: dict[str, int]
    """Dead letters per reason, in reason order."""


def landed(warehouse: Warehouse) -> Landed:
    """Rows as stored (without FINAL: a live count, duplicates not yet merged may show)."""
    db = warehouse.database
    counts = {row["t"]: int(row["n"]) for row in warehouse.query(
        f"SELECT 'interactions' AS t, count() AS n FROM {db}.interactions UNION ALL "
        f"SELECT 'feedback' AS t, count() AS n FROM {db}.feedback UNION ALL "
        f"SELECT 'followups' AS t, count() AS n FROM {db}.followups UNION ALL "
        f"SELECT 'deadletters' AS t, count() AS n FROM {db}.deadletters")}
    reasons = {row["reason"]: int(row["n"]) for row in warehouse.query(
        f"SELECT reason, count() AS n FROM {db}.deadletters GROUP BY reason ORDER BY reason")}
    return Landed(counts, reasons)
