"""The stream demo, shortened: the served champion learns online from the feedback, batch by batch, and the
active learners ask for an equal number of labels."""

from __future__ import annotations

from rich.console import Console

from driftloop import Workspace
from driftloop.demo._stream_demo import BATCH, BUDGET, MODEL, make_stream, run_stream_demo


def test_the_stream_has_its_drift_at_the_stated_place_and_is_seeded() -> None:
    first, again = make_stream(3, 600), make_stream(3, 600)
    assert first.equals(again) and len(first) == 600 and set(first["label"]) <= {0, 1}
    assert first["event_id"].is_unique


def test_the_served_champion_learns_online_and_the_active_learners_share_a_budget(
    sqlite_workspace: Workspace,
) -> None:
    console = Console(record=True, width=160, force_terminal=False)
    result = run_stream_demo(sqlite_workspace, events=3_000, console=console)
    first, second = result.batches
    assert (first.first_event, second.first_event) == (2_000, 2_500)
    assert first.served_version == 1 and first.failed_requests == second.failed_requests == 0
    assert result.checkpoints >= 1 and first.online_status == "promoted"
    assert second.served_version == 2  # the server loaded the checkpoint before the next batch
    checkpoint = sqlite_workspace.models.get(f"{MODEL}/2")
    assert checkpoint.flavour == "river" and checkpoint.dataset == f"{MODEL}-window"
    assert second.active_labels == 2 * round(BATCH * BUDGET)
    for batch in result.batches:
        assert all(0.0 <= value <= 1.0 for value in (batch.online, batch.frozen, batch.margin, batch.random))
    text = console.export_text()
    assert "active learning, 100 labels each" in text and "failed requests: 0" in text
