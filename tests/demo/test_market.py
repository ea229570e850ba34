"""The demo's generated housing market: its shape, and every event showing in the rows when the issue says."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftloop.demo._market import (
    FEATURES,
    SQUARE_FEET_PER_SQUARE_METRE,
    TARGET,
    District,
    MarketEvent,
    MarketParameters,
    generate_market,
    market_events,
)
from driftloop.errors import InvalidInput

CENTRAL = ("Hoan Kiem", "Ba Dinh")
STABLE_DISTRICT = "Dong Da"
SEED = 11


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    return generate_market(seed=SEED)


def clean(market: pd.DataFrame) -> pd.DataFrame:
    """The rows without a quality incident, with their price per m²."""
    rows = market[market["incident"] == ""]
    return rows.assign(price_per_m2=rows["price"] / rows["area"])


def test_same_seed_gives_the_same_frame_and_another_seed_another() -> None:
    pd.testing.assert_frame_equal(generate_market(seed=5), generate_market(seed=5))
    first, other = generate_market(seed=5), generate_market(seed=6)
    assert len(first) != len(other) or not np.array_equal(first["price"], other["price"])


def test_columns_types_and_ids(market: pd.DataFrame) -> None:
    assert FEATURES == ("area", "rooms", "district", "building_age", "distance_km", "floor", "parking")
    assert TARGET == "price"
    assert list(market.columns) == ["sale_id", "month", "sold_at", *FEATURES, TARGET, "incident"]
    assert market["sale_id"].is_unique
    for column in ("month", "rooms", "building_age", "floor"):
        assert pd.api.types.is_integer_dtype(market[column]), column
    for column in ("area", "distance_km", "price"):
        assert pd.api.types.is_float_dtype(market[column]), column
    assert pd.api.types.is_bool_dtype(market["parking"])
    assert set(market["incident"]) == {"", "area_missing", "area_square_feet"}
    assert market["sold_at"].is_monotonic_increasing


def test_every_sale_happens_inside_its_month(market: pd.DataFrame) -> None:
    sold_at = market["sold_at"]
    months_since_start = (sold_at.dt.year - 2025) * 12 + sold_at.dt.month - 1
    assert (months_since_start == market["month"]).all()
    assert str(sold_at.dt.tz) == "UTC"


def test_about_two_thousand_sales_a_month(market: pd.DataFrame) -> None:
    per_month = market.groupby("month").size()
    assert list(per_month.index) == list(range(24))
    assert per_month.between(1800, 2200).all(), per_month.to_dict()


def test_the_price_is_never_missing_and_always_positive(market: pd.DataFrame) -> None:
    assert market[TARGET].notna().all()
    assert (market[TARGET] > 0).all()


def test_features_are_plausible_and_correlated(market: pd.DataFrame) -> None:
    rows = clean(market)
    assert rows["area"].between(20, 250).all()
    assert rows["rooms"].between(1, 6).all()
    assert rows["area"].corr(rows["rooms"], method="spearman") > 0.7
    distance = rows.groupby("district")["distance_km"].median()
    assert distance["Hoan Kiem"] < distance["Dong Da"] < distance["Thanh Xuan"]
    price_per_m2 = rows[rows["month"] == 0].groupby("district")["price_per_m2"].median()
    assert price_per_m2.idxmax() == "Hoan Kiem"


def test_the_new_district_opens_in_month_9_with_a_quarter_of_sales(market: pd.DataFrame) -> None:
    long_bien = market["district"] == "Long Bien"
    assert not long_bien[market["month"] < 9].any()
    assert set(market.loc[market["month"] < 9, "district"]) == {
        "Hoan Kiem",
        "Ba Dinh",
        "Dong Da",
        "Hai Ba Trung",
        "Cau Giay",
        "Thanh Xuan",
    }
    opened = market["month"] >= 9
    assert long_bien[opened].mean() == pytest.approx(0.25, abs=0.03)
    per_month = long_bien[opened].groupby(market["month"]).mean()
    assert per_month.between(0.19, 0.31).all(), per_month.to_dict()


def test_the_share_of_small_flats_doubles_from_month_15(market: pd.DataFrame) -> None:
    rows = clean(market)
    small = (rows["area"] < 50).groupby(rows["month"]).mean()
    before, after = small[small.index < 15].mean(), small[small.index >= 15].mean()
    assert 0.17 <= before <= 0.23
    assert 1.6 <= after / before <= 2.4


def test_a_third_of_the_area_is_missing_in_months_17_and_18_only(market: pd.DataFrame) -> None:
    missing = market["area"].isna()
    assert (missing == (market["incident"] == "area_missing")).all()
    in_incident = market["month"].isin([17, 18])
    assert not missing[~in_incident].any()
    share = missing[in_incident].groupby(market["month"]).mean()
    assert share.between(0.30, 0.37).all(), share.to_dict()


def test_one_district_sends_square_feet_in_month_20(market: pd.DataFrame) -> None:
    square_feet = market["incident"] == "area_square_feet"
    cau_giay_20 = (market["district"] == "Cau Giay") & (market["month"] == 20)
    assert (square_feet == cau_giay_20).all()
    assert (market.loc[cau_giay_20, "area"] >= 20 * SQUARE_FEET_PER_SQUARE_METRE).all()
    cau_giay = clean(market[market["district"] == "Cau Giay"])
    normal_median = cau_giay.loc[cau_giay["month"].isin([15, 16, 19, 21, 22, 23]), "area"].median()
    ratio = market.loc[cau_giay_20, "area"].median() / normal_median
    assert ratio == pytest.approx(SQUARE_FEET_PER_SQUARE_METRE, rel=0.15)


def test_incidents_corrupt_only_the_delivered_area(market: pd.DataFrame) -> None:
    # Incidents draw nothing of their own, so the same seed without them gives the same sales, uncorrupted.
    parameters = MarketParameters(missing_area_months=(), square_feet_month=None)
    intact = generate_market(parameters, seed=SEED)
    others = [column for column in market.columns if column not in ("area", "incident")]
    pd.testing.assert_frame_equal(market[others], intact[others])
    assert (intact["incident"] == "").all()
    untouched = market["incident"] == ""
    assert market.loc[untouched, "area"].equals(intact.loc[untouched, "area"])
    assert intact.loc[market["incident"] == "area_missing", "area"].notna().all()
    square_feet = market["incident"] == "area_square_feet"
    np.testing.assert_allclose(
        market.loc[square_feet, "area"], intact.loc[square_feet, "area"] * SQUARE_FEET_PER_SQUARE_METRE, atol=0.05
    )


def test_the_market_index_and_the_jump_multiply_the_price(market: pd.DataFrame) -> None:
    steady = generate_market(MarketParameters(inflation=0.0, jump=0.0), seed=SEED)
    jumped = market["district"].isin(CENTRAL) & (market["month"] >= 12)
    expected = 1.01 ** market["month"] * np.where(jumped, 1.2, 1.0)
    np.testing.assert_allclose(market["price"] / steady["price"], expected, rtol=1e-3)


def test_central_prices_jump_20_percent_in_month_12(market: pd.DataFrame) -> None:
    rows = clean(market)
    central = rows["district"].isin(CENTRAL)

    def growth(selected: pd.Series) -> float:
        median = rows[selected].groupby("month")["price_per_m2"].median()
        return float(median[12] / median[11])

    # The month-to-month median moves by about 3% from sampling alone (seen over 60 seeds), hence the margin.
    relative = growth(central) / growth(~central)
    assert 1.12 <= relative <= 1.28


def test_the_market_index_rises_1_percent_a_month(market: pd.DataFrame) -> None:
    rows = clean(market)
    median = rows[rows["district"] == STABLE_DISTRICT].groupby("month")["price_per_m2"].median()
    slope = np.polyfit(median.index.to_numpy(), np.log(median.to_numpy()), 1)[0]
    assert 0.005 <= slope <= 0.015


def test_the_events_of_the_default_market() -> None:
    events = market_events(MarketParameters())
    assert [(event.month, event.kind, event.name) for event in events] == [
        (1, "concept", "inflation"),
        (9, "data", "new_district"),
        (12, "concept", "central_jump"),
        (15, "data", "small_flats"),
        (17, "quality", "area_missing"),
        (20, "quality", "area_square_feet"),
    ]
    assert events[4].last_month == 18
    assert events[5].last_month == 20
    assert "Hoan Kiem and Ba Dinh jump 20%" in events[2].description
    assert all(isinstance(event, MarketEvent) and event.description for event in events)


def test_events_past_the_last_month_never_happen() -> None:
    parameters = MarketParameters(months=13)
    assert [event.name for event in market_events(parameters)] == ["inflation", "new_district", "central_jump"]
    market = generate_market(parameters, seed=1)
    assert market["month"].max() == 12
    assert (market["incident"] == "").all()


def test_switched_off_events_leave_a_steady_market() -> None:
    parameters = MarketParameters(
        inflation=0.0,
        jump=0.0,
        new_district_share=0.0,
        small_flats_factor=1.0,
        missing_area_months=(),
        square_feet_month=None,
    )
    assert market_events(parameters) == []
    market = generate_market(parameters, seed=2)
    assert "Long Bien" not in set(market["district"])
    assert (market["incident"] == "").all()
    assert market["area"].notna().all()


def test_missing_area_months_apart_are_separate_events() -> None:
    events = market_events(MarketParameters(missing_area_months=(4, 5, 6, 10)))
    assert [(event.month, event.last_month) for event in events if event.name == "area_missing"] == [(4, 6), (10, 10)]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"months": -1}, "'months'"),
        ({"months": 0}, "'months'"),
        ({"months": 2.5}, "'months'"),
        ({"sales_per_month": 0}, "'sales_per_month'"),
        ({"jump_month": -3}, "'jump_month'"),
        ({"new_district_share": 1.5}, "'new_district_share'"),
        ({"missing_area_share": -0.1}, "'missing_area_share'"),
        ({"small_flats_share": 0.6}, "'small_flats_factor'"),
        ({"small_flat_area": 10.0}, "'small_flat_area'"),
        ({"noise": -0.1}, "'noise'"),
        ({"inflation": float("nan")}, "'inflation'"),
        ({"jump": -1.0}, "'jump'"),
        ({"central_districts": ("Hoan Kiem", "Nowhere")}, "'Nowhere'"),
        ({"square_feet_district": "Nowhere"}, "'Nowhere'"),
        ({"start": date(2025, 1, 15)}, "'start'"),
        ({"missing_area_months": (17, -1)}, "'missing_area_months'"),
        ({"missing_area_months": [17, 18]}, "'missing_area_months'"),
        ({"square_feet_month": -20}, "'square_feet_month'"),
        ({"new_district": District("Hoan Kiem", 55.0, 7.5, 2.0, 3.0)}, "distinct names"),
        ({"districts": (District("Tay Ho", -1.0, 5.0, 1.0, 10.0),)}, "base_price_per_m2 of Tay Ho"),
        ({"districts": ()}, "'districts'"),
    ],
)
def test_nonsense_parameters_are_refused_by_name(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        dataclasses.replace(MarketParameters(), **changes)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_a_seed_must_be_a_whole_number(seed: Any) -> None:
    with pytest.raises(InvalidInput, match="'seed'"):
        generate_market(seed=seed)
