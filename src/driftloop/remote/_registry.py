"""The model registry through a workspace server: the methods of :class:`driftloop.registry.ModelRegistry`.

A registration packages the model here (the same parts an embedded registry writes: skops for scikit-learn, native
files for LightGBM and XGBoost, an ONNX copy checked against the model), uploads each file under its SHA-256, and
registers the manifest; the server scores it on the holdout, checks its gates and signs it. Gates, promotions and
comparisons run on the server, which holds both models. Loading fetches the manifest the server has checked and
each file, whose digest is checked again here. A River model's state is a pickle, which runs code where it loads:
registering one needs the admin role (the server signs its state with the workspace key); loading one unpickles
the state once its bytes match the digest of the manifest the server checked.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from driftloop.entities import AliasMove, ModelTraffic, ModelVersionInfo, RegisteredModel, TrafficPolicy
from driftloop.errors import BlobIntegrityError, InvalidInput
from driftloop.names import validate_name
from driftloop.registry._flavours import LoadedModel, Manifest, load_checked_model, package_model
from driftloop.registry._references import parse_reference
from driftloop.registry._registry import CHAMPION, input_sample, version_differences
from driftloop.registry._signature import Signature
from driftloop.remote._client import ServerClient, decode, decode_list, quoted

if TYPE_CHECKING:
    from driftloop.data import DatasetVersion
    from driftloop.training._gates import Gate, GateReport

__all__ = ["RemoteModels"]

UNSIGNED = b"\0" * 32
"""The key a client packages with: the server signs the manifest with the workspace key, after its checks."""


class RemoteModels:
    """The model registry of a workspace served by ``driftloop server``. Reach it as ``Workspace(url).models``."""

    def __init__(self, client: ServerClient, *, current_run: Callable[[], Any]) -> None:
        self._client = client
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
    ) -> ModelVersionInfo:
        """Register ``model`` as the next version of ``name`` (see :meth:`driftloop.registry.ModelRegistry.register`).

        Moving an alias is a deployer's act: register, then :meth:`set_alias` or :meth:`promote`.

        Raises:
            GateFailed: A gate failed on the server; nothing is registered.
        """
        name = validate_name("model", name)
        if alias is not None:
            raise InvalidInput(
                "A registration through a workspace server moves no alias (a deployer's act): register the version, "
                "then promote it or set the alias."
            )
        sample = input_sample(holdout, training_data, target)
        files: dict[str, bytes] = {}

        def keep(data: bytes) -> str:
            digest = hashlib.sha256(data).hexdigest()
            files[digest] = data
            return digest

        manifest = package_model(model, put=keep, sample=sample, signing_key=UNSIGNED, task=task, onnx=onnx)
        body: dict[str, Any] = {
            "manifest": orjson.loads(manifest.to_json()),
            "signature": _signature(signature, target, manifest),
            "run_id": run if run is not None else _run_id(self._current_run()),
            "task": task,
            "target": target,
            "holdout": None if holdout is None else keep(_parquet(holdout)),
            "training_data": None if training_data is None else keep(_parquet(training_data)),
            "metrics": {key: float(value) for key, value in (metrics or {}).items()},
            "gates": None if not gates else [_gate_spec(gate) for gate in gates],
            "description": description,
            "evaluation": dict(evaluation or {}),
            **_dataset(dataset),
        }
        for digest, data in files.items():
            self._client.request(
                "PUT",
                quoted("models", name, "files", digest),
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
        return decode(ModelVersionInfo, self._client.send("POST", quoted("models", name, "versions"), body))

    # -- reading -----------------------------------------------------------------------------------

    def get(self, reference: str) -> ModelVersionInfo:
        """The version a reference names: ``"houses"`` (latest), ``"houses/3"``, ``"houses@champion"``."""
        ref = parse_reference(reference)
        if ref.version is not None:
            path = quoted("models", ref.name, "versions", ref.version)
        else:
            path = quoted("models", ref.name, "aliases", ref.alias or "latest")
        return decode(ModelVersionInfo, self._client.get(path))

    def load(self, reference: str, *, trusted: Sequence[str] = ()) -> LoadedModel:
        """Load a version ready to predict: the manifest the server checked, and each file checked here."""
        info = self.get(reference)
        manifest = self.manifest(info)
        names = {part.digest: part.name for part in manifest.parts}

        def fetch(digest: str) -> bytes:
            data = self._client.request("GET", f"{_version_path(info)}/files/{names[digest]}").content
            if hashlib.sha256(data).hexdigest() != digest:
                raise BlobIntegrityError(f"The file {names[digest]!r} of {info.reference} does not match {digest}.")
            return data

        return load_checked_model(manifest, get=fetch, trusted=trusted)

    def manifest(self, version: ModelVersionInfo | str) -> Manifest:
        """The manifest (parts, digests, ONNX check) of a version, its signature checked by the server."""
        info = self.get(version) if isinstance(version, str) else version
        return Manifest.from_json(self._client.request("GET", f"{_version_path(info)}/manifest").content)

    def signature(self, reference: str) -> Signature | None:
        info = self.get(reference)
        return Signature.from_dict(info.signature) if info.signature else None

    def list(self) -> builtins.list[RegisteredModel]:
        return decode_list(RegisteredModel, self._client.get("/models"))

    def model(self, name: str) -> RegisteredModel:
        return decode(RegisteredModel, self._client.get(quoted("models", validate_name("model", name))))

    def versions(self, name: str) -> builtins.list[ModelVersionInfo]:
        return decode_list(
            ModelVersionInfo, self._client.get(quoted("models", validate_name("model", name), "versions"))
        )

    def holdout(self, reference: str) -> pd.DataFrame:
        """The holdout rows a version was scored on at registration (with its target column)."""
        data = self._client.request("GET", f"{_version_path(self.get(reference))}/holdout").content
        return pd.read_parquet(io.BytesIO(data))

    # -- aliases -----------------------------------------------------------------------------------

    def set_alias(
        self, name: str, alias: str, version: int, *, reason: str = "", evidence: Mapping[str, Any] | None = None
    ) -> AliasMove:
        """Point ``alias`` at ``version`` of ``name``, recording who, when, why and the evidence."""
        path = quoted("models", validate_name("model", name), "aliases", validate_name("alias", alias))
        body = {"version": version, "reason": reason, "evidence": dict(evidence or {})}
        return decode(AliasMove, self._client.send("PUT", path, body))

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> AliasMove:
        path = quoted("models", validate_name("model", name), "aliases", validate_name("alias", alias))
        return decode(AliasMove, self._client.send("DELETE", path, params={"reason": reason}))

    def promote(
        self,
        reference: str,
        *,
        alias: str = CHAMPION,
        reason: str = "",
        gates: Sequence[Gate | str | Mapping[str, Any]] | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> AliasMove:
        """Point ``alias`` at the version ``reference`` names once its gates pass on the server.

        Raises:
            GateFailed: A gate failed; the alias does not move.
        """
        info = self.get(reference)
        body = {
            "alias": validate_name("alias", alias),
            "reason": reason,
            "gates": None if gates is None else [_gate_spec(gate) for gate in gates],
            "evidence": dict(evidence or {}),
        }
        return decode(AliasMove, self._client.send("POST", f"{_version_path(info)}/promote", body))

    def rollback(self, name: str, *, alias: str = CHAMPION, reason: str = "") -> AliasMove:
        """Point ``alias`` back at the version it held before its current one."""
        path = quoted("models", validate_name("model", name), "aliases", validate_name("alias", alias), "rollback")
        return decode(AliasMove, self._client.send("POST", path, {"reason": reason}))

    def history(self, name: str, alias: str | None = None) -> builtins.list[AliasMove]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        found = self._client.get(quoted("models", validate_name("model", name), "aliases"), params={"alias": alias})
        return decode_list(AliasMove, found)

    # -- traffic ---------------------------------------------------------------------------------------

    def traffic(self, name: str) -> ModelTraffic:
        """How the model's servers share its requests with its challenger (everything to the champion when unset)."""
        return decode(ModelTraffic, self._client.get(quoted("models", validate_name("model", name), "traffic")))

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
        """Set the model's canary share and shadow on the server (the deployer role); its servers follow."""
        policy = TrafficPolicy(canary=canary, shadow=shadow, challenger=challenger)  # checked here first
        body: dict[str, Any] = {**dataclasses.asdict(policy), "reason": reason}
        if expected is not None:
            body["expected"] = dataclasses.asdict(expected)
        path = quoted("models", validate_name("model", name), "traffic")
        return decode(ModelTraffic, self._client.send("PUT", path, body))

    # -- gates and comparisons ---------------------------------------------------------------------

    def check_gates(
        self,
        reference: str,
        *,
        gates: Sequence[Gate | str | Mapping[str, Any]] | None = None,
        against: str = CHAMPION,
    ) -> GateReport | None:
        """Check a version's gates on the server (given, or recorded at registration); None when it has none."""
        from driftloop.training._gates import GateReport

        info = self.get(reference)
        body = {"gates": None if gates is None else [_gate_spec(gate) for gate in gates], "against": against}
        report = self._client.send("POST", f"{_version_path(info)}/gates", body)
        return None if report is None else GateReport.from_dict(report)

    def compare(self, reference: str, other: str) -> dict[str, Any]:
        """Score two versions of one model on the first one's holdout, on identical rows (on the server)."""
        info, other_info = self.get(reference), self.get(other)
        if other_info.model != info.model:
            raise InvalidInput(
                f"A workspace server compares versions of one model; got {info.reference} and {other_info.reference}."
            )
        return dict(self._client.get(f"{_version_path(info)}/compare/{other_info.number}"))

    def diff(self, reference: str, other: str) -> dict[str, Any]:
        """What differs between two versions: metrics, signature columns, dataset, flavour."""
        return version_differences(self.get(reference), self.get(other))


