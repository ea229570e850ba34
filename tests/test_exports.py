"""The public surface: every name in __all__ exists, and nothing private leaks into it."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = {
    "driftloop": {
        "ActiveRun",
        "DriftloopError",
        "Workspace",
        "__version__",
        "active_run",
        "get_workspace",
        "set_workspace",
        "start_run",
    },
    "driftloop.tracking": {"ActiveRun", "RunComparison", "Tracking"},
    "driftloop.errors": {
        "HTTP_STATUS",
        "AlreadyExists",
        "BlobIntegrityError",
        "Conflict",
        "DriftloopError",
        "InvalidData",
        "InvalidFilter",
        "InvalidInput",
        "InvalidName",
        "InvalidSettings",
        "InvalidState",
        "NotFound",
        "ParamConflict",
        "PermissionDenied",
        "SchemaMismatch",
        "SourceError",
        "StoreBusy",
        "StoreError",
        "StoreUnavailable",
    },
    "driftloop.settings": {"CONFIG_FILE", "Settings", "local_user"},
    "driftloop.names": {"MAX_KEY_LENGTH", "MAX_NAME_LENGTH", "validate_actor", "validate_key", "validate_name"},
    "driftloop.filtering": {
        "And",
        "Comparison",
        "Expression",
        "Field",
        "FieldKind",
        "Not",
        "Operator",
        "Or",
        "OrderBy",
        "Value",
        "parse_filter",
        "parse_order_by",
    },
    "driftloop.housekeeping": {"GarbageReport", "collect_garbage"},
    "driftloop.types": {"MetricRow"},
    "driftloop.cli": {"app", "main"},
    "driftloop.workspace": {"Workspace"},
    "driftloop.data": {"DatasetVersion", "Datasets", "IngestResult", "VersionDiff"},
    "driftloop.data.profiles": {"CategoricalProfile", "NumericProfile", "Profile", "profile_table"},
    "driftloop.data.transforms": {
        "Cast",
        "Derive",
        "DropDuplicates",
        "DropMissing",
        "Encode",
        "Filter",
        "FittedTransform",
        "Impute",
        "Outliers",
        "Rename",
        "Scale",
        "Select",
        "Step",
        "Transform",
    },
    "driftloop.data.validation": {
        "CheckQuality",
        "CheckedBatch",
        "ColumnQuality",
        "ColumnSpec",
        "CustomCheck",
        "DataSchema",
        "QualityReport",
        "Validator",
    },
    "driftloop.store.tables": {"StagedWrite", "TableStore"},
    "driftloop.data.sources": {
        "FileSource",
        "FrameSource",
        "Source",
        "SourceSpec",
        "SqlSource",
        "WebApiSource",
        "open_source",
    },
    "driftloop.entities": {
        "Artifact",
        "Dataset",
        "DatasetInput",
        "DatasetVersionInfo",
        "Event",
        "Experiment",
        "Lifecycle",
        "MetricHistory",
        "MetricPoint",
        "MetricSummary",
        "Resources",
        "Run",
        "RunEnvironment",
        "RunStatus",
    },
    "driftloop.store.metadata": {
        "ArtifactRepository",
        "Database",
        "DatasetRepository",
        "EventRepository",
        "ExperimentRepository",
        "MetadataStore",
        "MetricRepository",
        "NewVersion",
        "RunRepository",
        "redact",
    },
    "driftloop.store.blobs": {"BlobInfo", "BlobStore", "FsspecBlobStore", "open_blob_store"},
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_MODULES))
def test_exports_are_exactly_the_curated_surface(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == PUBLIC_MODULES[module_name]
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is exported but missing"
    assert not [name for name in module.__all__ if name.startswith("_") and name != "__version__"]
