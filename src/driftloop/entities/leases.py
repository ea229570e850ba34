"""Leases: which process runs a stateful job, and for how long."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Lease"]


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease on a named job, held by one ``holder`` until ``expires_at``.

    ``token`` is a fencing token: it grows by one whenever a new tenure starts (someone takes the
    lease while nobody holds it), and stays put while the holder renews. A job that writes with its
    token lets a reader discard writes of a holder that lost the lease without noticing.

    Times are seconds since the epoch as :func:`time.time` gives them, not datetimes: holders compare
    them with their own clock, which is why machines sharing leases need clocks that agree to within a
    small fraction of the lease's time to live.

    >>> lease = Lease("loop", "host-a:41", token=3, acquired_at=100.0, expires_at=130.0, renewed_at=110.0)
    >>> lease.remaining(now=120.0), lease.expired(now=120.0), lease.expired(now=130.0)
    (10.0, False, True)
    """

    name: str
    holder: str
    token: int
    acquired_at: float
    expires_at: float
    renewed_at: float

    def remaining(self, now: float | None = None) -> float:
        """Seconds until the lease expires (0.0 once it has); ``now`` defaults to ``time.time()``."""
        return max(0.0, self.expires_at - (time.time() if now is None else now))

    def expired(self, now: float | None = None) -> bool:
        """True from ``expires_at`` on; ``now`` defaults to ``time.time()``."""
        return (time.time() if now is None else now) >= self.expires_at
