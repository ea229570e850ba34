"""Schemathesis fuzzes every operation of the serving app, a real model behind it, against its OpenAPI document.

Bodies the document allows and bodies it forbids go to a live application (in process, over ASGI) serving a
registered classifier; every answer must be a documented status with a documented content type, headers and
body, never a 5xx, and a body the document forbids must be refused. Bodies drawn from the document alone almost
never name the model's columns, so the scoring routes also get rows of the model's own columns in every format
they read, with values both plausible and hostile, which reach the input checks and the model.

Each operation is a Hypothesis test over ``schema[path][method].as_strategy()`` rather than
``@schema.parametrize()``: the app needs a workspace, which only a fixture gives, and schemathesis' fixture-based
loader (``schemathesis.pytest.from_fixture``, 4.32) reads ``Node._nodeid``, which pytest 9 removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.serving.test_app import classifier, houses

from driftloop import Workspace
from driftloop.serving import ServerSettings, create_app
from driftloop.serving._openapi import document_requests

pytestmark = pytest.mark.slow  # about 15 s

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SERVED = {"name": "houses", "version": "1"}
BODY_EXAMPLES = 200
"""Examples per operation with a body (~0.01 s each): about 15 s for the module on one core."""

OPERATIONS = [
    ("POST", "/v1/models/{name}/predict"),
    ("POST", "/invocations"),
    ("POST", "/v2/models/{name}/infer"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"),
    ("POST", "/v1/feedback"),
    ("POST", "/v1/labels"),
    ("GET", "/v1/labels/pending"),
    ("GET", "/v1/models"),
    ("GET", "/ping"),
    ("GET", "/health"),
    ("GET", "/version"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2/models/{name}"),
    ("GET", "/v2/models/{name}/ready"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/readyz"),
]


# -- rows of the model's columns, in each format ---------------------------------------------------------------

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinity too, sent as the NaN/Infinity literals Python's json writes (see _as_json)
    st.text(max_size=6),
    st.sampled_from(["12", "1e400", "", "north"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
NUMERIC = st.one_of(st.floats(), st.integers(min_value=-(2**70), max_value=2**70), st.booleans())
AREA = st.floats(min_value=0, max_value=300)
ROOMS = st.integers(min_value=0, max_value=6)
DISTRICT = st.sampled_from(["north", "south", "east"])  # "east" was never seen: served, and flagged
# Half the bodies hold only plausible rows (most are scored), half may hold anything anywhere.
ROWS = st.one_of(
    st.lists(st.fixed_dictionaries({"area": AREA, "rooms": ROOMS, "district": DISTRICT}), min_size=1, max_size=4),
    st.lists(
        st.fixed_dictionaries(
            {
                "area": st.one_of(AREA, HOSTILE),
                "rooms": st.one_of(ROOMS, HOSTILE),
                "district": st.one_of(DISTRICT, HOSTILE),
            }
        ),
        min_size=1,
        max_size=4,
    ),
)
COLUMN_NAMES = ["area", "rooms", "district"]


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


@st.composite
def native_bodies(draw: st.DrawFn) -> dict[str, Any]:
    rows = draw(ROWS)
    form = draw(st.sampled_from(["records", "columns", "record"]))
    body: dict[str, Any] = {
        "records": {"records": rows},
        "columns": {"columns": _columns(rows)},
        "record": {"record": rows[0]},
    }[form]
    if draw(st.booleans()):
        body["probabilities"] = draw(st.booleans())
    if draw(st.booleans()):
        body["request_ids"] = [f"r-{index}" for index in range(1 if form == "record" else len(rows))]
    return body


@st.composite
def mlflow_bodies(draw: st.DrawFn) -> dict[str, Any]:
    rows = draw(ROWS)
    return draw(
        st.sampled_from(
            [
                {"dataframe_split": {"columns": COLUMN_NAMES, "data": [list(row.values()) for row in rows]}},
                {"dataframe_records": rows},
                {"instances": rows},
                {"inputs": _columns(rows)},
                {"inputs": [list(row.values()) for row in rows]},  # rows without names: a tensor
            ]
        )
    )


@st.composite
def csv_bodies(draw: st.DrawFn) -> str:
    rows = draw(ROWS)
    lines = [",".join(COLUMN_NAMES)] + [
        ",".join("" if value is None else str(value) for value in row.values()) for row in rows
    ]
    return "\n".join(lines) + "\n"


@st.composite
def v2_bodies(draw: st.DrawFn) -> dict[str, Any]:
    rows = draw(ROWS)
    datatypes = st.sampled_from(["FP64", "FP32", "FP16", "INT64", "INT8", "UINT8", "BOOL", "BYTES"])
    if draw(st.booleans()):  # a dataframe: one input per column, mostly of the column's own datatype
        natural = {"area": "FP64", "rooms": "INT64", "district": "BYTES"}
        inputs = [
            {"name": name, "shape": [len(values)], "datatype": draw(st.just(natural[name]) | datatypes), "data": values}
            for name, values in _columns(rows).items()
        ]
        body: dict[str, Any] = {"parameters": {"content_type": "pd"}, "inputs": inputs}
    else:  # a tensor of the numbers, matched to the features by position
        datatype = draw(datatypes)
        data = [draw(st.one_of(AREA, ROOMS, NUMERIC, HOSTILE)) for _ in range(len(rows) * 3)]
        body = {"inputs": [{"name": "input-0", "shape": [len(rows), 3], "datatype": datatype, "data": data}]}
    if draw(st.booleans()):
        body["outputs"] = [{"name": "predict"}, {"name": "predict_proba"}]
    return body


def _as_json(bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    # Serialised here: requests (under schemathesis) refuses NaN, which MLflow's own client sends.
    return bodies.map(lambda body: json.dumps(body).encode())


# Half the bodies go with their own media type, half with another: parameters, +json, charsets, and types the
# routes refuse (415).
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json; charset=utf-8",
            "application/vnd.api+json",
            "text/csv; charset=UTF-8",
            "application/json; charset=latin-1",
            "text/plain",
        ]
    ),
)

MODEL_BODIES: dict[str, list[tuple[st.SearchStrategy[Any], str]]] = {
    "/v1/models/{name}/predict": [(_as_json(native_bodies()), "application/json")],
    "/invocations": [(_as_json(mlflow_bodies()), "application/json"), (csv_bodies(), "text/csv")],
    "/v2/models/{name}/infer": [(_as_json(v2_bodies()), "application/json")],
    "/v2/models/{name}/versions/{version}/infer": [(_as_json(v2_bodies()), "application/json")],
}


@pytest.fixture(scope="module")
def workspace_with_champion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace whose 'houses' champion is a classifier; one for the module, as registering takes a second."""
    root = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as environment:  # conftest's per-test isolation, for the module
        for name in [name for name in os.environ if name.startswith("DRIFTLOOP_")]:
            environment.delenv(name)
        environment.chdir(root)
        ws = Workspace(root / "ws", actor="tester").open()
        try:
            frame = houses()
            ws.models.register("houses", classifier(frame), target="expensive", holdout=frame.tail(60))
            ws.models.promote("houses/1")
            yield ws
        finally:
            ws.close()


