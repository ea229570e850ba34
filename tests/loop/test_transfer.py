"""Transfer to a new segment: a district the champion never saw is learnt by continuing the champion on its few
labelled rows, compared with a model trained from scratch on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.loop.conftest import market, policy, serve

from driftloop import Workspace
from driftloop.errors import InvalidInput
from driftloop.loop import policies_from_dict
from driftloop.loop._controller import LoopController


def with_new_district(rows: int, seed: int, share: float) -> pd.DataFrame:
    frame = market(rows, seed)
    rng = np.random.default_rng(seed + 100)
    east = rng.random(rows) < share
    frame.loc[east, "district"] = "east"
    frame.loc[east, "price"] = 90.0 * frame.loc[east, "area"] * rng.lognormal(0.0, 0.05, int(east.sum()))
    return frame


def test_a_new_district_is_learnt_by_transfer_and_compared_with_scratch(ws: Workspace, client: TestClient) -> None:
    serve(client, with_new_district(1_000, 8, share=0.3), ws)
    transfer = policy(
        triggers=[{"new_segment": {"column": "district", "min_share": 0.1, "min_labels": 100}}],
        action={"transfer": {"window": 1_000, "rounds": 60, "min_rows": 100}},
    )
    controller = LoopController(ws, [transfer])
    (outcome,) = controller.tick()
    assert outcome.status == "promoted", outcome
    assert outcome.action is not None
    trigger = outcome.action.evidence["trigger"]
    assert trigger["segment"] == ["east"] and trigger["share"] == pytest.approx(0.3, abs=0.06)
    compared = outcome.action.evidence["transfer"]
    assert compared["metric"] == "mape" and compared["learn_rows"] > 150 and compared["holdout_rows"] > 40
    assert compared["transferred"] < compared["champion"] / 2  # the champion priced the district as unknown
    assert compared["scratch"] is not None  # printed next to it, whichever wins on so few rows
    assert "transfer to district east" in outcome.action.evidence["challenger"]["how"]
    signature = ws.models.signature("houses@champion")
    assert signature is not None and "east" in (signature.inputs.column("district").categories or ())
    (after,) = controller.tick()
    assert after.status in ("cooldown", "quiet") and after.action is None  # the district is known now


def test_a_transfer_policy_listens_to_new_segments_only() -> None:
    spec = {"name": "p", "model": "m", "action": "transfer"}
    with pytest.raises(InvalidInput, match="its triggers must be new_segment ones"):
        policies_from_dict({"policies": [{**spec, "triggers": [{"new_segment": {"column": "d"}}, "quality_failure"]}]})
    with pytest.raises(InvalidInput, match="names its categorical column"):
        policies_from_dict({"policies": [{**spec, "triggers": [{"new_segment": {}}]}]})
