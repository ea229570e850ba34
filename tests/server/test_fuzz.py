"""Schemathesis fuzzes every operation of the workspace server against its OpenAPI document, as an admin.

Requests the document allows and requests it forbids go to a live application (in process, over ASGI) over a
workspace seeded for the operation's area: an experiment with a run, its metric points and an artifact; a dataset
version; a model with two versions, a holdout and an alias; an alert; a user with a token. Every answer must be a
documented status with a documented content type, headers and body, never a 5xx. Path parameters mostly name the
seeded objects, so that requests reach the services (an operation on them must answer some request with a
success), and sometimes anything (a 404 or a 400). The admin is never refused (401 or 403), unless the fuzzer
disabled it or took its token or role away. A dataset's upload also gets CSV files of the dataset's columns, and an
alias also gets moves to a version.

Requests the document forbids are sent, but schemathesis' ``negative_data_rejection`` is not checked: the
document is generated from the pydantic models that validate the requests, so the only requests it forbids and
the server takes are those pydantic's lax mode (FastAPI's, for every body) converts: ``true`` for a number, ``1``
for a boolean, ``"2"`` for an integer.

Each operation is a Hypothesis test over ``schema[path][method].as_strategy()`` rather than
``@schema.parametrize()``, as in tests/serving/test_fuzz.py: the app needs a workspace, which only a fixture
gives, and schemathesis' fixture-based loader (``schemathesis.pytest.from_fixture``, 4.32) reads
``Node._nodeid``, which pytest 9 removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sklearn.linear_model import LinearRegression
from tests.server.conftest import ADMIN, People, bearer

from driftloop import Workspace
from driftloop.entities import MetricPoint, Role
from driftloop.errors import DriftloopError
from driftloop.identity import require
from driftloop.server import WorkspaceServerSettings, create_server_app

pytestmark = pytest.mark.slow  # about 50 s of one core, half a second a test

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 8
"""Examples per operation and strategy (a few milliseconds each; seeding a workspace and building its app take
most of a test's time)."""
USER = "ana"
"""The user the user routes name: never the admin whose token the fuzzer holds."""


# Building an app does no I/O; the store is named so that no DRIFTLOOP_STORE of the environment is read.
DOCUMENT = create_server_app(Workspace("unopened", store="sqlite:///unopened.db", actor="fuzz")).openapi()
OPERATIONS = [(method.upper(), path) for path, methods in DOCUMENT["paths"].items() for method in methods]

# -- CSV files of the dataset's columns, for the upload --------------------------------------------------------

CELLS = st.one_of(
    st.floats(min_value=0, max_value=300),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["north", "south", "", "NaN", "1e400", '"', "a,b"]),
    st.text(max_size=4),
)
COLUMNS = st.one_of(
    st.just(["area", "rooms", "district", "price"]),
    st.lists(st.sampled_from(["area", "rooms", "district", "price", "", "area"]), min_size=1, max_size=5),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    columns = draw(COLUMNS)
    rows = draw(st.lists(st.lists(CELLS, min_size=len(columns), max_size=len(columns)), max_size=4))
    lines = [",".join(columns)] + [",".join(str(cell) for cell in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def _alias_moves() -> st.SearchStrategy[bytes]:
    """Moves of an alias to the model's first version, which generated bodies hardly ever name."""
    moves = st.fixed_dictionaries(
        {"version": st.just(1)},
        optional={"reason": st.text(max_size=20), "evidence": st.dictionaries(st.text(max_size=4), st.integers())},
    )
    return moves.map(lambda move: json.dumps(move).encode())


A_HOUSE = b"area,rooms,district,price\n72.0,3.0,north,246.0\n"
"""A CSV row of the seeded dataset's columns."""
BODIES: dict[tuple[str, str], tuple[st.SearchStrategy[bytes], str]] = {
    ("POST", "/api/v1/datasets/{name}/versions"): (st.one_of(st.just(A_HOUSE), csv_files()), "text/csv"),
    ("POST", "/api/v1/datasets/{name}/validate"): (st.one_of(st.just(A_HOUSE), csv_files()), "text/csv"),
    ("PUT", "/api/v1/models/{name}/aliases/{alias}"): (_alias_moves(), "application/json"),
}
"""Bodies of some operations that reach their service more often than the generated ones, with their media type."""
NO_SUCCESS = {
    ("PUT", "/api/v1/models/{name}/files/{digest}"): "the body must hash to the digest its path names",
    ("PUT", "/api/v1/datasets/{name}/files/{digest}"): "the body must hash to the digest its path names",
    ("POST", "/api/v1/models/{name}/versions"): "the body must name files uploaded first",
    ("POST", "/api/v1/models/{name}/predictions"): "the body must be an Arrow stream of a batch scoring's records",
    ("POST", "/api/v1/datasets/{name}/versions/from-source"): "the URL must reach a public host; tests have no network",
    ("PUT", "/api/v1/datasets/{name}/schema"): "the body must be a whole data schema of the dataset's columns",
    ("POST", "/api/v1/labels"): "a label answers a logged prediction, and this workspace has logged none",
    ("GET", "/api/v1/models/{name}/drift"): "a drift check reads logged predictions; this workspace has logged none",
    ("GET", "/api/v1/models/{name}/report"): "a drift report reads logged predictions; this workspace has logged none",
}
"""Operations no request drawn here can make succeed, though their path names seeded objects; and why."""

# -- the app over a workspace seeded for the operation ------------------------------------------------------


def _houses() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "area": rng.uniform(30, 200, 40),
            "rooms": rng.integers(1, 6, 40).astype(float),
            "district": rng.choice(["north", "south"], 40),
        }
    )
    frame["price"] = 3 * frame["area"] + 10 * frame["rooms"]
    return frame


def _seed_tracking(workspace: Workspace, people: People, folder: Path) -> dict[str, Any]:
    """An experiment with a running run, its metric points and an artifact."""
    run = workspace.tracking.create_run("price", name="baseline", params={"alpha": 0.5})
    points = [MetricPoint("rmse", 3.0 - step / 10, step, 1_000.0 + step) for step in range(5)]
    workspace.tracking.log_metrics(run.id, points)
    notes = folder / "notes.txt"
    notes.write_text("a first try")
    workspace.tracking.log_artifact(run.id, notes, "notes")
    return {"experiment": "price", "run_id": run.id, "key": "rmse", "path": "notes/notes.txt"}


def _seed_datasets(workspace: Workspace, people: People, folder: Path) -> dict[str, Any]:
    workspace.datasets.ingest("houses", _houses())
    return {"name": "houses", "version": "1"}


def _seed_models(workspace: Workspace, people: People, folder: Path) -> dict[str, Any]:
    """Two versions with a holdout; the champion moved from the first to the second, so it may be rolled back."""
    frame = _houses()
    trained, holdout = frame.head(30), frame.tail(10)
    for _ in range(2):
        model = LinearRegression().fit(trained[["area", "rooms"]], trained["price"])
        workspace.models.register("houses", model, training_data=trained, holdout=holdout, target="price", onnx=False)
    workspace.models.set_alias("houses", "champion", 1, reason="first")
    workspace.models.set_alias("houses", "champion", 2, reason="second")
    part = workspace.models.manifest("houses/1").parts[0].name
    return {"name": "houses", "version": 1, "other": 2, "alias": "champion", "part": part}


def _seed_alerts(workspace: Workspace, people: People, folder: Path) -> dict[str, Any]:
    opened = workspace.metadata.alerts.observe("drift", "houses", value=0.4, breached=True, message="PSI 0.4")
    assert opened.alert is not None
    return {"alert_id": opened.alert.id}


def _seed_users(workspace: Workspace, people: People, folder: Path) -> dict[str, Any]:
    token = people.token(USER, Role.EDITOR)
    return {"name": USER, "scope": "workspace", "token_id": token.split("_")[1]}


SEEDS: dict[str, Callable[[Workspace, People, Path], dict[str, Any]]] = {
    "experiments": _seed_tracking,
    "runs": _seed_tracking,
    "datasets": _seed_datasets,
    "models": _seed_models,
    "alerts": _seed_alerts,
    "users": _seed_users,
    "tokens": _seed_users,
}
"""What each area (the first part of a path after ``/api/v1``) needs in the workspace; the path parameters that
name it. Only the operation's own area is seeded: registering a model takes a good part of a test's time."""


@dataclass(frozen=True)
class Fuzzed:
    """A live server's OpenAPI schema, its workspace, its users and the admin's token."""

    schema: schemathesis.BaseSchema
    workspace: Workspace
    people: People
    folder: Path
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def admin_still_admitted(self) -> bool:
        """Whether the token still makes its holder an admin of the workspace."""
        identities = self.workspace.metadata.identities
        try:
            require(identities, identities.authenticate(self.token).name, Role.ADMIN)
        except DriftloopError:
            return False
        return True

    def seed(self, path: str) -> dict[str, Any]:
        """Seed the workspace for the area of ``path``; the values of its path parameters that name the objects."""
        area = path.removeprefix("/api/v1/").split("/")[0]
        known = SEEDS[area](self.workspace, self.people, self.folder) if area in SEEDS else {}
        return {name: value for name, value in known.items() if f"{{{name}}}" in path}


@pytest.fixture(scope="module")
def document() -> schemathesis.BaseSchema:
    """The server's document, loaded once: its copies share what schemathesis draws from the app's modules."""
    return schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture
def fuzzed(
    document: schemathesis.BaseSchema, sqlite_workspace: Workspace, people: People, tmp_path: Path
) -> Iterator[Fuzzed]:
    """The server over the test's workspace, one app per test.

    The first request starts the app's lifespan, which runs once; it is ended after the test.
    """
    settings = WorkspaceServerSettings(max_request_bytes=64 * 1024, max_upload_bytes=256 * 1024)
    schema = document.clone()
    schema.app = create_server_app(sqlite_workspace, settings)  # as schemathesis.openapi.from_asgi does
    try:
        yield Fuzzed(schema, sqlite_workspace, people, tmp_path, people.token(ADMIN))
    finally:
        shutdown_lifespans()  # already done by the plugin, unless it is disabled (-p no:schemathesis)


def test_the_server_serves_the_document_fuzzed(sqlite_workspace: Workspace, people: People) -> None:
    app = create_server_app(sqlite_workspace)
    try:
        served = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=bearer(people.token(ADMIN)))
    finally:
        shutdown_lifespans()
    assert served.raw_schema == DOCUMENT


