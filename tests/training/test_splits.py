"""Splits: sizes, class shares, time order with ties kept together, the holdout fingerprint, and bad input."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._splits import split


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"area": rng.normal(70, 20, 50), "kind": rng.choice(["flat", "house"], 50), "price": rng.normal(3, 1, 50)},
        index=pd.RangeIndex(100, 150),
    )


def test_random_split_takes_the_ceiling_share_and_loses_no_row(frame: pd.DataFrame) -> None:
    cut = split(frame, "price", holdout=0.25, seed=7)
    assert (len(cut.train), len(cut.holdout)) == (37, 13)  # ceil(0.25 * 50) = 13
    assert set(cut.train.index).isdisjoint(cut.holdout.index)
    assert sorted([*cut.train.index, *cut.holdout.index]) == list(frame.index)
    assert cut.holdout_index == tuple(cut.holdout.index.tolist())
    assert list(cut.holdout.index) == sorted(cut.holdout.index)  # original order kept
    assert cut.method == "random" and cut.target == "price"
    pd.testing.assert_frame_equal(cut.holdout, frame.loc[list(cut.holdout_index)])


def test_random_split_is_reproducible_by_seed(frame: pd.DataFrame) -> None:
    assert split(frame, "price", seed=1).holdout_index == split(frame, "price", seed=1).holdout_index
    assert split(frame, "price", seed=1).holdout_index != split(frame, "price", seed=2).holdout_index


def test_stratified_split_keeps_each_class_share() -> None:
    labels = ["spam"] * 20 + ["ham"] * 80
    data = pd.DataFrame({"x": np.arange(100), "label": labels})
    for seed in range(3):
        cut = split(data, "label", method="stratified", holdout=0.2, seed=seed)
        assert cut.holdout["label"].value_counts().to_dict() == {"ham": 16, "spam": 4}
        assert cut.train["label"].value_counts().to_dict() == {"ham": 64, "spam": 16}


def test_time_split_holds_out_the_latest_rows() -> None:
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    data = pd.DataFrame({"day": days[np.random.default_rng(3).permutation(30)], "y": np.arange(30.0)})
    cut = split(data, "y", method="time", holdout=0.2, time_column="day")
    assert len(cut.holdout) == 6
    assert cut.holdout["day"].min() == pd.Timestamp("2024-01-25")
    assert cut.holdout["day"].min() > cut.train["day"].max()


def test_time_split_keeps_rows_of_the_boundary_time_together() -> None:
    # Ten rows; a 0.3 holdout asks for 3, but the boundary time 7 has three rows, one of which falls in
    # the first 7: all three join the holdout.
    data = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 7, 7, 8], "y": np.arange(10.0)})
    cut = split(data, "y", method="time", holdout=0.3, time_column="t")
    assert sorted(cut.holdout["t"]) == [7, 7, 7, 8]
    assert cut.train["t"].max() < cut.holdout["t"].min()


def test_time_ties_stay_in_training_when_the_holdout_would_swallow_everything() -> None:
    data = pd.DataFrame({"t": [1, 1, 1, 1, 2], "y": np.arange(5.0)})
    cut = split(data, "y", method="time", holdout=0.5, time_column="t")
    assert cut.train["t"].tolist() == [1, 1, 1, 1] and cut.holdout["t"].tolist() == [2]


def test_time_split_orders_timezones_and_ordered_categories() -> None:
    times = pd.to_datetime(["2024-01-01 10:00+02:00", "2024-01-01 09:00+00:00", "2024-01-01 07:00+00:00"], utc=True)
    data = pd.DataFrame({"when": times.tz_convert("Asia/Ho_Chi_Minh"), "y": [1.0, 2.0, 3.0]})
    # 10:00+02:00 is 08:00 UTC: the latest row is the 09:00 UTC one.
    assert split(data, "y", method="time", holdout=0.3, time_column="when").holdout["y"].tolist() == [2.0]
    quarter = pd.Categorical(["q3", "q1", "q2", "q4"], categories=["q1", "q2", "q3", "q4"], ordered=True)
    data = pd.DataFrame({"quarter": quarter, "y": [1.0, 2.0, 3.0, 4.0]})
    assert split(data, "y", method="time", holdout=0.25, time_column="quarter").holdout["y"].tolist() == [4.0]
    months = pd.Series(pd.period_range("2024-01", periods=4, freq="M")[[2, 3, 0, 1]])
    data = pd.DataFrame({"month": months, "y": [1.0, 2.0, 3.0, 4.0]})
    assert split(data, "y", method="time", holdout=0.5, time_column="month").holdout["y"].tolist() == [1.0, 2.0]


def test_the_fingerprint_names_the_holdout_rows_not_their_order(frame: pd.DataFrame) -> None:
    cut = split(frame, "price", seed=5)
    fingerprint = cut.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert split(frame, "price", seed=5).fingerprint() == fingerprint
    reordered = type(cut)(cut.train, cut.holdout.iloc[::-1][cut.holdout.columns[::-1]], "random", "price", ())
    assert reordered.fingerprint() == fingerprint
    changed = cut.holdout.copy()
    changed.iloc[0, 0] += 1.0
    assert type(cut)(cut.train, changed, "random", "price", ()).fingerprint() != fingerprint
    reindexed = cut.holdout.set_axis(cut.holdout.index + 1000)
    assert type(cut)(cut.train, reindexed, "random", "price", ()).fingerprint() != fingerprint
    assert split(frame, "price", seed=6).fingerprint() != fingerprint


def test_a_missing_target_names_the_available_columns() -> None:
    wide = pd.DataFrame(np.zeros((4, 25)), columns=[f"c{index}" for index in range(25)])
    with pytest.raises(InvalidInput, match=r"target 'price' is not a column .* 'c0', 'c1', .* 'c19' \(and 5 more\)\."):
        split(wide, "price")


@pytest.mark.parametrize("holdout", [0, 1, 1.5, -0.1, True, "0.2"])
def test_the_holdout_must_be_a_fraction(frame: pd.DataFrame, holdout: Any) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"The 'holdout' must be a fraction in (0, 1); got {holdout!r}.")):
        split(frame, "price", holdout=holdout)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"method": "grouped"}, InvalidInput, "'method' must be one of 'random', 'stratified', 'time'; got 'grouped'"),
        ({"method": "time"}, InvalidInput, "time split needs a 'time_column'"),
        ({"method": "time", "time_column": "when"}, InvalidInput, "time column 'when' is not a column"),
        ({"method": "time", "time_column": "kind"}, InvalidData, "'kind' must hold dates, times or numbers"),
    ],
)
def test_split_refuses_bad_arguments(
    frame: pd.DataFrame, arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        split(frame, "price", **arguments)


def test_a_time_column_needs_every_time_and_two_distinct_ones() -> None:
    data = pd.DataFrame({"t": [1.0, np.nan, 3.0, np.nan], "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(InvalidData, match="'t' is missing in 2 of 4 rows"):
        split(data, "y", method="time", time_column="t")
    with pytest.raises(InvalidData, match="single time for all 4 rows"):
        split(data.fillna(1.0).assign(t=1.0), "y", method="time", time_column="t")


def test_too_few_rows_are_refused() -> None:
    with pytest.raises(InvalidData, match=re.escape("A holdout of 0.2 of 1 rows leaves no training rows")):
        split(pd.DataFrame({"y": [1.0]}), "y")
    with pytest.raises(InvalidData, match="leaves no holdout rows"):
        split(pd.DataFrame({"y": []}), "y")


def test_stratified_split_needs_two_rows_of_each_class_and_room_for_all_classes() -> None:
    data = pd.DataFrame({"label": ["a", "a", "a", "b", "b", "c"]})
    with pytest.raises(InvalidData, match="at least 2 rows of each class; class 'c' of 'label' has 1"):
        split(data, "label", method="stratified")
    data = pd.DataFrame({"label": ["a", "a", "b", "b", "c", "c"]})
    with pytest.raises(InvalidData, match="cannot hold each of the 3 classes on both sides"):
        split(data, "label", method="stratified", holdout=0.2)
    with pytest.raises(InvalidData, match="missing in 1 of 3 rows"):
        split(pd.DataFrame({"label": ["a", None, "a"]}), "label", method="stratified")
