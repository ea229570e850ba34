"""Transforms: declared, ordered cleaning steps, fitted once and then run identically on every batch.

A :class:`Transform` is a list of steps written in Python or YAML. :meth:`Transform.fit` learns what the steps
need from a sample (the median to impute, the scaler's mean, the category codes); the :class:`FittedTransform`
it returns runs on each later batch with those statistics, at ingest and at serving time, and saves to JSON.
The declared steps have a stable :attr:`~Transform.hash`; the fitted one adds :attr:`~FittedTransform.fitted_hash`.

The steps: :class:`Select`, :class:`Rename`, :class:`Cast`, :class:`Filter` and :class:`Derive` (polars SQL
expressions), :class:`DropMissing`, :class:`Impute` (constant, mean, median, mode, nearest neighbours),
:class:`DropDuplicates` (within each batch), :class:`Outliers` (IQR or z-score; clip or drop), :class:`Encode`
(one-hot or ordinal) and :class:`Scale` (standard, min-max, robust). The ``_source_row`` column the ingest adds
passes through every step untouched and leaves with its row when a step drops the row.

>>> import pyarrow as pa
>>> transform = Transform.from_yaml('''
... - kind: impute
...   columns: [area]
...   strategy: median
... - kind: derive
...   column: price_per_m2
...   expression: price / area
... ''')
>>> sample = pa.table({"price": [100.0, 300.0, 200.0], "area": [50.0, None, 100.0], "_source_row": [1, 2, 3]})
>>> fitted = transform.fit(sample)
>>> fitted.statistics[0]
{'values': {'area': 75.0}}
>>> fitted.apply(pa.table({"price": [150.0], "area": [None], "_source_row": [4]})).to_pylist()
[{'price': 150.0, 'area': 75.0, '_source_row': 4, 'price_per_m2': 2.0}]
>>> Transform([Impute(["area"], strategy="median"), Derive("price_per_m2", "price / area")]).hash == transform.hash
True
>>> Transform([Select(["surface"])]).fit(sample)
Traceback (most recent call last):
    ...
driftloop.errors.InvalidData: Step 1 of 1 (select): There is no column 'surface'; the columns here are 'price', 'area'.
"""

from driftloop.data.transforms._cleaning import DropDuplicates, DropMissing, Outliers
from driftloop.data.transforms._features import Encode, Scale
from driftloop.data.transforms._impute import Impute
from driftloop.data.transforms._shape import Cast, Derive, Filter, Rename, Select
from driftloop.data.transforms._step import Step
from driftloop.data.transforms._transform import FittedTransform, Transform

__all__ = [
    "Cast",
    "Derive",
    "DropDuplicates",
    "DropMissing",
    "Encode",
    "Filter",
    "FittedTransform",
    "Impute",
    "Outliers",
    "Rename",
    "Scale",
    "Select",
    "Step",
    "Transform",
]

# Shown and pickled under the public path.
_PUBLIC_CLASSES = (Cast, Derive, DropDuplicates, DropMissing, Encode, FittedTransform, Filter, Impute, Outliers)
for _public in (*_PUBLIC_CLASSES, Rename, Scale, Select, Step, Transform):
    _public.__module__ = __name__
del _public
