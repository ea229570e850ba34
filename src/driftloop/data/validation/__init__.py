"""Validation of ingested data: a schema of rules and expectations, enforced batch by batch.

**Rules** are enforced on every ingest: required columns are present, every value casts (strictly, without
loss) to its column's type, non-nullable columns have no missing value, and so do the expectations the user
*promoted* and the custom checks of kind ``"rule"``. A batch breaking a rule is rejected whole
(``on_rule_failure="reject"``, the default) or has its bad rows quarantined, each traced to its source row.

**Expectations** (ranges, category sets, uniqueness, custom checks of kind ``"expectation"``) are inferred
from a sample and only flag the rows breaking them in the :class:`QualityReport`: a new district is news,
not an error.

Which engine runs what: types are a strict cast and uniqueness a set of hashes kept across batches;
nullability, ranges and category sets run natively as Polars expressions in one vectorised pass (the same
expressions, with the same conventions, as pandera's model of the schema, and a test holds them to the same
failures); the custom checks run on pandera, which is imported only for a schema that has some.
:meth:`DataSchema.to_pandera` gives the whole schema as a pandera model.

>>> import pyarrow as pa
>>> sample = pa.table({"district": ["north"] * 20 + ["south"] * 20, "price": [100.0 + i for i in range(40)]})
>>> schema = DataSchema.infer(sample).promote("price", "range")
>>> schema.column("district").categories, schema.column("price").minimum
(('north', 'south'), 100.0)
>>> validator = Validator(schema, on_rule_failure="quarantine", source="houses.csv")
>>> batch = pa.table({"district": ["east", "north"], "price": [120.0, 5.0], "_source_row": [41, 42]})
>>> checked = validator.check(batch)
>>> checked.good.column("district").to_pylist(), checked.flagged_rows
(['east'], 1)
>>> checked.quarantined.column("_reasons").to_pylist()
['column price: 5.0 is below the minimum 100.0']
>>> report = validator.finish()
>>> report.column("district").unseen_examples, report.rows_quarantined
(('east',), 1)
"""

from driftloop.data.validation._checks import CustomCheck
from driftloop.data.validation._column import ColumnSpec
from driftloop.data.validation._report import CheckQuality, ColumnQuality, QualityReport
from driftloop.data.validation._schema import DataSchema
from driftloop.data.validation._validator import CheckedBatch, Validator

__all__ = [
    "CheckQuality",
    "CheckedBatch",
    "ColumnQuality",
    "ColumnSpec",
    "CustomCheck",
    "DataSchema",
    "QualityReport",
    "Validator",
]
