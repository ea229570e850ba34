"""Registered models, their immutable versions, and aliases whose every move is an event."""

from __future__ import annotations

import builtins
import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.entities import AliasMove, ModelTraffic, ModelVersionInfo, RegisteredModel, TrafficPolicy
from driftloop.errors import Conflict, NotFound, StoreBusy
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._schema import events, model_aliases, model_traffic, model_versions, registered_models

__all__ = ["ModelRepository", "NewModelVersion"]

ALIAS_ACTION = "model.alias"
TRAFFIC_ACTION = "model.traffic"
UNCHECKED: Any = object()
"""The default of ``set_alias(expected=...)``: move the alias whatever it points at now."""


@dataclass(frozen=True, slots=True)
class NewModelVersion:
    """What a registration records; the files are already stored as blobs under ``manifest_digest``."""

    manifest_digest: str
    flavour: str
    task: str | None = None
    run_id: str | None = None
    dataset: str | None = None
    dataset_version: int | None = None
    signature: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    profile_digest: str | None = None
    description: str = ""


class ModelRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- models ------------------------------------------------------------------------------------

    def get(self, name: str) -> RegisteredModel:
        with self._db.read() as conn:
            row = conn.execute(sa.select(registered_models).where(registered_models.c.name == name)).first()
            if row is None:
                raise NotFound(f"No registered model named {name!r}.")
            return self._model(conn, row)

    def list(self) -> builtins.list[RegisteredModel]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(registered_models).order_by(registered_models.c.name)).all()
            return [self._model(conn, row) for row in rows]

    # -- versions ----------------------------------------------------------------------------------

    def create_version(self, name: str, new: NewModelVersion, *, actor: str) -> ModelVersionInfo:
        """Register a new version (creating the model on its first version) in one transaction."""
        for _attempt in range(5):
            try:
                return self._create_version(name, new, actor=actor)
            except SqlIntegrityError:
                continue  # another writer created the model or took the number first: read again
        raise StoreBusy(f"Could not register a version of {name!r}: other registrations kept winning the race.")

    def _create_version(self, name: str, new: NewModelVersion, *, actor: str) -> ModelVersionInfo:
        with self._db.write() as conn:
            model_id = conn.execute(
                sa.select(registered_models.c.id).where(registered_models.c.name == name).with_for_update()
            ).scalar()
            if model_id is None:
                model_id = conn.execute(
                    registered_models.insert().values(
                        name=name, description="", created_at=time.time(), created_by=actor
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                append_event(conn, actor=actor, action="model.create", object_type="model", object_id=name)
            last = conn.execute(
                sa.select(sa.func.max(model_versions.c.number)).where(model_versions.c.model_id == model_id)
            ).scalar()
            number = 1 if last is None else int(last) + 1
            conn.execute(
                model_versions.insert().values(
                    model_id=model_id,
                    number=number,
                    manifest_digest=new.manifest_digest,
                    flavour=new.flavour,
                    task=new.task,
                    run_id=new.run_id,
                    dataset=new.dataset,
                    dataset_version=new.dataset_version,
                    signature=_dump(new.signature),
                    metrics=_dump(new.metrics),
                    evaluation=_dump(new.evaluation),
                    profile_digest=new.profile_digest,
                    description=new.description,
                    created_at=time.time(),
                    created_by=actor,
                )
            )
            append_event(
                conn,
                actor=actor,
                action="model.register",
                object_type="model",
                object_id=name,
                details={
                    "version": number,
                    "flavour": new.flavour,
                    "run_id": new.run_id,
                    "dataset": new.dataset,
                    "dataset_version": new.dataset_version,
                    "metrics": dict(new.metrics),
                },
            )
            return self._version_in(conn, name, int(model_id), number)

    def version(self, name: str, number: int | None = None) -> ModelVersionInfo:
        """Version ``number`` of the model, or its latest when None."""
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            if number is None:
                number = conn.execute(
                    sa.select(sa.func.max(model_versions.c.number)).where(model_versions.c.model_id == model_id)
                ).scalar()
                if number is None:
                    raise NotFound(f"The model {name!r} has no versions.")
            return self._version_in(conn, name, model_id, int(number))

    def versions(self, name: str) -> builtins.list[ModelVersionInfo]:
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            aliases = self._aliases_by_version(conn, model_id)
            rows = conn.execute(
                sa.select(model_versions).where(model_versions.c.model_id == model_id).order_by(model_versions.c.number)
            ).all()
            return [_version(name, row, aliases.get(int(row.number), ())) for row in rows]

    # -- aliases -----------------------------------------------------------------------------------

    def alias_target(self, name: str, alias: str) -> int:
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            version = conn.execute(
                sa.select(model_aliases.c.version).where(
                    model_aliases.c.model_id == model_id, model_aliases.c.alias == alias
                )
            ).scalar()
        if version is None:
            raise NotFound(f"The model {name!r} has no alias {alias!r}.")
        return int(version)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        *,
        actor: str,
        reason: str = "",
        evidence: Mapping[str, Any] | None = None,
        expected: object = UNCHECKED,
    ) -> AliasMove:
        """Point ``alias`` at ``version`` (None removes it), recording the move as an event.

        ``expected``, when given, is the version the caller believes the alias points at (None: unset);
        the move is refused with :class:`~driftloop.errors.Conflict` if another writer moved it since.
        """
        with self._db.write() as conn:
            model_id = self._model_id(conn, name, lock=True)
            if version is not None:
                self._version_in(conn, name, model_id, version)  # NotFound when it does not exist
            where = (model_aliases.c.model_id == model_id, model_aliases.c.alias == alias)
            current = conn.execute(sa.select(model_aliases.c.version).where(*where)).scalar()
            current = None if current is None else int(current)
            if expected is not UNCHECKED and expected != current:
                raise Conflict(
                    f"The alias {alias!r} of {name!r} points at version {current} now, not {expected}: "
                    "someone moved it meanwhile."
                )
            now = time.time()
            if current is not None:
                conn.execute(model_aliases.delete().where(*where))
            if version is not None:
                conn.execute(
                    model_aliases.insert().values(
                        model_id=model_id, alias=alias, version=version, updated_at=now, updated_by=actor
                    )
                )
            details = {
                "alias": alias,
                "from_version": current,
                "to_version": version,
                "reason": reason,
                "evidence": dict(evidence or {}),
            }
            append_event(
                conn, actor=actor, action=ALIAS_ACTION, object_type="model", object_id=name, details=details, at=now
            )
        return AliasMove(
            model=name,
            alias=alias,
            from_version=current,
            to_version=version,
            at=datetime.fromtimestamp(now, UTC),
            actor=actor,
            reason=reason,
            evidence=dict(evidence or {}),
        )

    def alias_history(self, name: str, alias: str | None = None) -> builtins.list[AliasMove]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        self.get(name)
        query = (
            sa.select(events)
            .where(events.c.object_type == "model", events.c.object_id == name, events.c.action == ALIAS_ACTION)
            .order_by(events.c.id)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        moves = []
        for row in rows:
            details = json.loads(row.details)
            if alias is not None and details["alias"] != alias:
                continue
            moves.append(
                AliasMove(
                    model=name,
                    alias=details["alias"],
                    from_version=details["from_version"],
                    to_version=details["to_version"],
                    at=datetime.fromtimestamp(row.at, UTC),
                    actor=row.actor,
                    reason=details.get("reason", ""),
                    evidence=details.get("evidence", {}),
                )
            )
        return moves

    # -- traffic -----------------------------------------------------------------------------------

    def traffic(self, name: str) -> ModelTraffic:
        """The model's stored traffic policy; everything to the champion when none was ever set."""
        with self._db.read() as conn:
            return self._traffic(conn, name, self._model_id(conn, name))

    def set_traffic(
        self,
        name: str,
        policy: TrafficPolicy,
        *,
        actor: str,
        reason: str = "",
        expected: object = UNCHECKED,
    ) -> ModelTraffic:
        """Store ``policy`` as the model's traffic policy, recording the change (before and after) as an event.

        ``expected``, when given, is the policy the caller believes is stored now; the change is refused with
        :class:`~driftloop.errors.Conflict` if another writer changed it since.
        """
        with self._db.write() as conn:
            model_id = self._model_id(conn, name, lock=True)
            current = self._traffic(conn, name, model_id)
            if expected is not UNCHECKED and expected != current.policy:
                raise Conflict(
                    f"The traffic of {name!r} is {current.policy.describe()} now, not {expected}: someone changed it "
                    "meanwhile."
                )
            now = time.time()
            conn.execute(model_traffic.delete().where(model_traffic.c.model_id == model_id))
            conn.execute(
                model_traffic.insert().values(
                    model_id=model_id,
                    canary=policy.canary,
                    shadow=policy.shadow,
                    challenger=policy.challenger,
                    reason=reason,
                    updated_at=now,
                    updated_by=actor,
                )
            )
            details = {
                "before": dataclasses.asdict(current.policy),
                "after": dataclasses.asdict(policy),
                "reason": reason,
            }
            append_event(
                conn, actor=actor, action=TRAFFIC_ACTION, object_type="model", object_id=name, details=details, at=now
            )
        return ModelTraffic(
            model=name, policy=policy, updated_at=datetime.fromtimestamp(now, UTC), updated_by=actor, reason=reason
        )

    def referenced_digests(self) -> set[str]:
        columns = (model_versions.c.manifest_digest, model_versions.c.profile_digest, model_versions.c.evaluation)
        digests: set[str] = set()
        with self._db.read() as conn:
            for manifest, profile, evaluation in conn.execute(sa.select(*columns)):
                digests.add(manifest)
                if profile:
                    digests.add(profile)
                digests.update(json.loads(evaluation).get("blobs", {}).values())
        return digests

    # -- rows to entities --------------------------------------------------------------------------

    def _model_id(self, conn: Connection, name: str, *, lock: bool = False) -> int:
        query = sa.select(registered_models.c.id).where(registered_models.c.name == name)
        model_id = conn.execute(query.with_for_update() if lock else query).scalar()
        if model_id is None:
            raise NotFound(f"No registered model named {name!r}.")
        return int(model_id)

    def _version_in(self, conn: Connection, name: str, model_id: int, number: int) -> ModelVersionInfo:
        row = conn.execute(
            sa.select(model_versions).where(model_versions.c.model_id == model_id, model_versions.c.number == number)
        ).first()
        if row is None:
            raise NotFound(f"The model {name!r} has no version {number}.")
        return _version(name, row, self._aliases_by_version(conn, model_id).get(number, ()))

    @staticmethod
    def _traffic(conn: Connection, name: str, model_id: int) -> ModelTraffic:
        row = conn.execute(sa.select(model_traffic).where(model_traffic.c.model_id == model_id)).first()
        if row is None:
            return ModelTraffic(model=name)
        policy = TrafficPolicy(canary=float(row.canary), shadow=bool(row.shadow), challenger=row.challenger)
        return ModelTraffic(
            model=name,
            policy=policy,
            updated_at=datetime.fromtimestamp(row.updated_at, UTC),
            updated_by=row.updated_by,
            reason=row.reason,
        )

    @staticmethod
    def _aliases_by_version(conn: Connection, model_id: int) -> dict[int, tuple[str, ...]]:
        found: dict[int, builtins.list[str]] = {}
        query = (
            sa.select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.model_id == model_id)
            .order_by(model_aliases.c.alias)
        )
        for alias, version in conn.execute(query):
            found.setdefault(int(version), []).append(alias)
        return {version: tuple(names) for version, names in found.items()}

    @staticmethod
    def _model(conn: Connection, row: Any) -> RegisteredModel:
        latest = conn.execute(
            sa.select(sa.func.max(model_versions.c.number)).where(model_versions.c.model_id == row.id)
        ).scalar()
        aliases = conn.execute(
            sa.select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.model_id == row.id)
            .order_by(model_aliases.c.alias)
        ).all()
        return RegisteredModel(
            id=int(row.id),
            name=row.name,
            created_at=datetime.fromtimestamp(row.created_at, UTC),
            created_by=row.created_by,
            description=row.description,
            latest_version=None if latest is None else int(latest),
            aliases={alias: int(version) for alias, version in aliases},
        )


def _dump(document: Mapping[str, Any]) -> str:
    return json.dumps(dict(document), sort_keys=True, default=str)


def _version(name: str, row: Any, aliases: tuple[str, ...]) -> ModelVersionInfo:
    return ModelVersionInfo(
        model=name,
        number=int(row.number),
        manifest_digest=row.manifest_digest,
        flavour=row.flavour,
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        created_by=row.created_by,
        task=row.task,
        run_id=row.run_id,
        dataset=row.dataset,
        dataset_version=row.dataset_version,
        signature=json.loads(row.signature),
        metrics=json.loads(row.metrics),
        evaluation=json.loads(row.evaluation),
        profile_digest=row.profile_digest,
        description=row.description,
        aliases=aliases,
    )