def _without_uploaded_documents(case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """The case without the query parameters that name a document uploaded first (``?transform=``, ``?schema=``):
    a drawn digest names none, so a request with one never reaches the service."""
    if case.query:
        case.query = {key: value for key, value in case.query.items() if key not in ("transform", "schema")}
    return case


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{method} {path}" for method, path in OPERATIONS])
def test_the_answers_keep_to_the_document(fuzzed: Fuzzed, method: str, path: str) -> None:
    operation = fuzzed.schema[path][method]
    headers = fuzzed.headers
    fixed = fuzzed.seed(path)
    # Mostly the seeded objects (so requests reach the services), sometimes any name (a 404 or a 400).
    strategies = 2 * [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed, headers=headers)]
    if fixed:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, headers=headers))
    strategies.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed, headers=headers))
    if (method, path) in BODIES:
        bodies, media_type = BODIES[method, path]
        typed = {**headers, "Content-Type": media_type}
        strategies += 2 * [
            bodies.flatmap(
                lambda body: operation.as_strategy(
                    path_parameters=fixed, headers=typed, body=body, media_type=media_type
                )
            ).map(_without_uploaded_documents)
        ]
    statuses: list[int] = []

    # Deterministic (a fixed seed per test), no example database.
    @settings(
        max_examples=EXAMPLES * len(strategies),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=st.one_of(strategies))
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        statuses.append(case.call_and_validate(checks=CHECKS).status_code)

    answers_as_documented()
    if set(re.findall(r"{(\w+)", path)) <= fixed.keys() and (method, path) not in NO_SUCCESS:
        assert min(statuses) < 300, f"no request succeeded: {sorted(set(statuses))}"
    # The fuzzer may learn the admin's name or token id from an answer, and disable or revoke it.
    if fuzzed.admin_still_admitted():
        assert not {401, 403} & set(statuses), f"the admin was refused: {sorted(set(statuses))}"
