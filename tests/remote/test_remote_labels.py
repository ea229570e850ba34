"""The label queue through a workspace server: a deployer fills it (the server chooses, next to its prediction log)
and answers it (the role the issue gives to answering label requests), anyone with viewer lists it, and the answers
land in the workspace's labels table."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import remote_workspace, stores_of
from tests.serving.test_app import classifier, houses
from tests.serving.test_label_queue import send, truth

from driftloop import Workspace
from driftloop.entities import Role
from driftloop.errors import PermissionDenied
from driftloop.monitoring._live import read_labelled
from driftloop.serving import ServerSettings, create_app
from driftloop.serving._prediction_log import PredictionLog
from driftloop.store.tables import TableStore


def test_a_deployer_answers_the_queue_through_the_server(tmp_path: Path) -> None:
    with remote_workspace(tmp_path, actor="dan") as ws:
        behind = stores_of(ws)
        frame = houses(300)
        behind.models.register("houses", classifier(frame.head(40)), target="expensive", holdout=frame.tail(60))
        behind.models.promote("houses/1")
        traffic = houses(60, seed=4)
        with TestClient(create_app(behind, ServerSettings(models=["houses"], monitor_interval=0))) as client:
            labels = truth(traffic, send(client, traffic))
        identities = behind.metadata.identities
        identities.create_user("ed", role=Role.EDITOR, actor="setup")
        _, token = identities.create_token("ed", None, actor="setup")
        editor = Workspace(ws.server.url, token=token)
        with pytest.raises(PermissionDenied, match="deployer"):
            editor.label_queue.request("houses", strategy="entropy", budget_per_day=4)
        # Chosen on the server, next to the prediction log; recorded as the token's user.
        outcome = ws.label_queue.request("houses", strategy="entropy", budget_per_day=4)
        assert (outcome.version, outcome.candidates, len(outcome.queued)) == (1, 60, 4)
        assert outcome.queued[0].score >= outcome.queued[-1].score
        assert behind.events.list(action="labels.requested")[0].actor == "dan"
        again = ws.label_queue.request("houses", strategy="entropy", budget_per_day=4)
        assert (again.spent, again.queued) == (4, ()) and again.note is not None  # the day's budget is spent
        pending = ws.label_queue.pending("houses")
        assert len(pending) == 4 and pending[0]["strategy"] == "entropy"
        ids = [item["request_id"] for item in pending]

        try:
            assert len(editor.label_queue.pending()) == 4
            with pytest.raises(PermissionDenied, match="deployer"):
                editor.label_queue.answer([(ids[0], labels[ids[0]])])
        finally:
            editor.close()

        answered = ws.label_queue.answer([(request_id, labels[request_id]) for request_id in ids[:3]])
        assert (answered.recorded, answered.answered) == (3, 3)
        assert [item["request_id"] for item in ws.label_queue.pending()] == ids[3:]
        labelled = read_labelled(PredictionLog(TableStore(behind.settings.tables_url)), "houses")
        assert sorted(labelled.request_ids.to_list()) == sorted(ids[:3])
        (event,) = behind.events.list(action="labels.answered")
        assert (event.actor, event.details["from"]) == ("dan", "127.0.0.1")


def test_the_server_documents_every_strategy_and_no_other() -> None:
    from typing import get_args

    from driftloop.loop._active import STRATEGIES
    from driftloop.server._operations import LabelRequestBody

    assert get_args(LabelRequestBody.model_fields["strategy"].annotation) == STRATEGIES
