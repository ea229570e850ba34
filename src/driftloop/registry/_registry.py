"""The model registry service (``ws.models``): register, load by reference, move aliases, gate, roll back.

A registration writes the model's files first (content-addressed blobs: nothing refers to them yet, so a
failure leaves only garbage that ``driftloop gc`` collects) and then the version row and its event in one
metadata transaction: a failed registration leaves no version.
"""

from __future__ import annotations

import builtins
import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from driftloop.entities import AliasMove, ModelTraffic, ModelVersionInfo, RegisteredModel, TrafficPolicy
from driftloop.errors import GateFailed, InvalidInput, InvalidState, NotFound, PermissionDenied
from driftloop.names import validate_name
from driftloop.registry._flavours import LoadedModel, Manifest, load_model, package_model
from driftloop.registry._references import ModelReference, parse_reference
from driftloop.registry._signature import Signature
from driftloop.store.metadata import NewModelVersion

if TYPE_CHECKING:
    from driftloop.data import Datasets, DatasetVersion
    from driftloop.store.blobs import BlobStore
    from driftloop.store.metadata import MetadataStore
    from driftloop.training._gates import Gate, GateReport
    from driftloop.training._tasks import Task

__all__ = ["ModelRegistry", "input_sample", "row_hashes", "version_differences"]

SIGNING_KEY = "model-signing"
CHAMPION = "champion"


