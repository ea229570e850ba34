"""The datasets service: ingest (collect → transform → validate → profile → version), read, diff, lineage.

An ingest streams: memory follows the batch size, not the input. It first reads a sample (the first
``SAMPLE_ROWS`` rows) to fit the transform and, on the first ingest, to infer the data schema; then
every batch is transformed, validated and profiled on its way into staged Parquet files, which one
Delta commit turns into the new version. A rule failure in ``reject`` mode, a malformed file or a
crash leave the staged files uncommitted: no version appears.
"""

from __future__ import annotations

import builtins
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from driftloop.data._diff import VersionDiff, diff_versions
from driftloop.data._version import DatasetVersion
from driftloop.data.profiles import Profile
from driftloop.data.sources import Source, open_source
from driftloop.data.transforms import FittedTransform, Transform
from driftloop.data.validation import DataSchema, Validator
from driftloop.entities import Dataset, DatasetVersionInfo
from driftloop.errors import InvalidInput, InvalidState
from driftloop.names import validate_name
from driftloop.store.blobs import BlobStore
from driftloop.store.metadata import MetadataStore, NewVersion
from driftloop.store.tables import StagedWrite, TableStore

__all__ = ["Datasets", "IngestResult"]

SAMPLE_ROWS = 100_000
SOURCE_ROW = "_source_row"
Mode = Literal["append", "overwrite"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The outcome of an ingest: the version (new, or the identical one that already existed)."""

    version: DatasetVersion
    created: bool
    rows: int
    quarantined_rows: int
    report: dict[str, Any]

    def __str__(self) -> str:
        if not self.created:
            return f"{self.version.name} v{self.version.number}: identical data, no new version"
        return f"{self.version.name} v{self.version.number}: {self.rows:,} rows" + (
            f", {self.quarantined_rows:,} quarantined" if self.quarantined_rows else ""
        )


class Datasets:
    """Versioned datasets of one workspace. Reach it as ``Workspace().datasets``."""

    def __init__(
        self,
        metadata: MetadataStore,
        blobs: BlobStore,
        tables: TableStore,
        *,
        actor: str,
        current_run: Callable[[], Any] | None = None,
    ) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._tables = tables
        self._actor = actor
        self._current_run = current_run or (lambda: None)

    # -- ingest ------------------------------------------------------------------------------------

    def ingest(
        self,
        name: str,
        source: Any,
        *,
        mode: Mode = "append",
        transform: Transform | FittedTransform | None = None,
        schema: DataSchema | None = None,
        on_rule_failure: Literal["reject", "quarantine"] = "reject",
        format: str | None = None,
        batch_rows: int = 131_072,
        progress: Callable[[int], None] | None = None,
        actor: str | None = None,
    ) -> IngestResult:
        """Collect ``source``, clean, validate and profile it, and store it as a new version of ``name``.

        ``source`` is a path or URL (CSV, Parquet, JSON, JSON Lines), a pandas/polars/Arrow frame, or a
        :class:`~driftloop.data.sources.Source`. Ingesting data identical to an existing version (same
        content, mode and transform) creates nothing and returns that version with ``created=False``.

        >>> import tempfile, pandas as pd, driftloop
        >>> ws = driftloop.Workspace(tempfile.mkdtemp())
        >>> frame = pd.DataFrame({"area": [50.0, 72.5, 90.0], "district": ["a", "b", "a"]})
        >>> ws.datasets.ingest("houses", frame).version.number
        1
        >>> ws.datasets.ingest("houses", frame).created
        False
        >>> ws.datasets.get("houses").to_pandas().shape
        (3, 2)
        >>> ws.close()
        """
        validate_name("dataset", name)
        if mode not in ("append", "overwrite"):
            raise InvalidInput(f"The ingest mode must be 'append' or 'overwrite'; got {mode!r}.")
        if on_rule_failure not in ("reject", "quarantine"):
            raise InvalidInput(f"on_rule_failure must be 'reject' or 'quarantine'; got {on_rule_failure!r}.")
        actor = actor or self._actor
        prepared = self._prepare(name, source, transform, schema, format, batch_rows)
        opened, batches, fitted, data_schema = prepared.source, prepared.batches, prepared.fitted, prepared.schema
        transformed_sample = prepared.transformed_sample
        validator = Validator(data_schema, on_rule_failure=on_rule_failure, source=opened.description)
        profile = Profile.empty()
        quarantine: builtins.list[pa.Table] = []
        counts = {"rows": 0, "quarantined": 0}

        def clean() -> Iterator[pa.RecordBatch]:
            for batch in batches:
                table = fitted.apply(batch) if fitted is not None else pa.Table.from_batches([batch])
                checked = validator.check(table)
                if checked.quarantined.num_rows:
                    quarantine.append(checked.quarantined)
                    counts["quarantined"] += checked.quarantined.num_rows
                good = checked.good.drop([SOURCE_ROW]) if SOURCE_ROW in checked.good.column_names else checked.good
                profile.update(good)
                counts["rows"] += good.num_rows
                if progress is not None:
                    progress(batch.num_rows)
                yield from good.to_batches()

        staged = self._tables.stage(name, clean(), fallback_schema=transformed_sample.drop([SOURCE_ROW]).schema)
        try:
            report = validator.finish().to_dict()
            new = NewVersion(
                mode=mode,
                fingerprint=staged.fingerprint,
                source=opened.description,
                rows=staged.rows,
                quarantined_rows=counts["quarantined"],
                arrow_schema=staged.schema.to_string(show_schema_metadata=False),
                transform_hash=None if fitted is None else fitted.hash,
                schema_fingerprint=data_schema.fingerprint,
                profile_digest=self._blobs.put(profile.to_bytes()),
                report_digest=self._blobs.put(json.dumps(report, sort_keys=True, default=str).encode()),
                transform_digest=None if fitted is None else self._blobs.put(fitted.to_json().encode()),
            )
            info, created = self._metadata.datasets.commit_version(
                name, new, commit_table=lambda last: self._commit(staged, mode, last), actor=actor
            )
        except BaseException:
            self._tables.discard(staged)
            raise
        if not created:
            self._tables.discard(staged)
        else:
            if self._stored_schema(name) is None:
                self._metadata.datasets.set_data_schema(name, data_schema.to_dict(), actor=actor)
            if quarantine:
                self._store_quarantine(name, info.number, quarantine)
        return IngestResult(
            version=self._handle(info),
            created=created,
            rows=staged.rows if created else 0,
            quarantined_rows=counts["quarantined"] if created else 0,
            report=report,
        )

    def validate(
        self,
        name: str,
        source: Any,
        *,
        transform: Transform | FittedTransform | None = None,
        schema: DataSchema | None = None,
        format: str | None = None,
        batch_rows: int = 131_072,
    ) -> dict[str, Any]:
        """Check ``source`` against the dataset's schema (inferred when it has none) without storing
        anything; returns the quality report. Rows breaking a rule are counted, not raised.
        """
        validate_name("dataset", name)
        prepared = self._prepare(name, source, transform, schema, format, batch_rows)
        validator = Validator(prepared.schema, on_rule_failure="quarantine", source=prepared.source.description)
        for batch in prepared.batches:
            table = prepared.fitted.apply(batch) if prepared.fitted is not None else pa.Table.from_batches([batch])
            validator.check(table)
        return validator.finish().to_dict()

    # -- reading -----------------------------------------------------------------------------------

    def get(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version of a dataset (the latest by default), to read as Arrow, pandas or polars."""
        return self._handle(self._metadata.datasets.version(name, version))

    def list(self) -> list[Dataset]:
        return self._metadata.datasets.list()

    def versions(self, name: str) -> builtins.list[DatasetVersionInfo]:
        return self._metadata.datasets.versions(name)

    def schema(self, name: str) -> DataSchema:
        """The dataset's data schema (rules and expectations), as inferred or as last edited."""
        stored = self._stored_schema(name)
        if stored is None:
            raise InvalidState(f"The dataset {name!r} has no schema yet; ingest data first.")
        return stored

    def set_schema(self, name: str, schema: DataSchema, *, actor: str | None = None) -> None:
        """Replace the dataset's data schema; every later ingest is validated against it."""
        self._metadata.datasets.set_data_schema(name, schema.to_dict(), actor=actor or self._actor)

    def diff(self, name: str, old: int, new: int | None = None) -> VersionDiff:
        """Schema changes, rows added and removed, and per-column statistic shifts from ``old`` to ``new``."""
        return diff_versions(self.get(name, old), self.get(name, new))

    def quarantine(self, name: str) -> pa.Table:
        """Rows that broke a rule in ``quarantine`` mode, with their source row and reasons."""
        table = f"{name}.quarantine"
        latest = self._tables.latest_version(table)
        if latest is None:
            return pa.table({})
        return self._tables.read(table, latest)

    # -- internals ---------------------------------------------------------------------------------

    def _prepare(
        self,
        name: str,
        source: Any,
        transform: Transform | FittedTransform | None,
        schema: DataSchema | None,
        format: str | None,
        batch_rows: int,
    ) -> _Prepared:
        """Open the source, read the sample, fit the transform and settle the data schema."""
        opened: Source = source if _is_source(source) else open_source(source, format=format, batch_rows=batch_rows)
        batches = _numbered(_coalesced(opened.batches(), batch_rows))
        sample, batches = _peek(batches, SAMPLE_ROWS)
        if transform is None:
            fitted = self._latest_transform(name)
        elif isinstance(transform, Transform):
            fitted = transform.fit(sample)
        else:
            fitted = transform
        transformed_sample = fitted.apply(sample) if fitted is not None else sample
        data_schema = schema or self._stored_schema(name) or DataSchema.infer(transformed_sample.drop([SOURCE_ROW]))
        return _Prepared(opened, batches, fitted, data_schema, transformed_sample)

    def _handle(self, info: DatasetVersionInfo) -> DatasetVersion:
        return DatasetVersion(
            info,
            tables=self._tables,
            blobs=self._blobs,
            runs_using=self._metadata.datasets.runs_using,
            current_run=self._current_run,
        )

    def _commit(self, staged: StagedWrite, mode: Mode, last_recorded: int | None) -> int:
        latest = self._tables.latest_version(staged.table)
        if last_recorded is None:
            # No version recorded yet: whatever the table holds is a crashed first ingest. Overwrite it.
            return self._tables.commit(staged, mode="overwrite", properties={"driftloop.mode": mode})
        if latest is not None and latest > last_recorded:
            self._tables.restore(staged.table, last_recorded)  # undo a commit whose version row never landed
        return self._tables.commit(staged, mode=mode, properties={"driftloop.mode": mode})

    def _stored_schema(self, name: str) -> DataSchema | None:
        stored = self._metadata.datasets.data_schema(name) if self._exists(name) else None
        return None if stored is None else DataSchema.from_dict(stored)

    def _latest_transform(self, name: str) -> FittedTransform | None:
        if not self._exists(name):
            return None
        versions = self._metadata.datasets.versions(name)
        if not versions or versions[-1].transform_digest is None:
            return None
        return FittedTransform.from_json(self._blobs.get(versions[-1].transform_digest).decode())

    def _exists(self, name: str) -> bool:
        return any(dataset.name == name for dataset in self._metadata.datasets.list())

    def _store_quarantine(self, name: str, number: int, tables: builtins.list[pa.Table]) -> None:
        combined = pa.concat_tables(tables, promote_options="permissive")
        combined = combined.append_column("_version", pa.array([number] * combined.num_rows, pa.int32()))
        table = f"{name}.quarantine"
        staged = self._tables.stage(table, combined.to_batches(), fallback_schema=combined.schema)
        self._tables.commit(staged, mode="append", properties={"driftloop.version": str(number)})


@dataclass(frozen=True, slots=True)
class _Prepared:
    source: Source
    batches: Iterator[pa.RecordBatch]
    fitted: FittedTransform | None
    schema: DataSchema
    transformed_sample: pa.Table


def _is_source(value: Any) -> bool:
    return hasattr(value, "batches") and hasattr(value, "description") and not isinstance(value, str | os.PathLike)


def _coalesced(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of about ``rows`` rows: validation and profiling pay a fixed cost per batch, and some
    sources (CSV blocks) yield many small ones. Memory stays bounded by ``rows``."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if pending and not batch.schema.equals(pending[0].schema):
            yield _combine(pending)
            pending, count = [], 0
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield _combine(pending)
            pending, count = [], 0
    if pending:
        yield _combine(pending)


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _numbered(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Add the 1-based source row number that quarantine and error messages point back to."""
    start = 1
    for batch in batches:
        if batch.num_rows == 0:
            continue
        numbers = pa.array(range(start, start + batch.num_rows), pa.int64())
        start += batch.num_rows
        yield batch.append_column(SOURCE_ROW, numbers)


def _peek(batches: Iterator[pa.RecordBatch], rows: int) -> tuple[pa.Table, Iterator[pa.RecordBatch]]:
    """The first ``rows`` rows as a table, and an iterator that still yields every batch."""
    head: list[pa.RecordBatch] = []
    seen = 0
    for batch in batches:
        head.append(batch)
        seen += batch.num_rows
        if seen >= rows:
            break
    if not head:
        raise InvalidInput("The source holds no rows.")
    # Some sources let a column's type firm up over batches (all-null at first): unify for the sample.
    sample = pa.concat_tables([pa.Table.from_batches([batch]) for batch in head], promote_options="default")
    return sample, itertools.chain(head, batches)
