"""The HTTP server end to end over a real registry: each request format, input checks, errors, hot swap."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from driftloop import Workspace
from driftloop.serving import ServerSettings, create_app


def houses(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "area": rng.uniform(30, 200, rows),
            "rooms": rng.integers(1, 6, rows).astype(float),
            "district": rng.choice(["north", "south"], rows),
        }
    )
    frame["expensive"] = np.where(frame["area"] + 40 * (frame["district"] == "north") > 120, "yes", "no")
    return frame


def classifier(frame: pd.DataFrame, c: float = 1.0) -> Pipeline:
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("numbers", StandardScaler(), ["area", "rooms"]),
                        ("text", OneHotEncoder(handle_unknown="ignore"), ["district"]),
                    ]
                ),
            ),
            ("logistic", LogisticRegression(C=c)),
        ]
    )
    return model.fit(frame[["area", "rooms", "district"]], frame["expensive"])


@pytest.fixture
def served(sqlite_workspace: Workspace) -> Iterator[tuple[Workspace, TestClient]]:
    frame = houses()
    ws = sqlite_workspace
    ws.models.register("houses", classifier(frame), target="expensive", holdout=frame.tail(60))
    ws.models.promote("houses/1")
    app = create_app(ws, ServerSettings(models=["houses"], poll_interval=0.1, max_body_bytes=100_000))
    with TestClient(app) as client:
        yield ws, client


ROW = {"area": 150.0, "rooms": 3.0, "district": "north"}


def test_our_format_records_columns_ids_and_probabilities(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    answer = client.post("/v1/models/houses/predict", json={"records": [ROW, {**ROW, "area": 35.0}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == ["yes", "no"] and body["version"] == 1
    assert len(body["request_ids"]) == 2 and len(set(body["request_ids"])) == 2
    answer = client.post(
        "/v1/models/houses/predict",
        json={"columns": {k: [v] for k, v in ROW.items()}, "request_ids": ["r-1"], "probabilities": True},
    )
    body = answer.json()
    assert body["request_ids"] == ["r-1"] and body["classes"] == ["no", "yes"]
    assert body["probabilities"][0][1] > 0.5


def test_mlflow_invocations_bodies(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    split = {"dataframe_split": {"columns": ["area", "rooms", "district"], "data": [[150.0, 3.0, "north"]]}}
    assert client.post("/invocations", json=split).json() == {"predictions": ["yes"]}
    records = {"dataframe_records": [ROW]}
    assert client.post("/invocations", json=records).json() == {"predictions": ["yes"]}
    instances = {"instances": [ROW]}
    assert client.post("/invocations", json=instances).json() == {"predictions": ["yes"]}
    inputs = {"inputs": {k: [v] for k, v in ROW.items()}}
    assert client.post("/invocations", json=inputs).json() == {"predictions": ["yes"]}
    csv = "area,rooms,district\n150.0,3.0,north\n"
    answer = client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert answer.json() == {"predictions": ["yes"]}, answer.text
    both = {**split, **records}
    assert client.post("/invocations", json=both).status_code == 400
    assert client.get("/ping").status_code == 200 and client.get("/health").status_code == 200
    assert client.get("/version").status_code == 200


def test_open_inference_protocol_v2(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/models/houses/ready").status_code == 200
    metadata = client.get("/v2/models/houses").json()
    assert metadata["name"] == "houses" and [i["name"] for i in metadata["inputs"]] == ["area", "rooms", "district"]
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "area", "shape": [1], "datatype": "FP64", "data": [150.0]},
            {"name": "rooms", "shape": [1], "datatype": "FP64", "data": [3.0]},
            {"name": "district", "shape": [1], "datatype": "BYTES", "data": ["north"]},
        ],
    }
    answer = client.post("/v2/models/houses/infer", json=body)
    assert answer.status_code == 200, answer.text
    outputs = answer.json()["outputs"]
    assert outputs[0]["data"] == ["yes"]
    assert client.post("/v2/models/houses/versions/1/infer", json=body).status_code == 200
    assert client.post("/v2/models/houses/versions/7/infer", json=body).status_code == 404


def test_bad_input_answers_4xx_and_the_server_keeps_serving(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    missing = client.post("/v1/models/houses/predict", json={"records": [{"area": 1.0, "rooms": 2.0}]})
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"][0]["column"] == "district"
    wrong = client.post("/v1/models/houses/predict", json={"records": [{**ROW, "area": "big"}]})
    assert wrong.status_code == 422 and "area" in wrong.text
    assert (
        client.post(
            "/v1/models/houses/predict", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert client.post("/v1/models/nope/predict", json={"records": [ROW]}).status_code == 404
    assert client.post("/v1/models/..%2Fetc/predict", json={"records": [ROW]}).status_code in (404, 400)
    huge = client.post(
        "/v1/models/houses/predict", content=b"x" * 200_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert client.post("/v1/models/houses/predict", json={"records": [ROW]}).status_code == 200


def test_an_unseen_category_is_served(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    answer = client.post("/v1/models/houses/predict", json={"records": [{**ROW, "district": "east"}]})
    assert answer.status_code == 200, answer.text


def test_alias_moves_are_served_without_a_restart(served: tuple[Workspace, TestClient]) -> None:
    import time

    ws, client = served
    frame = houses(seed=1)
    ws.models.register("houses", classifier(frame, c=0.01), target="expensive", holdout=frame.tail(60))
    ws.models.promote("houses/2")
    deadline = time.monotonic() + 5
    while client.post("/v1/models/houses/predict", json={"records": [ROW]}).json()["version"] != 2:
        assert time.monotonic() < deadline, "the server did not follow the alias"
        time.sleep(0.05)
    ws.models.rollback("houses")
    deadline = time.monotonic() + 5
    while client.post("/v1/models/houses/predict", json={"records": [ROW]}).json()["version"] != 1:
        assert time.monotonic() < deadline, "the server did not follow the rollback"
        time.sleep(0.05)


def test_metrics_count_requests_latency_and_predictions(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    for _ in range(3):
        client.post("/v1/models/houses/predict", json={"records": [ROW]})
    client.post("/v1/models/houses/predict", json={"records": [{"area": 1.0}]})
    text = client.get("/metrics").text
    assert (
        'driftloop_requests_total{model="houses",route="/v1/models/{name}/predict",status="200",version="1"} 3.0'
        in text
    )
    assert 'status="422"' in text
    assert 'driftloop_predicted_class_total{class="yes",model="houses",version="1"} 3.0' in text
    assert 'driftloop_model_load_seconds{model="houses",version="1"}' in text
    assert "driftloop_request_seconds_bucket" in text and "driftloop_requests_in_flight" in text


def test_access_log_has_one_json_line_per_request(
    sqlite_workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    frame = houses()
    sqlite_workspace.models.register("houses", classifier(frame), target="expensive", holdout=frame.tail(60))
    sqlite_workspace.models.promote("houses/1")
    app = create_app(sqlite_workspace, ServerSettings(models=["houses"], log_predictions=False))
    with caplog.at_level(logging.INFO, logger="driftloop.access"), TestClient(app) as client:
        client.post("/v1/models/houses/predict", json={"records": [ROW]})
        client.post("/invocations", content=b"{not json", headers={"Content-Type": "application/json"})
        client.get("/v1/models")
    # Lines are emitted in batches (at most 0.2 s late, and at shutdown), each a JSON object.
    lines = [json.loads(line) for record in caplog.records for line in record.getMessage().splitlines()]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/v1/models/houses/predict", 200),
        ("POST", "/invocations", 400),
        ("GET", "/v1/models", 200),
    ]
    assert lines[0]["model"] == "houses" and lines[0]["version"] == "1" and lines[0]["ms"] > 0


def test_scoring_routes_answer_through_the_fast_lane_like_through_fastapi(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    # An unknown model and a wrong method both answer as FastAPI would.
    answer = client.post("/v1/models/nope/predict", json={"records": [ROW]})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert client.get("/v1/models/houses/predict").status_code == 405
    assert client.post("/v1/models/a/b/predict", json={"records": [ROW]}).status_code == 404


def test_the_fast_path_scores_with_the_onnx_copy_like_the_native_model(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    slot = client.app.state.served["houses"].current  # type: ignore[attr-defined]
    assert slot.scorer is not None, slot.model.onnx_info
    frame = houses(40, seed=3)[["area", "rooms", "district"]]
    body = {"columns": {name: frame[name].tolist() for name in frame.columns}, "probabilities": True}
    answer = client.post("/v1/models/houses/predict", json=body).json()
    np.testing.assert_allclose(answer["probabilities"], slot.model.predict_proba(frame), atol=1e-4)
    assert answer["predictions"] == slot.model.predict(frame).tolist()


def test_every_answered_prediction_is_logged_and_feedback_joins(served: tuple[Workspace, TestClient]) -> None:
    _, client = served
    answered = 0
    ids: list[str] = []
    for area in (40.0, 90.0, 160.0):
        answer = client.post("/v1/models/houses/predict", json={"records": [{**ROW, "area": area}]})
        ids += answer.json()["request_ids"]
        answered += 1
    split = {"dataframe_split": {"columns": ["area", "rooms", "district"], "data": [[150.0, 3.0, "north"]] * 2}}
    answer = client.post("/invocations", json=split)
    ids += answer.headers["x-request-ids"].split(",")
    answered += 2
    assert client.post("/v1/models/houses/predict", json={"records": [{"area": 1.0}]}).status_code == 422
    feedback = client.post("/v1/feedback", json={"labels": [{"request_id": ids[0], "label": "no"}]})
    assert feedback.status_code == 200 and feedback.json()["recorded"] == 1, feedback.text
    assert client.post("/v1/feedback", json={"labels": [{"label": "no"}]}).status_code == 400
    as_text = client.post("/v1/feedback", content=b"r1,no", headers={"Content-Type": "text/csv"})
    assert as_text.status_code == 415 and "application/json" in as_text.json()["error"]["message"]
    log = client.app.state.prediction_log  # type: ignore[attr-defined]
    log.flush()
    client.app.state.labels.flush()  # type: ignore[attr-defined]
    rows = log.read("houses")
    assert rows.num_rows == answered  # exactly the 2xx answers
    assert sorted(rows.column("request_id").to_pylist()) == sorted(ids)
    assert set(rows.column("protocol").to_pylist()) == {"native", "mlflow"}
    joined = log.joined("houses").to_pylist()
    labelled = [row for row in joined if row.get("label") is not None]
    assert [row["request_id"] for row in labelled] == [ids[0]]


def test_single_numeric_rows_feed_the_onnx_matrix_directly_and_score_like_the_model(
    sqlite_workspace: Workspace,
) -> None:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.rename(columns=lambda name: name.replace(" ", "_")).iloc[:, :8]
    model = Pipeline([("scale", StandardScaler()), ("logistic", LogisticRegression(max_iter=2000))])
    model.fit(frame, data.target)
    labelled = frame.assign(target=data.target)
    sqlite_workspace.models.register("cancer", model, target="target", holdout=labelled.sample(100, random_state=0))
    sqlite_workspace.models.promote("cancer/1")
    app = create_app(sqlite_workspace, ServerSettings(models=["cancer"], log_predictions=False))
    with TestClient(app) as client:
        slot = client.app.state.served["cancer"].current  # type: ignore[attr-defined]
        assert slot.scorer is not None and slot.scorer.inputs["layout"] == "matrix"
        checked = slot.checker.check({name: [frame[name].iloc[0]] for name in frame.columns}, 1)
        assert checked.matrix is not None and checked.matrix.shape == (1, 8)
        answers = [
            client.post(
                "/invocations", json={"dataframe_split": {"columns": list(frame.columns), "data": [row.tolist()]}}
            ).json()["predictions"][0]
            for _, row in frame.iloc[:40].iterrows()
        ]
    assert answers == model.predict(frame.iloc[:40]).tolist()


def test_one_server_process_among_several_keeps_the_log_tables(sqlite_workspace: Workspace) -> None:
    frame = houses()
    sqlite_workspace.models.register("houses", classifier(frame), target="expensive", holdout=frame.tail(60))
    sqlite_workspace.models.promote("houses/1")
    settings = ServerSettings(models=["houses"], upkeep_interval=0.2)
    # Two applications on one workspace stand for two worker processes (each has its own holder name).
    first, second = create_app(sqlite_workspace, settings), create_app(sqlite_workspace, settings)
    with TestClient(first) as one, TestClient(second) as two:
        for area in range(40, 100):
            answer = (one if area % 2 else two).post(
                "/v1/models/houses/predict", json={"records": [{**ROW, "area": area}]}
            )
            assert answer.status_code == 200
            if area % 10 == 0:
                first.state.prediction_log.flush()  # type: ignore[attr-defined]
                second.state.prediction_log.flush()  # type: ignore[attr-defined]
        jobs = [first.state.upkeep, second.state.upkeep]  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while sum(job.runs for job in jobs) < 2:
            assert time.monotonic() < deadline, "no upkeep ran"
            time.sleep(0.05)
        assert [job.holding for job in jobs].count(True) == 1  # one holder at a time
        assert min(job.runs for job in jobs) == 0  # the other never ran it
        log = first.state.prediction_log  # type: ignore[attr-defined]
        log.flush()
        second.state.prediction_log.flush()  # type: ignore[attr-defined]
        assert log.read("houses").num_rows == 60
    files = log.tables.dataset(log.table, log.table_version()).files
    assert len(files) < 6  # compacted: the small files of twelve flushes became one or two


def test_the_lane_reads_a_body_sent_in_chunks_and_notices_a_disconnect() -> None:
    import asyncio

    from starlette.requests import ClientDisconnect

    from driftloop.serving._fast_lane import LaneRequest

    async def read(messages: list[dict[str, object]]) -> bytes:
        queue = list(messages)

        async def receive() -> dict[str, object]:
            return queue.pop(0)

        scope = {"type": "http", "headers": [(b"content-type", b"application/json"), (b"x-request-key", b"k1")]}
        request = LaneRequest(scope, receive)  # type: ignore[arg-type]
        assert request.headers == {"content-type": "application/json", "x-request-key": "k1"}
        assert request.headers.get("X-Request-Key") == "k1" and request.headers.get("Nope") is None
        request.state.model = "houses"
        assert scope["state"] == {"model": "houses"}
        body = await request.body()
        assert await request.body() is body  # read once
        return body

    chunks = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b" 1}", "more_body": False},
    ]
    assert asyncio.run(read(chunks)) == b'{"a": 1}'
    with pytest.raises(ClientDisconnect):
        asyncio.run(read([{"type": "http.disconnect"}]))


def test_a_server_can_score_an_out_of_range_input_as_missing(sqlite_workspace: Workspace) -> None:
    import dataclasses

    import pyarrow as pa

    from driftloop.data.validation import DataSchema
    from driftloop.errors import InvalidInput

    ws = sqlite_workspace
    rng = np.random.default_rng(0)
    area = rng.uniform(30, 200, 1_500)
    frame = pd.DataFrame({"area": area, "rooms": np.clip(np.round(area / 35 + rng.normal(0, 0.4, 1_500)), 1, 6)})
    frame["price"] = 4 * frame["area"] + rng.normal(0, 3, 1_500)
    inferred = DataSchema.infer(pa.Table.from_pandas(frame))
    schema = DataSchema(tuple(dataclasses.replace(c, nullable=c.name == "area") for c in inferred.columns))
    ws.datasets.ingest("sales", frame, schema=schema)
    ws.training.train("sales", "price", algorithms="lightgbm", folds=2, register="houses", promote=True)
    in_feet = {"area": round(60.0 * 10.7639, 1), "rooms": 2.0}  # a 60 m² flat, its area sent in square feet

    def price(settings: ServerSettings, row: dict[str, float | None]) -> tuple[float, list[str]]:
        app = create_app(ws, settings)
        with TestClient(app) as client:
            answer = client.post("/v1/models/houses/predict", json={"records": [row]})
            assert answer.status_code == 200, answer.text
            app.state.prediction_log.flush()  # type: ignore[attr-defined]
            logged = app.state.prediction_log.read("houses").to_pylist()[-1]  # type: ignore[attr-defined]
        assert json.loads(logged["inputs"])["area"] == row["area"]  # logged as it was sent
        return answer.json()["predictions"][0], logged["flags"]

    missing = ServerSettings(models=["houses"], out_of_range="missing")
    as_sent, flags = price(ServerSettings(models=["houses"]), in_feet)
    scored_missing, flags_missing = price(missing, in_feet)
    without_area, _ = price(missing, {"area": None, "rooms": 2.0})
    maximum = schema.column("area").maximum
    assert flags == [f"area: 645.8 above the maximum {maximum!r}"]
    assert flags_missing == [f"area: 645.8 above the maximum {maximum!r} (scored as missing)"]
    # Priced from the rooms, as a flat whose area is unknown, not as the largest flat of the training rows.
    assert scored_missing == without_area and abs(scored_missing - 240) < 80 < 400 < abs(as_sent - 240)
    with pytest.raises(InvalidInput, match="'out_of_range' must be one of flag, missing; got 'drop'"):
        ServerSettings(models=["houses"], out_of_range="drop")