class ModelRegistry:
    """Registered models: versions, aliases and their history, safe model files.

    Args:
        metadata: The metadata store.
        blobs: The blob store holding model files, holdouts and profiles.
        datasets: The datasets service (to resolve ``dataset=`` and read data schemas).
        actor: Who registers and moves aliases.
        current_run: The active run, recorded on a registration made inside one.
    """

    def __init__(
        self,
        metadata: MetadataStore,
        blobs: BlobStore,
        *,
        datasets: Datasets,
        actor: str,
        current_run: Callable[[], Any] = lambda: None,
    ) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._datasets = datasets
        self._actor = actor
        self._current_run = current_run

    # -- registering -------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: object,
        *,
        signature: Signature | pd.DataFrame | None = None,
        dataset: str | DatasetVersion | tuple[str, int] | None = None,
        run: str | None = None,
        task: str | None = None,
        target: str | None = None,
        holdout: pd.DataFrame | None = None,
        training_data: pd.DataFrame | None = None,
        metrics: Mapping[str, float] | None = None,
        gates: Sequence[Gate | str | Mapping[str, Any]] | None = None,
        alias: str | None = None,
        description: str = "",
        evaluation: Mapping[str, Any] | None = None,
        onnx: bool = True,
        reason: str = "",
        adopt_pickle: bool = False,
    ) -> ModelVersionInfo:
        """Register ``model`` as the next version of ``name``.

        Args:
            name: The registered model's name (created on its first version).
            model: A fitted scikit-learn estimator or pipeline, LightGBM or XGBoost model (alone or as the
                last step of a pipeline), or River model; or the :class:`Manifest` of a model packaged elsewhere
                (a remote client's) whose parts are in the blob store already, which the registry then signs.
            signature: The input signature, or a frame of inputs to infer it from. By default it comes from
                the dataset's data schema (the feature columns), else from ``training_data`` or ``holdout``.
            dataset: The dataset version the model was trained on: a :class:`DatasetVersion`, ``(name,
                version)``, or a name (its latest version).
            run: The run that trained it; by default the active run, if any.
            task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the model when left out.
            target: The target column of ``holdout`` and ``training_data``.
            holdout: Rows neither this model nor (where the registry can tell) its champion trained on,
                with the target column. The model is scored on them, and they are kept, so that a gate can
                later score another version on exactly these rows.
            training_data: The rows the model was trained on (features and target): their profile becomes
                the drift reference, and their hashes let a gate keep the champion's training rows out of
                a comparison.
            metrics: Further metrics to record (the holdout's are computed when ``holdout`` is given).
            gates: Gates the version must pass before it is registered (see :meth:`check_gates`); they are
                recorded with the version, and ``driftloop gate`` checks them again.
            alias: An alias to point at the new version (e.g. ``"challenger"``).
            description: Free text.
            evaluation: Further facts about how the model was validated (cross-validation, split), recorded.
            onnx: Whether to try an ONNX export (kept only when it matches the native model).
            reason: Why the alias moves (recorded with ``alias``).
            adopt_pickle: With the :class:`Manifest` of a River model packaged elsewhere: sign its state (a pickle,
                which runs code where it loads) with the workspace key too. Only for a caller trusted to run code
                where the workspace is: a workspace server passes it for an admin only.

        Raises:
            GateFailed: A gate failed; nothing is registered. The message lists every gate, number by number.
        """
        name = validate_name("model", name)
        if alias is not None:
            alias = validate_name("alias", alias)
        dataset_version = self._dataset_version(dataset)
        sample = input_sample(holdout, training_data, target)
        from driftloop.training._evaluation import evaluate_model
        from driftloop.training._gates import parse_gates

        parsed_gates = parse_gates(list(gates)) if gates else []
        signing_key = self._metadata.keys.get_or_create(SIGNING_KEY)
        if isinstance(model, Manifest):
            manifest = self._adopted(model, signing_key, adopt_pickle=adopt_pickle)
        else:
            manifest = package_model(model, put=self._blobs.put, sample=sample, signing_key=signing_key, task=task)
        task = task or manifest.task
        recorded: dict[str, float] = {}
        facts: dict[str, Any] = dict(evaluation or {})
        blobs: dict[str, str] = dict(facts.pop("blobs", {}))
        if holdout is not None:
            assert target is not None
            loaded = load_model(manifest, get=self._blobs.get, signing_key=signing_key)
            scored = evaluate_model(
                loaded, holdout.drop(columns=[target]), holdout[target], _task(task, holdout[target])
            )
            recorded.update(scored.metrics)
            facts["holdout_rows"] = len(holdout)
            facts["holdout_fingerprint"] = frame_fingerprint(holdout)
            if scored.confusion_matrix is not None:
                facts["confusion_matrix"] = scored.confusion_matrix
                facts["labels"] = scored.labels
            blobs["holdout"] = self._blobs.put(_parquet(holdout))
        if training_data is not None:
            blobs["training_rows"] = self._blobs.put(row_hashes(training_data).tobytes())
        recorded.update({key: float(value) for key, value in (metrics or {}).items()})
        if target is not None:
            facts["target"] = target
        if parsed_gates:
            facts["gates"] = [_gate_spec(gate) for gate in parsed_gates]
        # Every blob the version needs is listed on its row, so garbage collection keeps the model's files.
        blobs.update({f"file/{part.name}": part.digest for part in manifest.parts})
        facts["blobs"] = blobs
        info_signature = self._signature(signature, dataset_version, manifest, target, training_data, holdout)
        profile_digest = self._profile(training_data, dataset_version)

        if parsed_gates:
            report = self._check(name, None, parsed_gates, recorded, facts, loaded_candidate=None, manifest=manifest)
            if not report.passed:
                raise GateFailed(
                    f"The new version of {name!r} failed its gates and was not registered:\n{report.explain()}",
                    report=report,
                )
            facts["gate_report"] = report.to_dict()

        active = self._current_run()
        run_id = run if run is not None else (active.id if active is not None else None)
        manifest_digest = self._blobs.put(manifest.to_json())
        info = self._metadata.models.create_version(
            name,
            NewModelVersion(
                manifest_digest=manifest_digest,
                flavour=manifest.flavour,
                task=task,
                run_id=run_id,
                dataset=None if dataset_version is None else dataset_version.name,
                dataset_version=None if dataset_version is None else dataset_version.number,
                signature=info_signature.to_dict() if info_signature is not None else {},
                metrics=recorded,
                evaluation=facts,
                profile_digest=profile_digest,
                description=description,
            ),
            actor=self._actor,
        )
        if alias is not None:
            self.set_alias(name, alias, info.number, reason=reason or "registered")
            info = self._metadata.models.version(name, info.number)
        return info

    # -- reading -----------------------------------------------------------------------------------

    def get(self, reference: str) -> ModelVersionInfo:
        """The version a reference names: ``"houses"`` (latest), ``"houses/3"``, ``"houses@champion"``."""
        ref = parse_reference(reference)
        return self._metadata.models.version(ref.name, self._number(ref))

    def load(self, reference: str, *, trusted: Sequence[str] = ()) -> LoadedModel:
        """Load a version ready to predict; every file's digest is checked first.

        ``trusted`` lists further types (``"module.Class"``) a scikit-learn file may contain: an explicit
        opt-in for custom code, which skops would otherwise refuse to load.
        """
        info = self.get(reference)
        return load_model(
            self.manifest(info),
            get=self._blobs.get,
            signing_key=self._metadata.keys.get_or_create(SIGNING_KEY),
            trusted=trusted,
        )

    def manifest(self, version: ModelVersionInfo | str) -> Manifest:
        """The manifest (parts, digests, ONNX check) of a version, its signature checked.

        Raises:
            PermissionDenied: The manifest is not signed with this workspace's key.
        """
        info = self.get(version) if isinstance(version, str) else version
        manifest = Manifest.from_json(self._blobs.get(info.manifest_digest))
        manifest.verify(self._metadata.keys.get_or_create(SIGNING_KEY))
        return manifest

    def part(self, version: ModelVersionInfo | str, name: str) -> bytes:
        """The bytes of one file of a version (its manifest names them), checked against their digest."""
        return self._blobs.get(self.manifest(version).part(name).digest)

    def signature(self, reference: str) -> Signature | None:
        info = self.get(reference)
        return Signature.from_dict(info.signature) if info.signature else None

    def list(self) -> builtins.list[RegisteredModel]:
        return self._metadata.models.list()

    def model(self, name: str) -> RegisteredModel:
        return self._metadata.models.get(name)

    def versions(self, name: str) -> builtins.list[ModelVersionInfo]:
        return self._metadata.models.versions(name)

    def holdout(self, reference: str) -> pd.DataFrame:
        """The holdout rows a version was scored on at registration (with its target column)."""
        info = self.get(reference)
        digest = info.evaluation.get("blobs", {}).get("holdout")
        if digest is None:
            raise NotFound(f"The model version {info.reference} was registered without a holdout.")
        frame: pd.DataFrame = pq.read_table(io.BytesIO(self._blobs.get(digest))).to_pandas()
        return frame

    # -- aliases -----------------------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str = "",
        evidence: Mapping[str, Any] | None = None,
        expected: object = None,
    ) -> AliasMove:
        """Point ``alias`` at ``version`` of ``name``, recording who, when, why and the evidence."""
        alias = validate_name("alias", alias)
        kwargs: dict[str, Any] = {} if expected is None else {"expected": expected}
        return self._metadata.models.set_alias(
            name, alias, version, actor=self._actor, reason=reason, evidence=evidence, **kwargs
        )

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> AliasMove:
        self._metadata.models.alias_target(name, alias)  # NotFound when unset
        return self._metadata.models.set_alias(name, alias, None, actor=self._actor, reason=reason)

    def promote(
        self,
        reference: str,
        *,
        alias: str = CHAMPION,
        reason: str = "",
        gates: Sequence[Gate | str | Mapping[str, Any]] | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> AliasMove:
        """Point ``alias`` (champion by default) at the version ``reference`` names, after its gates pass.

        ``gates`` default to the gates recorded at registration. A gate comparing with the champion scores
        the current champion on this version's holdout, on identical rows.

        Raises:
            GateFailed: A gate failed; the alias does not move.
        """
        info = self.get(reference)
        report = self.check_gates(info.reference, gates=gates, against=alias)
        if report is not None and not report.passed:
            raise GateFailed(
                f"{info.reference} failed its gates and was not promoted to {alias!r}:\n{report.explain()}",
                report=report,
            )
        facts = dict(evidence or {})
        facts.setdefault("metrics", dict(info.metrics))
        if report is not None:
            facts["gates"] = report.to_dict()
        return self.set_alias(info.model, alias, info.number, reason=reason or "promoted", evidence=facts)

    def rollback(self, name: str, *, alias: str = CHAMPION, reason: str = "") -> AliasMove:
        """Point ``alias`` back at the version it held before its current one.

        The alias's history is read as a stack: each move pushes its version and each rollback pops one, so
        rolling back twice goes two versions back, never forth again to the version just rolled back from.
        """
        current = self._metadata.models.alias_target(name, alias)
        held: builtins.list[int] = []
        for move in self._metadata.models.alias_history(name, alias):
            if "rolled_back" in move.evidence and held:
                held.pop()
            elif move.to_version is not None:
                held.append(move.to_version)
            else:
                held.clear()
        while held and held[-1] == current:
            held.pop()
        if not held:
            raise InvalidState(f"The alias {alias!r} of {name!r} has no earlier version to roll back to.")
        return self.set_alias(
            name,
            alias,
            held[-1],
            reason=reason or f"rollback from version {current}",
            evidence={"rolled_back": current},
            expected=current,
        )

    def history(self, name: str, alias: str | None = None) -> builtins.list[AliasMove]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        return self._metadata.models.alias_history(name, alias)

    # -- traffic ---------------------------------------------------------------------------------------

    def traffic(self, name: str) -> ModelTraffic:
        """How the model's servers share its requests with its challenger (everything to the champion when unset)."""
        return self._metadata.models.traffic(validate_name("model", name))

    def set_traffic(
        self,
        name: str,
        *,
        canary: float = 0.0,
        shadow: bool = False,
        challenger: str = "challenger",
        reason: str = "",
        expected: TrafficPolicy | None = None,
    ) -> ModelTraffic:
        """Set the share of the model's requests its challenger answers (``canary``, sticky by request key) and
        whether it scores a copy of each (``shadow``, logged only). Every server of the model that was not started
        with a traffic policy of its own follows within its poll interval (a second by default). The defaults send
        everything to the champion again. The change is an event naming who made it, why, and the policy before.

        ``expected`` is the policy the caller believes is set now: the change is refused with
        :class:`~driftloop.errors.Conflict` if someone changed it since.
        """
        policy = TrafficPolicy(canary=canary, shadow=shadow, challenger=challenger)
        kwargs: dict[str, Any] = {} if expected is None else {"expected": expected}
        return self._metadata.models.set_traffic(
            validate_name("model", name), policy, actor=self._actor, reason=reason, **kwargs
        )

    # -- gates and comparisons ---------------------------------------------------------------------

    def check_gates(
        self,
        reference: str,
        *,
        gates: Sequence[Gate | str | Mapping[str, Any]] | None = None,
        against: str = CHAMPION,
    ) -> GateReport | None:
        """Check a registered version's gates (given, or recorded at registration); None when it has none.

        A gate comparing with the champion (the version ``against`` points at) scores both models on this
        version's holdout, on identical rows, leaving out any row the champion trained on.
        """
        from driftloop.training._gates import parse_gates

        info = self.get(reference)
        specs = list(gates) if gates is not None else list(info.evaluation.get("gates", []))
        if not specs:
            return None
        parsed = parse_gates(specs)
        return self._check(info.model, info, parsed, dict(info.metrics), dict(info.evaluation), against=against)

    def compare(self, reference: str, other: str) -> dict[str, Any]:
        """Score two versions on the first one's holdout, identical rows; returns both metric sets."""
        info = self.get(reference)
        other_info = self.get(other)
        frame, target = self._holdout_frame(info)
        frame = self._exclude_training_rows(frame, other_info)
        task = info.task or other_info.task
        first = self._score(info, frame, target, task)
        second = self._score(other_info, frame, target, task)
        return {
            "rows": len(frame),
            "holdout_fingerprint": frame_fingerprint(frame),
            info.reference: first,
            other_info.reference: second,
        }

    def diff(self, reference: str, other: str) -> dict[str, Any]:
        """What differs between two versions: metrics, signature columns, dataset, flavour."""
        return version_differences(self.get(reference), self.get(other))

    # -- internals ---------------------------------------------------------------------------------

    def _adopted(self, manifest: Manifest, signing_key: bytes, *, adopt_pickle: bool) -> Manifest:
        """A manifest packaged elsewhere, signed once its parts are stored; a pickle (a River model's state, which
        loads as code) only when ``adopt_pickle`` says its sender is trusted to run code here."""
        if manifest.flavour == "river" and not adopt_pickle:
            raise PermissionDenied(
                "A River model's state is a pickle, which runs code where it loads: through a workspace server, "
                "registering one needs the admin role on the workspace."
            )
        missing = [part.name for part in manifest.parts if not self._blobs.exists(part.digest)]
        if missing:
            raise InvalidInput(f"The model's parts {', '.join(map(repr, missing))} were not uploaded before it.")
        if manifest.flavour == "river":
            from driftloop.registry._flavours._river import resign_river

            state = self._blobs.get(manifest.part("state").digest)
            manifest = resign_river(manifest, state, signing_key)
        return manifest.signed(signing_key)

    def _number(self, ref: ModelReference) -> int | None:
        if ref.alias is not None:
            if ref.alias == "latest":
                return None
            return self._metadata.models.alias_target(ref.name, ref.alias)
        return ref.version

    def _dataset_version(self, dataset: str | DatasetVersion | tuple[str, int] | None) -> DatasetVersion | None:
        if dataset is None:
            return None
        if isinstance(dataset, str):
            return self._datasets.get(dataset)
        if isinstance(dataset, tuple):
            name, number = dataset
            return self._datasets.get(name, version=number)
        return dataset

    def _signature(
        self,
        given: Signature | pd.DataFrame | None,
        dataset: DatasetVersion | None,
        manifest: Manifest,
        target: str | None,
        training_data: pd.DataFrame | None,
        holdout: pd.DataFrame | None,
    ) -> Signature | None:
        classes = manifest.classes
        if isinstance(given, Signature):
            return given
        if isinstance(given, pd.DataFrame):
            return Signature.infer(given, target=target if target in given.columns else None, classes=classes)
        if given is not None:
            raise InvalidInput(f"signature= takes a Signature or a pandas DataFrame; got {type(given).__name__}.")
        features = list(manifest.feature_names)
        if dataset is not None and features:
            try:
                schema = self._datasets.schema(dataset.name)
            except InvalidState:
                schema = None
            if schema is not None and all(name in schema.names for name in features):
                known_target = target if target is not None and target in schema.names else None
                return Signature.from_schema(schema, features, target=known_target, classes=classes)
        frame = training_data if training_data is not None else holdout
        if frame is not None:
            return Signature.infer(frame, target=target, classes=classes)
        return None

    def _profile(self, training_data: pd.DataFrame | None, dataset: DatasetVersion | None) -> str | None:
        if training_data is not None:
            from driftloop.data.profiles import profile_table

            profile = profile_table([pa.Table.from_pandas(training_data, preserve_index=False)])
            return self._blobs.put(profile.to_bytes())
        if dataset is not None:
            if dataset.info.mode == "overwrite" or dataset.number == 1:
                return dataset.info.profile_digest  # the ingest's own profile covers every row of the version
            try:  # an appended version holds the rows before it too: its profile is the merge of theirs
                return self._blobs.put(self._datasets.profile(dataset.name, dataset.number).to_bytes())
            except InvalidState:  # a profile in the chain is missing: no reference rather than a wrong one
                return None
        return None

    def _holdout_frame(self, info: ModelVersionInfo) -> tuple[pd.DataFrame, str]:
        target = info.evaluation.get("target")
        if target is None or "holdout" not in info.evaluation.get("blobs", {}):
            raise InvalidState(
                f"The model version {info.reference} was registered without a holdout, so it cannot be "
                "compared with another version on identical rows."
            )
        return self.holdout(info.reference), str(target)

    def _exclude_training_rows(self, frame: pd.DataFrame, other: ModelVersionInfo) -> pd.DataFrame:
        """``frame`` without the rows ``other`` trained on (when it recorded them)."""
        digest = other.evaluation.get("blobs", {}).get("training_rows")
        if digest is None:
            return frame
        trained = np.frombuffer(self._blobs.get(digest), dtype=np.uint64)
        seen = np.isin(row_hashes(frame), trained)
        return frame.loc[~seen] if seen.any() else frame

    def _score(self, info: ModelVersionInfo, frame: pd.DataFrame, target: str, task: str | None) -> dict[str, float]:
        from driftloop.training._evaluation import evaluate_model

        model = self.load(info.reference)
        return dict(
            evaluate_model(model, frame.drop(columns=[target]), frame[target], _task(task, frame[target])).metrics
        )

    def _check(
        self,
        name: str,
        info: ModelVersionInfo | None,
        gates: Sequence[Gate],
        candidate_metrics: dict[str, float],
        facts: dict[str, Any],
        *,
        against: str = CHAMPION,
        loaded_candidate: LoadedModel | None = None,
        manifest: Manifest | None = None,
    ) -> GateReport:
        from driftloop.training._evaluation import evaluate_model
        from driftloop.training._gates import BeatsChampion, check_gates

        champion: ModelVersionInfo | None = None
        try:
            number = self._metadata.models.alias_target(name, against)
            champion = self._metadata.models.version(name, number)
        except NotFound:
            champion = None
        if champion is not None and info is not None and champion.number == info.number:
            champion = None  # a version is not compared with itself
        champion_metrics: dict[str, float] | None = None
        fingerprints: dict[str, str | None] = {"candidate": None, "champion": None}
        if champion is not None and any(isinstance(gate, BeatsChampion) for gate in gates):
            holdout_digest = facts.get("blobs", {}).get("holdout")
            target = facts.get("target")
            if holdout_digest is None or target is None:
                raise InvalidState(
                    "A gate compares with the champion, but this version has no holdout to score both on; "
                    "register it with holdout= and target=."
                )
            frame = pq.read_table(io.BytesIO(self._blobs.get(holdout_digest))).to_pandas()
            frame = self._exclude_training_rows(frame, champion)
            if frame.empty:
                raise InvalidState(
                    f"Every holdout row of this version is a row the champion {champion.reference} trained on; "
                    "there is nothing left to compare them on."
                )
            task = (info.task if info is not None else None) or champion.task
            if info is not None:
                candidate = self.load(info.reference)
            else:
                assert manifest is not None
                candidate = load_model(
                    manifest, get=self._blobs.get, signing_key=self._metadata.keys.get_or_create(SIGNING_KEY)
                )
            features, labels = frame.drop(columns=[target]), frame[target]
            task = _task(task, labels)
            candidate_metrics = {**candidate_metrics, **evaluate_model(candidate, features, labels, task).metrics}
            champion_metrics = dict(evaluate_model(self.load(champion.reference), features, labels, task).metrics)
            fingerprints = {"candidate": frame_fingerprint(frame), "champion": frame_fingerprint(frame)}
        elif champion is not None:
            champion_metrics = dict(champion.metrics)
        return check_gates(
            gates,
            candidate_metrics,
            champion_metrics,
            holdout_fingerprint=fingerprints["candidate"],
            champion_holdout_fingerprint=fingerprints["champion"],
        )


def row_hashes(frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """One 64-bit hash per row, over the values of every column (not the index), in column-name order."""
    ordered = frame[sorted(frame.columns)]
    hashes = pd.util.hash_pandas_object(ordered, index=False).to_numpy(dtype=np.uint64)
    return cast("np.ndarray[Any, np.dtype[np.uint64]]", hashes)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 over the row hashes, in order: equal for identical rows in the same order."""
    return hashlib.sha256(row_hashes(frame).tobytes()).hexdigest()


def _task(task: str | None, labels: pd.Series) -> Task:
    """The task a version was registered for, or the one its labels pose when that is unknown."""
    from driftloop.training._tasks import infer_task, validate_task

    return validate_task(task) if task is not None else infer_task(labels)


def _gate_spec(gate: Gate) -> dict[str, Any]:
    """A gate as plain data that :func:`~driftloop.training._gates.parse_gates` reads back."""
    from driftloop.training._gates import Threshold

    if isinstance(gate, Threshold):
        return {"metric": gate.metric, "min": gate.min, "max": gate.max}
    return {"metric": gate.metric, "beats_champion_by": gate.delta}


def _parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def _signature_columns(signature: Mapping[str, Any]) -> dict[str, str]:
    inputs = signature.get("inputs", {})
    return {column["name"]: column.get("type", column.get("dtype", "")) for column in inputs.get("columns", [])}


def _dataset_label(info: ModelVersionInfo) -> str | None:
    return None if info.dataset is None else f"{info.dataset}/{info.dataset_version}"


def input_sample(
    holdout: pd.DataFrame | None, training_data: pd.DataFrame | None, target: str | None
) -> pd.DataFrame | None:
    """The inputs a packaged model's ONNX copy is checked on (the holdout's, else up to 1,000 training rows), once
    ``target`` is known to be given with the frames and to be one of their columns.

    Raises:
        InvalidInput: A frame without ``target``, or frames without ``target=``.
    """
    if holdout is None and training_data is None:
        return None
    if target is None:
        raise InvalidInput("Give target= (the target column) with holdout= or training_data=.")
    for label, frame in (("holdout", holdout), ("training_data", training_data)):
        if frame is not None and target not in frame.columns:
            raise InvalidInput(f"The {label} frame has no target column {target!r}.")
    if holdout is not None:
        return holdout.drop(columns=[target])
    assert training_data is not None
    return training_data.drop(columns=[target]).head(1000)


def version_differences(first: ModelVersionInfo, second: ModelVersionInfo) -> dict[str, Any]:
    """What differs between two versions: metrics, signature columns, dataset, flavour."""
    metrics = {
        key: {
            "a": first.metrics.get(key),
            "b": second.metrics.get(key),
            "change": (second.metrics[key] - first.metrics[key])
            if key in first.metrics and key in second.metrics
            else None,
        }
        for key in sorted(set(first.metrics) | set(second.metrics))
    }
    columns_a = _signature_columns(first.signature)
    columns_b = _signature_columns(second.signature)
    shared = set(columns_a) & set(columns_b)
    return {
        "a": first.reference,
        "b": second.reference,
        "flavour": (first.flavour, second.flavour),
        "dataset": (_dataset_label(first), _dataset_label(second)),
        "metrics": metrics,
        "columns_added": sorted(set(columns_b) - set(columns_a)),
        "columns_removed": sorted(set(columns_a) - set(columns_b)),
        "columns_retyped": sorted(name for name in shared if columns_a[name] != columns_b[name]),
    }
