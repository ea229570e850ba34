"""scikit-learn objects as skops files, loaded only when every type in them is trusted.

skops rebuilds objects from a schema instead of running pickle's code, and refuses types nobody trusted.
It trusts scikit-learn's public estimators, numpy and scipy basics by itself; :data:`TRUSTED_TYPE_PATHS` adds
the few internal types that the pipelines driftloop trains hold (tree storage, optimiser state, column
selectors). Anything else needs the user's explicit ``trusted=`` when loading.

skops leaves ``Tree`` and ``TreePredictor`` out of its defaults because a crafted file can set node
indices that make ``predict`` read out of bounds. driftloop trusts them because a manifest only loads when
signed with the workspace key: a file reaches skops only if this workspace packaged it.
"""

from __future__ import annotations

import functools
import importlib
import zipfile
from collections.abc import Sequence
from typing import Any, Final

from driftloop.errors import InvalidInput, PermissionDenied

__all__ = ["TRUSTED_TYPE_PATHS", "dump_skops", "load_skops", "trusted_type_names", "types_needing_trust"]

TRUSTED_TYPE_PATHS: Final = (
    "numpy:dtype",
    "sklearn.tree._tree:Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor:TreePredictor",
    "sklearn.neural_network._stochastic_optimizers:AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers:SGDOptimizer",
    "sklearn.compose:make_column_selector",
    "sklearn.utils:Bunch",
)
"""Where to import each type driftloop trusts beyond skops' defaults, as ``module:name``.

Types are named the way skops names them (the module that defines them), which can change between
scikit-learn releases; importing them through these paths keeps the list right after such a move.
"""


@functools.cache
def trusted_type_names() -> frozenset[str]:
    """Return the skops names of :data:`TRUSTED_TYPE_PATHS` that this scikit-learn has."""
    names = set()
    for path in TRUSTED_TYPE_PATHS:
        module_name, _, attribute = path.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            continue  # a type this version lacks cannot be in a file it wrote either
        names.add(f"{found.__module__}.{found.__name__}")
    return frozenset(names)


def dump_skops(value: object, *, what: str) -> bytes:
    """Return ``value`` as deflate-compressed skops bytes; ``what`` names it in errors."""
    import skops.io

    try:
        return bytes(skops.io.dumps(value, compression=zipfile.ZIP_DEFLATED))
    except Exception as error:  # skops raises whatever the object's own state raises
        raise InvalidInput(f"The {what} cannot be saved with skops: {type(error).__name__}: {error}") from error


def types_needing_trust(data: bytes, trusted: Sequence[str] = ()) -> list[str]:
    """Return the types in skops ``data`` that neither skops, driftloop nor ``trusted`` trust, sorted."""
    import skops.io

    allowed = trusted_type_names() | set(trusted)
    return [name for name in skops.io.get_untrusted_types(data=data) if name not in allowed]


def load_skops(data: bytes, *, what: str, trusted: Sequence[str] = ()) -> Any:
    """Rebuild the object in skops ``data`` if every type in it is trusted.

    Args:
        data: skops bytes, already checked against their digest.
        what: Names the object in errors (``"preprocessing of the lightgbm model"``).
        trusted: Type names the user trusts on top of driftloop's list.

    Raises:
        PermissionDenied: Some types are not trusted; the message lists them and how to opt in.
    """
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        # One pass: skops audits the types while it reads; listing them first would read the file twice.
        return skops.io.loads(data, trusted=[*trusted_type_names(), *trusted])
    except UntrustedTypesFoundException:
        refused = types_needing_trust(data, trusted)
    listed = ", ".join(repr(name) for name in refused)
    raise PermissionDenied(
        f"The {what} holds types driftloop does not trust by default: {listed}. If you trust where the "
        f"model came from, load it again with trusted=[{listed}]."
    )
