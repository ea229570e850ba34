"""The writes a run in progress makes, on behalf of one actor: what an ActiveRun talks to.

Everything a caller passes is checked here before anything is written, so a bad key or value leaves
no trace.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from driftloop.entities import Artifact, DatasetInput, Resources, Run, RunStatus
from driftloop.errors import InvalidInput, NotFound
from driftloop.names import validate_key, validate_name
from driftloop.store.blobs import BlobStore
from driftloop.store.metadata import MetadataStore
from driftloop.types import MetricRow

__all__ = ["RunWriter", "RunWrites", "artifact_path_of", "artifact_targets", "as_text", "check_inputs"]

MAX_TEXT_LENGTH = 65_535
MAX_DATASET_VERSION = 2**31 - 1


class RunWrites(Protocol):
    """What an :class:`~driftloop.tracking.ActiveRun` writes through: the store here, or a workspace server."""

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None: ...
    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None: ...
    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput]) -> None: ...
    def append_points(self, run_id: str, points: Sequence[MetricRow]) -> None: ...
    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None) -> list[Artifact]: ...
    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> Artifact: ...
    def end_run(self, run_id: str, *, status: RunStatus, resources: Resources, details: Mapping[str, Any]) -> Run: ...


class RunWriter:
    """Writes params, tags, inputs, artifacts, metric points and the end of runs, as ``actor``."""

    def __init__(self, metadata: MetadataStore, blobs: BlobStore, *, actor: str) -> None:
        self.metadata = metadata
        self.blobs = blobs
        self.actor = actor

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        if values:
            self.metadata.runs.log_params(run_id, as_text("param", values), actor=self.actor)

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        if values:
            self.metadata.runs.set_tags(run_id, as_text("tag", values), actor=self.actor)

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        self.metadata.runs.add_inputs(run_id, check_inputs(inputs), actor=self.actor)

    def append_points(self, run_id: str, points: Sequence[MetricRow]) -> None:
        self.metadata.metrics.append(run_id, points)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None) -> list[Artifact]:
        targets = artifact_targets(path, artifact_path)
        stored = [Artifact(target, self.blobs.put_file(file), file.stat().st_size) for file, target in targets]
        self.metadata.artifacts.add(run_id, stored, actor=self.actor)
        # Garbage collection may have taken a blob that existed before this run reused it, between the
        # put and the commit of the row above: store such a blob again, now that a row protects it.
        for (file, _), artifact in zip(targets, stored, strict=True):
            if not self.blobs.exists(artifact.digest):
                self.blobs.put_file(file)
        return stored

    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> Artifact:
        artifact = Artifact(artifact_path_of(artifact_path), self.blobs.put(data), len(data))
        self.metadata.artifacts.add(run_id, [artifact], actor=self.actor)
        if not self.blobs.exists(artifact.digest):  # see log_artifact
            self.blobs.put(data)
        return artifact

    def end_run(self, run_id: str, *, status: RunStatus, resources: Resources, details: Mapping[str, Any]) -> Run:
        return self.metadata.runs.end(
            run_id, status=status, end_time=time.time(), resources=resources, actor=self.actor, details=details
        )


def as_text(kind: str, values: Mapping[str, Any]) -> dict[str, str]:
    """Params and tags are stored as text: check each key and render each value."""
    text = {}
    for key, value in values.items():
        validate_key(kind, key)
        rendered = value if isinstance(value, str) else str(value)
        if len(rendered) > MAX_TEXT_LENGTH:
            raise InvalidInput(f"The {kind} {key!r} is {len(rendered):,} characters long; the limit is 65,535.")
        text[key] = rendered
    return text


def check_inputs(inputs: Sequence[DatasetInput]) -> list[DatasetInput]:
    for item in inputs:
        validate_name("dataset", item.dataset)
        validate_key("input role", item.role, max_length=64)
        version = item.version
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= MAX_DATASET_VERSION:
            raise InvalidInput(f"A dataset version is an integer from 0 to {MAX_DATASET_VERSION:,}; got {version!r}.")
    return list(inputs)


def artifact_targets(path: Path, artifact_path: str | None) -> list[tuple[Path, str]]:
    """The files to store for ``path`` (a file, or every file below a folder), each with its artifact path.

    A file lands at the top level under its own name, and a folder's files under the folder's name, unless
    ``artifact_path`` names the folder to store them under.
    """
    if not path.exists():
        raise NotFound(f"No file or folder at {str(path)!r} to log as an artifact.")
    folder = artifact_path_of(artifact_path) if artifact_path else ""
    if path.is_dir():
        folder = folder or artifact_path_of(path.name)
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return [(file, f"{folder}/{file.relative_to(path).as_posix()}") for file in files]
    return [(path, f"{folder}/{path.name}" if folder else artifact_path_of(path.name))]


def artifact_path_of(path: str) -> str:
    cleaned = path.replace("\\", "/").strip("/")
    validate_key("artifact", cleaned, max_length=1024)
    return cleaned
