"""Batch scoring: a file or a dataset version through a registered model, in streamed batches.

Memory follows the batch, not the input: rows are read ``batch_rows`` at a time (pyarrow's dataset
scanner for Parquet and CSV files, the version's own batches for a dataset) and each scored batch is written
to the output Parquet file before the next is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from driftloop.errors import InvalidInput

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["BatchScore", "score_batches"]


@dataclass(frozen=True)
class BatchScore:
    """What a batch scoring did."""

    model: str
    version: int
    rows: int
    output: str


def score_batches(
    workspace: Workspace,
    reference: str,
    output: str | os.PathLike[str],
    *,
    input_path: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    dataset_version: int | None = None,
    batch_rows: int = 65_536,
    probabilities: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BatchScore:
    """Score every row of ``input_path`` (Parquet or CSV) or of a dataset version into the Parquet ``output``.

    The output holds the input's columns, then ``prediction``, then, with ``probabilities``, one
    ``probability_<class>`` column per class.
    """
    if (input_path is None) == (dataset is None):
        raise InvalidInput("Score either a file (--input) or a dataset (--dataset), exactly one of them.")
    info = workspace.models.get(reference)
    model = workspace.models.load(f"{info.model}/{info.number}")
    if probabilities and not model.is_classifier:
        raise InvalidInput(f"{info.reference} is not a classifier; it gives no class probabilities.")
    batches = (
        _file_batches(input_path, batch_rows)
        if input_path is not None
        else _dataset_batches(workspace, dataset, dataset_version, batch_rows)
    )
    target = os.fspath(output)
    temporary = f"{target}.partial"
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for batch in batches:
            frame = batch.to_pandas()
            scored = pa.Table.from_pandas(frame, preserve_index=False)
            scored = scored.append_column("prediction", pa.array(np.asarray(model.predict(frame)).tolist()))
            if probabilities:
                matrix = np.asarray(model.predict_proba(frame))
                classes = [] if model.classes_ is None else model.classes_.tolist()
                for index, label in enumerate(classes):
                    scored = scored.append_column(f"probability_{label}", pa.array(matrix[:, index]))
            if writer is None:
                writer = pq.ParquetWriter(temporary, scored.schema, compression="snappy")
            writer.write_table(scored)
            rows += batch.num_rows
            if progress is not None:
                progress(batch.num_rows)
        if writer is None:
            raise InvalidInput("There is nothing to score: the input has no rows.")
        writer.close()
        writer = None
        os.replace(temporary, target)  # the output appears whole, or not at all
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(temporary):
            os.remove(temporary)
    return BatchScore(model=info.model, version=info.number, rows=rows, output=target)


def _file_batches(path: str | os.PathLike[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    text = os.fspath(path)
    if not os.path.exists(text):
        raise InvalidInput(f"No input file at {text!r}.")
    kind = "csv" if text.endswith((".csv", ".csv.gz")) else "parquet"
    for batch in pads.dataset(text, format=kind).to_batches(batch_size=batch_rows):
        if batch.num_rows:
            yield batch


def _dataset_batches(
    workspace: Workspace, name: str | None, version: int | None, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    assert name is not None
    for batch in workspace.datasets.get(name, version).batches(batch_rows):
        if "_source_row" in batch.schema.names:
            batch = batch.drop_columns(["_source_row"])
        if batch.num_rows:
            yield batch
