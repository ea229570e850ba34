"""Artifact records: which run stored which file under which blob digest."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa

from driftloop.entities import Artifact
from driftloop.errors import NotFound
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._guards import require_writable
from driftloop.store.metadata._schema import artifacts

__all__ = ["ArtifactRepository"]


class ArtifactRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, run_id: str, items: Sequence[Artifact], *, actor: str) -> None:
        """Record artifacts of a run; a path logged again now points at the new content."""
        if not items:
            return
        with self._db.write() as conn:
            require_writable(conn, run_id, after_end=True)
            paths = [item.path for item in items]
            conn.execute(artifacts.delete().where(artifacts.c.run_id == run_id, artifacts.c.path.in_(paths)))
            conn.execute(
                artifacts.insert(),
                [{"run_id": run_id, "path": a.path, "digest": a.digest, "size": a.size} for a in items],
            )
            append_event(
                conn,
                actor=actor,
                action="run.log_artifacts",
                object_type="run",
                object_id=run_id,
                details={"paths": paths[:100], "count": len(paths), "bytes": sum(a.size for a in items)},
            )

    def list(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts whose path is ``prefix`` or lies below it, by path."""
        query = sa.select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.path)
        if prefix:
            folder = prefix.rstrip("/") + "/"
            query = query.where(sa.or_(artifacts.c.path == prefix, artifacts.c.path.startswith(folder)))
        with self._db.read() as conn:
            return [Artifact(row.path, row.digest, int(row.size)) for row in conn.execute(query)]

    def get(self, run_id: str, path: str) -> Artifact:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(artifacts).where(artifacts.c.run_id == run_id, artifacts.c.path == path)
            ).first()
        if row is None:
            raise NotFound(f"The run {run_id!r} has no artifact {path!r}.")
        return Artifact(row.path, row.digest, int(row.size))

    def referenced_digests(self, *, excluding_runs: Collection[str] = ()) -> set[str]:
        """Every blob digest an artifact record points at, leaving out the records of ``excluding_runs``."""
        query = sa.select(artifacts.c.run_id, artifacts.c.digest)
        with self._db.read() as conn:
            return {digest for run_id, digest in conn.execute(query) if run_id not in excluding_runs}
