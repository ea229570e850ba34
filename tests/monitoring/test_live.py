"""Live drift: a served model's logged traffic against the holdout of the version it serves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.serving.test_app import classifier, houses

from driftloop import Workspace
from driftloop.errors import InvalidData
from driftloop.monitoring._live import check_live_drift
from driftloop.serving import ServerSettings, create_app

COLUMNS = ["area", "rooms", "district"]


def send(client: TestClient, frame: pd.DataFrame) -> None:
    for start in range(0, len(frame), 100):
        rows = frame.iloc[start : start + 100]
        body = {"dataframe_split": {"columns": COLUMNS, "data": rows[COLUMNS].to_numpy().tolist()}}
        assert client.post("/invocations", json=body).status_code == 200


@pytest.fixture
def served(sqlite_workspace: Workspace) -> Workspace:
    frame = houses(2_000)
    sqlite_workspace.models.register(
        "houses", classifier(frame), target="expensive", holdout=frame.tail(500), training_data=frame.head(1_500)
    )
    sqlite_workspace.models.promote("houses/1")
    return sqlite_workspace


def test_shifted_traffic_drifts_and_like_traffic_does_not(served: Workspace) -> None:
    app = create_app(served, ServerSettings(models=["houses"]))
    with TestClient(app) as client:
        alike = houses(600, seed=5)
        send(client, alike)
        app.state.prediction_log.flush()  # type: ignore[attr-defined]
        calm = check_live_drift(served, "houses", last=600)
        shifted = houses(600, seed=6).assign(area=lambda frame: frame["area"] * 1.6)
        send(client, shifted)
        app.state.prediction_log.flush()  # type: ignore[attr-defined]
        moved = check_live_drift(served, "houses", last=600)
    assert calm.window.rows == 600 and calm.version.number == 1
    assert (calm.reference, calm.reference_rows) == ("profile", 1_500)  # the training profile, by default
    assert not calm.drifted, calm.report.to_dict()
    assert calm.quality.ok is True and calm.quality.rows == 600
    area = next(column for column in moved.quality.columns if column.column == "area")
    assert area.out_of_range > 0  # larger flats than training ever saw: out of the signature's range
    drifted = {feature.column for feature in moved.report.features if feature.drifted}
    assert "area" in drifted and moved.drifted
    assert moved.report.prediction is not None and moved.report.prediction.drifted  # more "yes" answers
    assert moved.to_dict()["window"]["rows"] == 600 and moved.to_dict()["reference"] == "profile"
    exact = check_live_drift(served, "houses", last=600, against="holdout")  # the holdout's rows, exact tests
    assert (exact.reference, exact.reference_rows) == ("holdout", 500)
    assert "area" in {feature.column for feature in exact.report.features if feature.drifted}
    joint = check_live_drift(served, "houses", last=600, multivariate=True)  # a joint test needs rows
    assert joint.reference == "holdout" and joint.report.multivariate is not None
    # The accuracy estimated from the holdout's calibration lands near the one the labels reveal.
    assert calm.estimate is not None and calm.estimate.rows == 600 and not calm.notes
    model = served.models.load("houses/1")
    revealed = float((model.predict(alike[COLUMNS]) == alike["expensive"].to_numpy()).mean())
    estimated = calm.estimate.metrics["accuracy"]
    assert estimated is not None and abs(estimated - revealed) < 0.05, (estimated, revealed)
    assert calm.outputs()["estimate"]["metrics"]["accuracy"] == estimated


def test_a_window_the_model_cannot_score_gets_a_note_instead_of_an_estimate(served: Workspace) -> None:
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    log = PredictionLog(TableStore(served.settings.tables_url))
    rows = houses(50, seed=3)
    log.append_request(
        request_ids=[f"r{i}" for i in range(50)],
        model="houses",
        version=1,
        columns={"area": rows["area"].tolist(), "district": rows["district"].tolist()},  # no "rooms"
        predictions=["no"] * 50,
    )
    log.close()
    check = check_live_drift(served, "houses", last=50)
    assert check.estimate is None and check.outputs()["estimate"] is None
    assert check.notes == ("No performance estimate: the window lacks the features 'rooms'",)
    assert check.drifted  # a feature missing live is drift, whatever the estimate
    assert check_live_drift(served, "houses", last=50, estimate=False).notes == ()


def test_no_traffic_is_an_error_not_a_quiet_no_drift(served: Workspace) -> None:
    with pytest.raises(InvalidData, match="no predictions of 'houses'"):
        check_live_drift(served, "houses")


def test_rows_differing_in_kind_still_decode(served: Workspace) -> None:
    from driftloop.monitoring._live import read_window
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    log = PredictionLog(TableStore(served.settings.tables_url))
    log.append_request(request_ids=["a"], model="m", version=1, columns={"x": [1.5]}, predictions=[1.0])
    log.append_request(request_ids=["b"], model="m", version=1, columns={"x": ["text"]}, predictions=["yes"])
    log.close()
    window = read_window(log, "m")
    assert window.rows == 2 and window.inputs.columns == ["x"]
    assert np.array_equal(window.inputs["x"].cast(str).to_list(), ["1.5", "text"])