def _version_path(info: ModelVersionInfo) -> str:
    return quoted("models", info.model, "versions", info.number)


def _parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(sink, index=False)
    return sink.getvalue()


def _signature(given: Signature | pd.DataFrame | None, target: str | None, manifest: Manifest) -> dict[str, Any] | None:
    """The signature as the registry would take it; None leaves it to the server (dataset schema, or frames)."""
    if given is None:
        return None
    if isinstance(given, pd.DataFrame):
        known_target = target if target in given.columns else None
        given = Signature.infer(given, target=known_target, classes=manifest.classes)
    if not isinstance(given, Signature):
        raise InvalidInput(f"signature= takes a Signature or a pandas DataFrame; got {type(given).__name__}.")
    return given.to_dict()


def _dataset(dataset: str | DatasetVersion | tuple[str, int] | None) -> dict[str, Any]:
    if dataset is None:
        return {"dataset": None, "dataset_version": None}
    if isinstance(dataset, str):
        return {"dataset": validate_name("dataset", dataset), "dataset_version": None}
    if isinstance(dataset, tuple):
        name, number = dataset
        return {"dataset": validate_name("dataset", name), "dataset_version": number}
    return {"dataset": dataset.name, "dataset_version": dataset.number}


def _gate_spec(gate: Gate | str | Mapping[str, Any]) -> str | dict[str, Any]:
    """A gate as JSON carries it: its sentence, or its mapping."""
    if isinstance(gate, str):
        return gate
    if isinstance(gate, Mapping):
        return dict(gate)
    return gate.describe()


def _run_id(run: Any) -> str | None:
    return None if run is None or run.ended else str(run.id)
