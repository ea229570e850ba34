"""The Workspace entry point: no I/O until used, then connect and migrate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import driftloop
from driftloop import Workspace
from driftloop.errors import InvalidSettings, SchemaMismatch, StoreUnavailable


def test_building_a_workspace_does_no_io(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "nowhere", store="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert not (tmp_path / "nowhere").exists()
    assert repr(ws) == "Workspace(<not opened>)"


def test_default_workspace_is_dot_driftloop_in_the_current_folder(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    ws = Workspace()
    assert not (tmp_path / ".driftloop").exists()
    ws.tracking.create_experiment("first")
    assert (tmp_path / ".driftloop" / "driftloop.db").is_file()
    ws.close()


def test_module_level_helpers_use_the_settings_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_ROOT", str(tmp_path / "env-ws"))
    driftloop.set_workspace(None)
    try:
        with driftloop.start_run("helpers") as run:
            run.log_metric("x", 1.0)
        ws = driftloop.get_workspace()
        assert ws.settings.root == str(tmp_path / "env-ws")
        assert ws.tracking.get_run(run.id).metric("x") == 1.0
    finally:
        driftloop.get_workspace().close()
        driftloop.set_workspace(None)


def test_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, store="postgresql+psycopg://nobody:pw@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreUnavailable, match="Cannot reach the metadata store at postgresql") as caught:
        ws.open()
    assert ":pw@" not in str(caught.value)


@pytest.mark.parametrize(
    ("store", "message"),
    [("mysql://x@y/z", "Unsupported metadata store 'mysql'"), ("not a url", "not a URL")],
)
def test_unsupported_store_urls(tmp_path: Path, store: str, message: str) -> None:
    with pytest.raises(InvalidSettings, match=message):
        Workspace(tmp_path, store=store).open()


@pytest.mark.postgres
def test_a_shared_database_is_migrated_explicitly(empty_postgres_url: str, tmp_path: Path) -> None:
    from driftloop.store.metadata import Database

    with pytest.raises(SchemaMismatch, match=r"has no driftloop schema yet.*driftloop --store .* db upgrade"):
        Workspace(tmp_path, store=empty_postgres_url).open()
    database = Database(empty_postgres_url)
    database.upgrade()
    database.dispose()
    ws = Workspace(tmp_path, store=empty_postgres_url).open()
    assert ws.tracking.create_experiment("now").name == "now"
    ws.close()


def test_acting_as_shares_the_stores_and_records_the_other_actor(tmp_path: Path) -> None:
    from driftloop.errors import InvalidName, InvalidState

    with Workspace(tmp_path / "ws", actor="server-admin") as ws:
        dan = ws.acting_as("dan")
        assert dan.actor == "dan" and dan.metadata is ws.metadata and dan.blobs is ws.blobs
        dan.tracking.create_experiment("price")
        dan.close()  # its runs end; the stores stay open for the workspace that opened them
        assert [e.name for e in ws.tracking.list_experiments()] == ["price"]
        (event,) = ws.events.list(action="experiment.create")
        assert event.actor == "dan"
        with pytest.raises(InvalidName):
            ws.acting_as(" ")
    with pytest.raises(InvalidState, match="acts as its token's user"):
        Workspace("http://127.0.0.1:9", token="dl_x_" + "y" * 43).acting_as("dan")