@pytest.fixture
def served(workspace_with_champion: Workspace) -> Iterator[schemathesis.BaseSchema]:
    """The OpenAPI schema of a live app serving the champion, one app per test.

    Loading the schema starts the app's lifespan (model loads, log writers), and schemathesis' pytest plugin ends
    it after each test; an app's lifespan runs once, so each test gets an app of its own.
    """
    app = create_app(
        workspace_with_champion, ServerSettings(models=["houses"], poll_interval=0.1, max_body_bytes=100_000)
    )
    document_requests(app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield schema
    finally:
        shutdown_lifespans()  # already done by the plugin, unless it is disabled (-p no:schemathesis)


def test_every_operation_is_fuzzed(served: schemathesis.BaseSchema) -> None:
    assert {(method.upper(), path) for path, methods in served.items() for method in methods} == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{method} {path}" for method, path in OPERATIONS])
def test_the_answers_keep_to_the_document(served: schemathesis.BaseSchema, method: str, path: str) -> None:
    operation = served[path][method]
    fixed = {name: value for name, value in SERVED.items() if f"{{{name}}}" in path}
    # Mostly the served model (so bodies reach the parsers and the model), sometimes any name (a 404).
    strategies = [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)]
    if fixed:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE))
    if operation.body:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed))
    for bodies, media_type in MODEL_BODIES.get(path, []):

        def sent(drawn: tuple[Any, str | None], media_type: str = media_type) -> st.SearchStrategy[Any]:
            body, content_type = drawn
            headers = {} if content_type is None else {"Content-Type": content_type}
            return operation.as_strategy(path_parameters=fixed, body=body, media_type=media_type, headers=headers)

        strategies += 2 * [st.tuples(bodies, CONTENT_TYPES).flatmap(sent)]  # twice: most examples are model rows

    # Deterministic (a fixed seed per test), no example database; complex bodies are slow to draw, which is fine.
    @settings(
        max_examples=BODY_EXAMPLES if operation.body else 5,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=st.one_of(strategies))
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS)

    answers_as_documented()


def test_a_float_tensor_value_beyond_its_datatype_is_refused(workspace_with_champion: Workspace) -> None:
    app = create_app(workspace_with_champion, ServerSettings(models=["houses"]))
    tensor = {"name": "input-0", "shape": [1, 3], "datatype": "FP32", "data": [0.0, 0.0, 3.4028235677973366e38]}
    with TestClient(app) as client:
        answer = client.post("/v2/models/houses/infer", json={"inputs": [tensor]})
    assert answer.status_code == 400, answer.text
