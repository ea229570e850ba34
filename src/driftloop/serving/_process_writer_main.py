"""The writer process's entry point: ``python -m driftloop.serving._process_writer_main`` (see ``_process_writer``).

A module of its own, which nothing imports, so that running it does not run a module the package already
imported.
"""

import logging
import os
import sys

from driftloop.serving._process_writer import child_main

if __name__ == "__main__":
    # The frames travel on the original stdout; anything a library prints goes to stderr instead.
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    child_main(sys.stdin.buffer, frames)
