"""What changed between two versions of a dataset: schema, rows and per-column statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from driftloop.data._version import DatasetVersion

__all__ = ["VersionDiff", "diff_versions"]


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """Version ``old`` against version ``new`` of one dataset.

    Rows are compared as whole rows (a multiset): a row changed in place counts as one removed and one
    added. ``statistics`` holds, per column present in both, the old and new value of each summary.
    """

    dataset: str
    old: int
    new: int
    columns_added: dict[str, str] = field(default_factory=dict)
    columns_removed: dict[str, str] = field(default_factory=dict)
    type_changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    rows_added: int = 0
    rows_removed: int = 0
    statistics: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def diff_versions(old: DatasetVersion, new: DatasetVersion) -> VersionDiff:
    """Compare two versions; reads both (memory follows the row hashes, 8 bytes a row)."""
    old_table, new_table = old.to_arrow(), new.to_arrow()
    old_types = {f.name: str(f.type) for f in old_table.schema}
    new_types = {f.name: str(f.type) for f in new_table.schema}
    shared = [name for name in new_types if name in old_types]
    added, removed = _row_changes(pl.from_arrow(old_table.select(shared)), pl.from_arrow(new_table.select(shared)))  # type: ignore[arg-type]
    return VersionDiff(
        dataset=new.name,
        old=old.number,
        new=new.number,
        columns_added={n: t for n, t in new_types.items() if n not in old_types},
        columns_removed={n: t for n, t in old_types.items() if n not in new_types},
        type_changes={n: (old_types[n], new_types[n]) for n in shared if old_types[n] != new_types[n]},
        rows_added=added,
        rows_removed=removed,
        statistics=_statistics(pl.from_arrow(old_table), pl.from_arrow(new_table), shared),  # type: ignore[arg-type]
    )


def _row_changes(old: pl.DataFrame, new: pl.DataFrame) -> tuple[int, int]:
    if not old.columns:
        return new.height, old.height
    old_counts = old.select(pl.struct(pl.all()).hash().alias("h")).group_by("h").len()
    new_counts = new.select(pl.struct(pl.all()).hash().alias("h")).group_by("h").len()
    joined = old_counts.join(new_counts, on="h", how="full", coalesce=True, suffix="_new").fill_null(0)
    difference = joined["len_new"].cast(pl.Int64) - joined["len"].cast(pl.Int64)
    return int(difference.clip(lower_bound=0).sum()), int((-difference).clip(lower_bound=0).sum())


def _statistics(old: pl.DataFrame, new: pl.DataFrame, columns: list[str]) -> dict[str, dict[str, tuple[Any, Any]]]:
    result: dict[str, dict[str, tuple[Any, Any]]] = {}
    for name in columns:
        before, after = old[name], new[name]
        summary: dict[str, tuple[Any, Any]] = {
            "rows": (before.len(), after.len()),
            "missing_rate": (_rate(before.null_count(), before.len()), _rate(after.null_count(), after.len())),
        }
        if before.dtype.is_numeric() and after.dtype.is_numeric():
            for statistic in ("mean", "std", "min", "max", "median"):
                summary[statistic] = (_number(getattr(before, statistic)()), _number(getattr(after, statistic)()))
        else:
            summary["distinct"] = (before.n_unique(), after.n_unique())
        result[name] = summary
    return result


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
