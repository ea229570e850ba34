"""driftloop: a closed-loop MLOps platform.

>>> import driftloop
>>> sorted(driftloop.__all__)[:3]
['ActiveRun', 'DriftloopError', 'Workspace']
"""

from driftloop._fluent import active_run, get_workspace, set_workspace, start_run
from driftloop.errors import DriftloopError
from driftloop.tracking import ActiveRun
from driftloop.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "DriftloopError",
    "Workspace",
    "__version__",
    "active_run",
    "get_workspace",
    "set_workspace",
    "start_run",
]
