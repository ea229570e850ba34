"""How staged Parquet files are written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftloop.store.tables import TableStore


def test_only_text_columns_are_dictionary_encoded(tmp_path: Path) -> None:
    # Numbers rarely repeat: trying a dictionary on every float column cost about a second per million rows.
    rng = np.random.default_rng(0)
    batch = pa.record_batch(
        {"price": rng.normal(size=5_000), "district": rng.choice(["north", "south"], 5_000), "new": [True] * 5_000}
    )
    store = TableStore(str(tmp_path))
    staged = store.stage("houses", [batch], fallback_schema=batch.schema)
    files = [tmp_path / "houses" / path for path, _, _ in staged.files]
    assert len(files) == 1
    metadata = pq.ParquetFile(files[0]).metadata.row_group(0)
    encodings = {metadata.column(i).path_in_schema: set(metadata.column(i).encodings) for i in range(3)}
    assert "RLE_DICTIONARY" in encodings["district"]
    assert "RLE_DICTIONARY" not in encodings["price"]
    store.discard(staged)
    assert not any(Path(tmp_path / "houses").glob("*.parquet"))
