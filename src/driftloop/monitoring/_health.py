"""The server's health over an interval, summed over every server process, for alert rules (``server.*``).

Each server process records, every interval, what it answered since its previous record (a ``health``
:class:`~driftloop.entities.MonitorRecord`, probes left out): requests, 4xx and 5xx answers, and its latency
histogram's cumulative bucket counts. :func:`server_health` sums the latest record of each process and reads
the rates and latency quantiles off the sums, so ``server.error_rate > 0.01`` means the same with one worker
or twelve. A quantile read off a histogram is the upper bound of the bucket it falls in, interpolated linearly
inside the bucket (as Prometheus's ``histogram_quantile`` does); beyond the last finite bound it is that bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from driftloop.entities import MonitorRecord

__all__ = ["SERVER_SUBJECT", "latency_quantile", "server_health"]

SERVER_SUBJECT = "server"
"""The subject of health records and of the alert rules over them (``subjects: [server]``)."""


def server_health(records: Iterable[MonitorRecord]) -> dict[str, Any]:
    """The ``server`` output alert rules read: the sums of the processes' latest health records.

    Keys: ``processes``, ``seconds`` (the longest interval among them), ``requests``, ``client_errors`` and
    ``server_errors`` (4xx and 5xx answers), ``error_rate`` (5xx share), ``client_error_rate`` (4xx share),
    ``requests_per_second``, ``latency_p50_ms``, ``latency_p99_ms``. Rates and quantiles are None without
    requests, so a rule on them neither fires nor resolves on an idle server.

    >>> record = MonitorRecord(1, "server", "health", "host:1:ab", 0.0, outputs={
    ...     "seconds": 60.0, "requests": 200, "client_errors": 4, "server_errors": 2,
    ...     "latency_bounds": [0.01, 0.1], "latency_counts": [100, 200]})
    >>> health = server_health([record])
    >>> health["error_rate"], health["client_error_rate"], health["latency_p50_ms"], health["latency_p99_ms"]
    (0.01, 0.02, 10.0, 98.2)
    """
    requests = client_errors = server_errors = processes = 0
    seconds = 0.0
    bounds: list[float] | None = None
    counts: list[float] = []
    for record in records:
        outputs = record.outputs
        processes += 1
        seconds = max(seconds, float(outputs.get("seconds") or 0.0))
        requests += int(outputs.get("requests") or 0)
        client_errors += int(outputs.get("client_errors") or 0)
        server_errors += int(outputs.get("server_errors") or 0)
        record_bounds = [float(bound) for bound in outputs.get("latency_bounds") or []]
        record_counts = [float(count) for count in outputs.get("latency_counts") or []]
        if bounds is None:
            bounds, counts = record_bounds, record_counts
        elif record_bounds == bounds:
            counts = [total + count for total, count in zip(counts, record_counts, strict=True)]
    share = (lambda part: part / requests) if requests else (lambda part: None)
    return {
        "processes": processes,
        "seconds": seconds,
        "requests": requests,
        "client_errors": client_errors,
        "server_errors": server_errors,
        "error_rate": share(server_errors),
        "client_error_rate": share(client_errors),
        "requests_per_second": requests / seconds if seconds > 0 else None,
        "latency_p50_ms": _milliseconds(latency_quantile(bounds or [], counts, requests, 0.50)),
        "latency_p99_ms": _milliseconds(latency_quantile(bounds or [], counts, requests, 0.99)),
    }


def latency_quantile(bounds: Sequence[float], cumulative: Sequence[float], total: float, q: float) -> float | None:
    """The ``q`` quantile of a histogram given its finite upper bounds and cumulative counts (seconds).

    >>> latency_quantile([1.0, 2.0], [50, 100], 100, 0.75)
    1.5
    """
    if total <= 0 or not bounds or len(bounds) != len(cumulative):
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            inside = count - lower_count
            return bound if inside <= 0 else lower_bound + (bound - lower_bound) * (rank - lower_count) / inside
        lower_bound, lower_count = bound, count
    return float(bounds[-1])  # in the +Inf bucket: all that is known is that it exceeds the last bound


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)
