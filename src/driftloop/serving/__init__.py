"""Serving: registered models over HTTP, following their aliases.

``driftloop serve houses`` (or :func:`create_app` in an ASGI server of your own) serves the version each
alias points at, swaps in a new one within about two seconds of a promotion or rollback made anywhere, and
speaks three request formats: ours (``/v1/models/{name}/predict``), MLflow's scoring server
(``/invocations``) and the Open Inference Protocol V2 (``/v2/models/{name}/infer``).
"""

from driftloop.serving._app import ServerSettings, create_app
from driftloop.serving._input_check import InputChecker, InputRejected
from driftloop.serving._labels import LabelStore
from driftloop.serving._prediction_log import PredictionLog
from driftloop.serving._prediction_records import PredictionRecord
from driftloop.serving._served_model import AliasWatcher, ModelSlot, ServedModel
from driftloop.serving._server import serve
from driftloop.serving._traffic import TrafficPolicy

__all__ = [
    "AliasWatcher",
    "InputChecker",
    "InputRejected",
    "LabelStore",
    "ModelSlot",
    "PredictionLog",
    "PredictionRecord",
    "ServedModel",
    "ServerSettings",
    "TrafficPolicy",
    "create_app",
    "serve",
]
