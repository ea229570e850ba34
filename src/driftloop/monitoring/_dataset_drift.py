"""Drift between two versions of a dataset: ``compare_versions(workspace, "houses", 1, 3)``.

By default the versions are compared from their stored profiles (:func:`._sketch_drift.compare_profiles`), in
memory bounded by the sketches whatever their row counts, with the error bounds stated there; ``exact=True``
reads both versions' rows and runs :func:`~driftloop.monitoring.compare` on them (memory follows the rows).

Both ways compare the rows each version holds. An ``append`` ingest adds its rows to the version before it and an
``overwrite`` replaces them, while each ingest stores the profile of the rows it added; a version's profile is
therefore the merge of the stored profiles from the last overwrite (or the first version) up to it. A version
stored without a profile, or whose merged profile does not account for its rows (a version in the chain purged),
cannot be compared this way: the error says so, and ``exact=True`` still can.

``driftloop monitor versions DATASET OLD [NEW]`` prints the result and exits 1 on dataset drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftloop.errors import InvalidInput, InvalidState
from driftloop.monitoring._drift import DriftReport, compare
from driftloop.monitoring._sketch_drift import compare_profiles

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["compare_versions"]


def compare_versions(
    workspace: Workspace, dataset: str, old: int, new: int | None = None, *, exact: bool = False
) -> DriftReport:
    """Test every column of version ``old`` of ``dataset`` for drift in version ``new`` (the latest by default).

    Raises:
        InvalidInput: a version number is not a positive integer.
        NotFound: the dataset or a version does not exist.
        InvalidState: without ``exact``, a version's stored profiles do not cover its rows.
        InvalidData: a version holds no rows.
    """
    for value, role in ((old, "old"), (new, "new")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidInput(f"The {role} version must be a version number (1, 2, 3…); got {value!r}.")
    datasets = workspace.datasets
    before, after = datasets.get(dataset, old), datasets.get(dataset, new)
    if exact:
        return compare(before.to_polars(), after.to_polars())
    try:
        profiles = datasets.profile(dataset, before.number), datasets.profile(dataset, after.number)
    except InvalidState as error:
        raise InvalidState(f"{error.message} (compare the rows: exact=True, --exact)") from None
    return compare_profiles(*profiles)
