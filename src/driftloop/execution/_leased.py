"""A job that runs on a schedule in exactly one process among all those sharing a metadata store.

``driftloop serve --workers 4`` on three machines starts twelve processes; the prediction log's upkeep (and, in
time, the loop's controller and an online learner) must run in one of them. Each process starts a
:class:`LeasedJob`; every ``interval`` seconds it asks the store for the job's lease
(:class:`~driftloop.store.metadata.LeaseRepository`), which one process holds at a time and renews by asking
again. The holder runs the job; the others wait. When the holder stops, it releases the lease, so another takes
over at its next look; when it dies, another takes over once the lease expires (``ttl``, three intervals by
default). The job gets the lease's fencing token, which grows with every change of holder.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable

from driftloop.errors import InvalidInput
from driftloop.store.metadata import LeaseRepository

__all__ = ["LeasedJob", "process_holder_name"]

log = logging.getLogger("driftloop.execution")


def process_holder_name() -> str:
    """A lease holder name unique to this process: ``host:pid:random``."""
    host = "".join(char if char.isalnum() or char in "-." else "-" for char in socket.gethostname())[:64] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


class LeasedJob:
    """Run ``job(token)`` every ``interval`` seconds on a daemon thread, while this process holds lease ``name``.

    Args:
        leases: The store's leases (``workspace.metadata.leases``).
        name: The lease's name, the same in every process that may run the job.
        job: The work; it gets the lease's fencing token. While it runs, the lease is renewed every third of
            ``ttl``, so a run longer than the lease keeps it (unless the store stays unreachable for a ``ttl``).
        interval: Seconds between two runs (and two looks at the lease).
        ttl: How long a lease lasts unless renewed; three intervals by default.
        holder: This process's name as a holder (unique per process by default).
        first_run_after: Seconds before the first look (``interval`` by default: nothing runs at start-up).
    """

    def __init__(
        self,
        leases: LeaseRepository,
        name: str,
        job: Callable[[int], object],
        *,
        interval: float,
        ttl: float | None = None,
        holder: str | None = None,
        first_run_after: float | None = None,
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval > 0:
            raise InvalidInput(f"The interval of job {name!r} must be a number of seconds > 0; got {interval!r}.")
        self.leases = leases
        self.name = name
        self.job = job
        self.interval = float(interval)
        self.ttl = 3 * self.interval if ttl is None else float(ttl)
        if not self.ttl > self.interval:
            raise InvalidInput(f"The lease of job {name!r} must outlast its interval ({self.interval} s); got {ttl!r}.")
        self.holder = holder or process_holder_name()
        self.first_run_after = self.interval if first_run_after is None else float(first_run_after)
        self.runs = 0
        self.failures = 0
        self.last_error: str | None = None
        self._holding = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"LeasedJob({self.name!r}, holder={self.holder!r}, holding={self._holding})"

    @property
    def holding(self) -> bool:
        """Whether this process held the lease at its latest look."""
        return self._holding

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"driftloop-job-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (after a run in progress ends, up to ``timeout``) and release the lease if held."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._holding:
            try:
                self.leases.release(self.name, self.holder)
            except Exception as error:  # the lease then expires on its own
                log.warning("could not release lease %r: %s", self.name, error)
            self._holding = False

    def run_in_foreground(self) -> None:
        """Start, then wait until Ctrl-C (or a SIGTERM raised as such) and stop, releasing the lease: a command
        such as ``driftloop loop run --every 5m``."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def run_once(self) -> bool:
        """Look at the lease and, when this process holds it, run the job; returns whether it ran."""
        try:
            lease = self.leases.acquire(self.name, self.holder, ttl=self.ttl)
        except Exception as error:  # the store is unreachable: nobody can be sure to hold the lease
            self._holding = False
            self._failed(f"could not reach the lease: {error}")
            return False
        self._holding = lease is not None
        if lease is None:
            return False
        renewing = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(renewing,), name=f"driftloop-lease-{self.name}", daemon=True
        )
        renewer.start()
        try:
            self.job(lease.token)
        except Exception as error:
            self._failed(f"the job failed: {error}")
            log.exception("job %r failed", self.name)
            return True
        finally:
            renewing.set()
            renewer.join()
        self.runs += 1
        return True

    def _renew(self, done: threading.Event) -> None:
        """While the job runs, renew the lease every third of its time to live, so a long run keeps it."""
        while not done.wait(self.ttl / 3):
            try:
                if self.leases.renew(self.name, self.holder, ttl=self.ttl) is None:
                    log.warning("job %r lost its lease while running; another process may start it", self.name)
                    return
            except Exception as error:  # the store is briefly unreachable: try again at the next beat
                log.warning("job %r could not renew its lease: %s", self.name, error)

    def _failed(self, problem: str) -> None:
        self.failures += 1
        self.last_error = problem
        log.warning("job %r: %s", self.name, problem)

    def _run(self) -> None:
        if self._stop.wait(self.first_run_after):
            return
        while True:
            self.run_once()
            if self._stop.wait(self.interval):
                return
