"""Profiles: mergeable per-column summaries of a dataset version, the reference for drift monitoring.

A :class:`Profile` is built batch by batch in one pass, in memory bounded per column (not per row), and two
profiles merge into the profile of the union of their data, so a dataset version's profile is the merge of its
batches' and monitoring compares live data with it without reading the raw data again.

* Numeric columns (integers, floats, decimals; timestamps, dates and durations in seconds since the Unix epoch)
  keep exact counts, mean and population standard deviation (merged with Chan et al.'s formula), min, max, zeros
  and ±inf counts, and a KLL quantile sketch for quantiles, CDF and histograms, with a stated rank error.
* Categorical columns (strings, dictionary-encoded columns, booleans as ``"true"``/``"false"``) keep counts, a
  HyperLogLog distinct count and a frequent-items sketch for the top categories, with a stated maximum error.
* Other types (lists, structs, binary…) are skipped without an error; ``_source_row`` is never profiled. NaN is
  missing in numeric columns; infinities are counted apart and kept out of the moments and sketches.

The sketches are Apache DataSketches' (``datasketches``); :meth:`Profile.to_bytes` writes a versioned binary
format with a checksum.

>>> import pyarrow as pa
>>> from driftloop.data.profiles import Profile
>>> batch = pa.record_batch({"price": [1.0, 2.0, None, 6.0], "district": ["a", "b", "a", None]})
>>> profile = Profile.empty().update(batch)
>>> price = profile.columns["price"]
>>> profile.rows, price.count, price.missing, price.mean, price.quantile(0.5)
(4, 3, 1, 3.0, 2.0)
>>> profile.columns["district"].top(1)
[('a', 2)]
>>> both = profile.merge(Profile.from_bytes(profile.to_bytes()))
>>> both.rows, both.columns["price"].count, both.columns["price"].std == price.std
(8, 6, True)
"""

from driftloop.data.profiles._categorical import CategoricalProfile
from driftloop.data.profiles._numeric import NumericProfile
from driftloop.data.profiles._profile import Profile, profile_table

__all__ = ["CategoricalProfile", "NumericProfile", "Profile", "profile_table"]
