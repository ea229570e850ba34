"""The audit log of a scripted team session through the workspace server: every mutating action is there with who
did it and from where, and no route or statement can change what is recorded."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import Ridge
from tests.conftest import remote_workspace, stores_of

from driftloop import Workspace


def test_a_scripted_session_is_recorded_whole_and_cannot_be_changed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 300), "rooms": rng.integers(1, 6, 300).astype(float)})
    frame["price"] = 3 * frame["area"] + 10 * frame["rooms"] + rng.normal(0, 5, 300)
    with remote_workspace(tmp_path, actor="root") as admin:
        url, admin_token = admin.server.url, str(admin.settings.token)
        with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {admin_token}"}) as http:
            http.post("/users", json={"name": "ana", "role": "editor"}).raise_for_status()
            http.post("/users", json={"name": "dan", "role": "deployer"}).raise_for_status()
            ana_token = http.post("/users/ana/tokens", json={}).json()["token"]
            dan_token = http.post("/users/dan/tokens", json={}).json()["token"]
        ana, dan = Workspace(url, token=ana_token), Workspace(url, token=dan_token)
        try:
            with ana.start_run("price") as run:
                run.log_params({"alpha": 1.0})
                run.log_metric("rmse", 4.2)
                ana.datasets.ingest("houses", frame)
                for alpha in (100.0, 1.0):
                    model = Ridge(alpha=alpha).fit(frame[["area", "rooms"]], frame["price"])
                    ana.models.register("houses", model, target="price", holdout=frame.tail(60), dataset="houses")
            dan.models.promote("houses/1", reason="first")
            dan.models.promote("houses/2", reason="better")
            dan.models.rollback("houses", reason="live error up")
            dan.models.set_traffic("houses", canary=0.1, reason="a tenth to the challenger")
        finally:
            ana.close()
            dan.close()
        behind = stores_of(admin)
        recorded = {(event.actor, event.action) for event in behind.events.list(limit=1000)}
        addresses = {event.details.get("from") for event in behind.events.list(limit=1000) if event.actor != "setup"}
        assert addresses == {"127.0.0.1"}
        assert {
            ("root", "user.create"),
            ("root", "token.create"),
            ("ana", "run.start"),
            ("ana", "run.log_params"),
            ("ana", "dataset.version"),
            ("ana", "model.register"),
            ("ana", "run.end"),
            ("dan", "model.alias"),
            ("dan", "model.traffic"),
        } <= recorded, recorded
        moves = behind.models.history("houses", "champion")
        assert [(move.actor, move.to_version) for move in moves] == [("dan", 1), ("dan", 2), ("dan", 1)]
        # No route changes the log: the events path takes only GET.
        with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {admin_token}"}) as http:
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                assert http.request(method, "/events").status_code == 405
        # Nor does a statement on the database behind it.
        for statement in ("UPDATE events SET actor = 'mallory'", "DELETE FROM events"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), behind.metadata.database.write() as conn:
                conn.execute(sa.text(statement))
        assert {(event.actor, event.action) for event in behind.events.list(limit=1000)} == recorded
