"""A workspace reached through ``driftloop server``: opened by address and token, acting as the token's user, with
the server's refusals raised as driftloop's own errors and the token kept out of every message."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import remote_workspace, served, stores_of

from driftloop import Workspace
from driftloop.entities import Role
from driftloop.errors import InvalidSettings, InvalidState, PermissionDenied, StoreUnavailable, Unauthenticated
from driftloop.server import WorkspaceServerSettings, create_server_app


def test_writes_are_recorded_as_the_token_user(tmp_path: Path) -> None:
    with remote_workspace(tmp_path, actor="ana") as ws:
        assert ws.is_remote and ws.actor == "ana"
        with ws.start_run("price") as run:
            run.log_metric("rmse", 2.5)
        events = stores_of(ws).events.list(object_id=run.id)
    assert {event.action for event in events} >= {"run.start", "run.end"}
    assert {event.actor for event in events} == {"ana"}
    # The audit log says from where: the client's address, recorded by the server on every event of the request.
    assert {event.details["from"] for event in events} == {"127.0.0.1"}


def test_a_token_of_too_low_a_role_is_refused_with_permission_denied(tmp_path: Path) -> None:
    with remote_workspace(tmp_path) as admin:
        identities = stores_of(admin).metadata.identities
        identities.create_user("vic", role=Role.VIEWER, actor="setup")
        _, token = identities.create_token("vic", None, actor="setup")
        admin.tracking.create_experiment("price")
        viewer = Workspace(admin.server.url, token=token)
        try:
            assert [e.name for e in viewer.tracking.list_experiments()] == ["price"]
            with pytest.raises(PermissionDenied, match="editor"):
                viewer.tracking.create_experiment("other")
            assert "other" not in {e.name for e in admin.tracking.list_experiments()}
            assert token not in repr(viewer) and token not in repr(viewer.settings)
        finally:
            viewer.close()


def test_a_closed_server_needs_a_token(tmp_path: Path) -> None:
    behind = Workspace(tmp_path / "server").open()
    try:
        with served(create_server_app(behind)) as url:
            anonymous = Workspace(url)
            with pytest.raises(Unauthenticated, match="needs an API token"):
                anonymous.tracking.list_experiments()
            forged = Workspace(url, token="dl_0123456789abcdef_" + "x" * 43)
            with pytest.raises(Unauthenticated) as refused:
                forged.tracking.list_experiments()
            assert "x" * 43 not in str(refused.value)
            anonymous.close()
            forged.close()
    finally:
        behind.close()


def test_an_open_loopback_server_acts_as_its_local_admin_without_a_token(tmp_path: Path) -> None:
    behind = Workspace(tmp_path / "server", actor="owner").open()
    try:
        with served(create_server_app(behind, WorkspaceServerSettings(open_access=True))) as url:
            ws = Workspace(url)
            assert ws.actor == "owner"
            assert ws.tracking.create_experiment("price").created_by == "owner"
            ws.close()
    finally:
        behind.close()


def test_the_address_and_token_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with remote_workspace(tmp_path, actor="ana") as ws:
        token = ws.settings.token
        assert token is not None
        monkeypatch.setenv("DRIFTLOOP_STORE", ws.server.url)
        monkeypatch.setenv("DRIFTLOOP_TOKEN", token)
        from_environment = Workspace()
        try:
            assert from_environment.is_remote and from_environment.actor == "ana"
        finally:
            from_environment.close()


def test_acting_as_another_user_is_refused(tmp_path: Path) -> None:
    with remote_workspace(tmp_path, actor="ana") as ws:
        with pytest.raises(PermissionDenied, match=r"token's user \('ana'\).*'bob'"):
            ws.tracking.start_run("price", actor="bob")
        assert ws.tracking.search_runs() == []
        wrong = Workspace(ws.server.url, token=ws.settings.token, actor="bob")
        with pytest.raises(PermissionDenied, match="belongs to 'ana'"):
            _ = wrong.actor
        wrong.close()


def test_the_direct_stores_are_the_server_s_own(tmp_path: Path) -> None:
    with remote_workspace(tmp_path) as ws:
        for reach in (lambda: ws.metadata, lambda: ws.blobs):
            with pytest.raises(InvalidState, match="through a server has no direct"):
                reach()
        with pytest.raises(InvalidState, match="acts as its token's user"):
            ws.acting_as("dan")


def test_an_unreachable_server_is_named_without_its_token(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    ws = Workspace(f"http://127.0.0.1:{port}", token="dl_0123456789abcdef_" + "s" * 43)
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port} cannot be reached") as refused:
        ws.tracking.list_experiments()
    assert "s" * 43 not in str(refused.value)
    ws.close()


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("http://", "http\\(s\\)://host"),
        ("http://user:secret@host:8080", "not in its URL"),
    ],
)
def test_a_malformed_server_address_is_refused(address: str, message: str) -> None:
    ws = Workspace(address)
    with pytest.raises(InvalidSettings, match=message) as refused:
        ws.open()
    assert "secret" not in str(refused.value)


def test_every_error_code_comes_back_as_the_class_that_declares_it() -> None:
    import httpx

    import driftloop.serving  # noqa: F401  (its InputRejected inherits invalid_data and takes other arguments)
    from driftloop.errors import HTTP_STATUS
    from driftloop.remote._client import error_from

    for code, status in HTTP_STATUS.items():
        error = error_from(httpx.Response(status, json={"error": {"code": code, "message": "the server's words"}}))
        assert (type(error).code, error.message) == (code, "the server's words")
        assert type(error).__module__ == "driftloop.errors"
    unknown = error_from(httpx.Response(502, text="<html>bad gateway</html>"))
    assert type(unknown).__name__ == "StoreError" and "502" in unknown.message


def test_registering_against_a_dataset_needs_a_grant_on_that_dataset_too(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 80)})
    frame["price"] = 3 * frame["area"] + rng.normal(0, 5, 80)
    model = Ridge().fit(frame[["area"]], frame["price"])
    with remote_workspace(tmp_path) as admin:
        admin.datasets.ingest("sales", frame)
        identities = stores_of(admin).metadata.identities
        identities.create_user("mo", actor="setup")
        identities.grant("mo", Role.EDITOR, "model:houses", actor="setup")
        _, token = identities.create_token("mo", None, actor="setup")
        modeller = Workspace(admin.server.url, token=token)
        try:
            with pytest.raises(PermissionDenied, match="viewer on dataset:sales"):
                modeller.models.register("houses", model, dataset="sales")
            assert stores_of(admin).models.list() == []
            identities.grant("mo", Role.VIEWER, "dataset:sales", actor="setup")
            info = modeller.models.register("houses", model, dataset="sales")
            assert (info.dataset, info.dataset_version, info.created_by) == ("sales", 1, "mo")
        finally:
            modeller.close()


def test_a_dataset_schema_is_read_set_and_checked_against_through_the_server(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"area": [50.0, 72.5, 90.0], "rooms": [1, 2, 3]})
    with remote_workspace(tmp_path) as ws:
        ws.datasets.ingest("houses", frame)
        schema = ws.datasets.schema("houses")
        assert {"area", "rooms"} <= set(schema.names)
        ws.datasets.set_schema("houses", schema)
        assert ws.datasets.validate("houses", frame)["rows_quarantined"] == 0
        broken = frame.astype({"rooms": str})
        broken.loc[1, "rooms"] = "many"
        assert ws.datasets.validate("houses", broken)["rows_quarantined"] == 1
        assert len(ws.datasets.versions("houses")) == 1  # checking stores nothing
        latest = stores_of(ws).events.list(action="dataset.set_schema")[0]  # the first ingest set the inferred one
        assert (latest.actor, latest.details.get("from")) == ("tester", "127.0.0.1")


def test_a_version_streams_in_batches_as_it_arrives(tmp_path: Path) -> None:
    import dataclasses

    import pandas as pd
    import pyarrow as pa

    from driftloop.errors import NotFound

    frame = pd.DataFrame({"id": range(50_000), "area": [float(i % 97) for i in range(50_000)]})
    with remote_workspace(tmp_path) as ws:
        ws.datasets.ingest("houses", frame)
        batches = list(ws.datasets.get("houses").batches(batch_size=7_000))
        assert max(batch.num_rows for batch in batches) <= 7_000 and len(batches) >= 8
        streamed = pa.Table.from_batches(batches).to_pandas()
        pd.testing.assert_frame_equal(streamed, frame, check_dtype=False)
        # A refusal while streaming is the server's error, as for any other request.
        handle = ws.datasets.get("houses")
        handle.info = dataclasses.replace(handle.info, number=9)
        with pytest.raises(NotFound, match="version 9"):
            list(handle.batches())


def test_a_river_model_through_the_server_needs_an_admin_and_is_signed_there(tmp_path: Path) -> None:
    from river import compose, linear_model, preprocessing

    model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())
    for x in range(50):
        model.learn_one({"area": float(x)}, 3.0 * x)
    with remote_workspace(tmp_path) as admin:
        identities = stores_of(admin).metadata.identities
        identities.create_user("ed", role=Role.EDITOR, actor="setup")
        _, token = identities.create_token("ed", None, actor="setup")
        editor = Workspace(admin.server.url, token=token)
        try:
            with pytest.raises(PermissionDenied, match="admin role"):
                editor.models.register("online", model)  # its pickle would run code on the server
            assert stores_of(admin).models.list() == []
            info = admin.models.register("online", model)
            # Signed with the workspace key: the workspace itself loads it, and so does the editor through the server.
            expected = model.predict_one({"area": 10.0})
            row = pd.DataFrame({"area": [10.0]})
            assert stores_of(admin).models.load(info.reference).predict(row)[0] == pytest.approx(expected)
            assert editor.models.load("online/1").predict(row)[0] == pytest.approx(expected)
        finally:
            editor.close()
