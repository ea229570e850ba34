"""The generated housing market the closed-loop demo replays: flat sales in Hanoi, month by month.

Every sale is drawn from one seeded :func:`numpy.random.default_rng`, so a seed fixes the whole market; every
number the demo prints about it is measured on the generated rows, never written in advance.

**Sales.** Month ``m`` (0 to ``months - 1``, the first starting on ``start``, 2025-01-01 by default) has a
Poisson number of sales around ``sales_per_month`` (2,000), each sold at a uniformly drawn second of its month.
Until ``new_district_month`` the sales spread over six districts by their ``sales_weight``; Hoan Kiem and Ba
Dinh are the central ones.

**Features**, in the order of :data:`FEATURES`:

- ``area`` (m²): a log-normal around 75 m² (log spread 0.45, cut to 20–250 m², one decimal), drawn so that a
  share ``small_flats_share`` (20%) of flats is under ``small_flat_area`` (50 m²);
- ``rooms``: ``area / 30`` plus a normal spread of 0.5, rounded, 1 to 6;
- ``district``: its name;
- ``building_age`` (years): a gamma (shape 2) around the district's ``typical_age``, whole years, at most 80;
- ``distance_km`` to the centre: a normal around the district's ``distance_km`` with its ``distance_spread_km``,
  at least 0.2 km;
- ``floor``: 1 plus a Poisson of mean ``3 + 12·exp(−age / 15)`` (new buildings are taller), at most 45;
- ``parking``: true with probability ``0.85 − 0.02·age``, kept within 0.1–0.9.

**Price** (the target, millions of VND), always the true price of the flat::

    price = base_price_per_m2[district] × area
            × (1 + 0.04·(rooms − area / 30))        more rooms than usual for the area sell for more
            × exp(−0.01·building_age) × exp(−0.03·distance_km)
            × (1 + 0.005·min(floor − 1, 20)) × (1.06 if parking)
            × (1 + inflation)^month                  the market index
            × (1 + jump if central and month ≥ jump_month)
            × exp(ε),  ε ~ Normal(0, noise²)          noise = 0.10

**Events** (the defaults; :func:`market_events` lists them for any parameters):

- concept, ``inflation``: the market index rises 1% a month, so prices from month 1 on are 1.01^month those of
  month 0;
- concept, ``central_jump``: from month 12, prices in Hoan Kiem and Ba Dinh are 20% higher;
- data, ``new_district``: from month 9, Long Bien opens and takes a quarter of the sales; the six others share
  the rest in their old proportions;
- data, ``small_flats``: from month 15, the share of flats under 50 m² doubles (20% to 40%);
- quality, ``area_missing``: in months 17 and 18, each row arrives with its area missing with probability 1/3;
- quality, ``area_square_feet``: in month 20, Cau Giay's feed sends the area in square feet (× 10.7639).

Quality incidents corrupt only the delivered ``area``, never the price; a row's ``incident`` column names its
incident (``""``, ``"area_missing"`` or ``"area_square_feet"``) for the demo's bookkeeping and is not a feature.
Where both incidents fall on the same row, the area is missing.

>>> market = generate_market(seed=7)
>>> list(market.columns)
['sale_id', 'month', 'sold_at', 'area', 'rooms', 'district', 'building_age', 'distance_km', 'floor', 'parking', \
'price', 'incident']
>>> int(market.loc[market["district"] == "Long Bien", "month"].min())
9
>>> [(event.month, event.name) for event in market_events(MarketParameters())]
[(1, 'inflation'), (9, 'new_district'), (12, 'central_jump'), (15, 'small_flats'), (17, 'area_missing'), \
(20, 'area_square_feet')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr, ndtri

from driftloop.errors import InvalidInput

__all__ = [
    "FEATURES",
    "SQUARE_FEET_PER_SQUARE_METRE",
    "TARGET",
    "District",
    "MarketEvent",
    "MarketParameters",
    "generate_market",
    "market_events",
]

FEATURES: Final = ("area", "rooms", "district", "building_age", "distance_km", "floor", "parking")
"""The features a model of the market reads, in order."""
TARGET: Final = "price"
"""The target: the true price of the flat, in millions of VND."""
SQUARE_FEET_PER_SQUARE_METRE: Final = 10.7639
"""How many square feet one square metre is: what the ``area_square_feet`` incident multiplies the area by."""

_AREA_MEDIAN = 75.0
_AREA_LOG_SPREAD = 0.45
_AREA_MIN = 20.0
_AREA_MAX = 250.0
_SQUARE_METRES_PER_ROOM = 30.0
_ROOMS_SPREAD = 0.5
_MAX_ROOMS = 6
_MAX_FLOOR = 45
_MAX_BUILDING_AGE = 80
_MIN_DISTANCE_KM = 0.2
_ROOMS_PREMIUM = 0.04
_AGE_DISCOUNT = 0.01
_DISTANCE_DISCOUNT = 0.03
_FLOOR_PREMIUM = 0.005
_FLOOR_PREMIUM_CAP = 20
_PARKING_PREMIUM = 0.06


@dataclass(frozen=True)
class District:
    """One district of the market: what a square metre costs there, where it lies and how old it is.

    Attributes:
        name: The district's name, as the ``district`` column holds it.
        base_price_per_m2: The price of a square metre before every other factor, in millions of VND.
        distance_km: The typical distance of its flats to the city centre.
        distance_spread_km: The standard deviation of that distance.
        typical_age: The mean age of its buildings, in years.
        sales_weight: Its weight in the sales before the new district opens (weights are normalised); unused
            for the new district, whose share is ``MarketParameters.new_district_share``.
    """

    name: str
    base_price_per_m2: float
    distance_km: float
    distance_spread_km: float
    typical_age: float
    sales_weight: float = 1.0


_HANOI_DISTRICTS = (
    District("Hoan Kiem", 120.0, 1.0, 0.5, 30.0, 0.08),
    District("Ba Dinh", 100.0, 2.5, 0.8, 25.0, 0.12),
    District("Dong Da", 80.0, 3.5, 1.0, 20.0, 0.20),
    District("Hai Ba Trung", 82.0, 3.0, 1.0, 20.0, 0.18),
    District("Cau Giay", 75.0, 6.5, 1.5, 12.0, 0.22),
    District("Thanh Xuan", 68.0, 7.0, 1.5, 12.0, 0.20),
)
_LONG_BIEN = District("Long Bien", 55.0, 7.5, 2.0, 3.0)


@dataclass(frozen=True)
class MarketParameters:
    """Every number of the generated market; the defaults are the demo's market (see the module docstring).

    Months are counted from 0; an event whose month is at or past ``months`` never happens. An event is switched
    off by its size: ``jump=0``, ``new_district_share=0``, ``small_flats_factor=1``, ``missing_area_months=()``
    or ``square_feet_month=None``.
    """

    months: int = 24
    sales_per_month: int = 2000
    start: date = date(2025, 1, 1)
    districts: tuple[District, ...] = _HANOI_DISTRICTS
    central_districts: tuple[str, ...] = ("Hoan Kiem", "Ba Dinh")
    noise: float = 0.10
    inflation: float = 0.01
    jump_month: int = 12
    jump: float = 0.20
    new_district: District = _LONG_BIEN
    new_district_month: int = 9
    new_district_share: float = 0.25
    small_flat_area: float = 50.0
    small_flats_share: float = 0.20
    small_flats_month: int = 15
    small_flats_factor: float = 2.0
    missing_area_months: tuple[int, ...] = (17, 18)
    missing_area_share: float = 1 / 3
    square_feet_month: int | None = 20
    square_feet_district: str = "Cau Giay"

    def __post_init__(self) -> None:
        _check_whole(self.months, "months", minimum=1)
        _check_whole(self.sales_per_month, "sales_per_month", minimum=1)
        if not isinstance(self.start, date) or self.start.day != 1:
            raise InvalidInput(f"The 'start' of a market must be the first day of a month; got {self.start!r}.")
        if not self.districts or not all(isinstance(district, District) for district in self.districts):
            raise InvalidInput(f"The 'districts' of a market must be one or more District; got {self.districts!r}.")
        for district in (*self.districts, self.new_district):
            _check_district(district)
        names = [district.name for district in (*self.districts, self.new_district)]
        if len(set(names)) != len(names):
            raise InvalidInput(f"The districts of a market must have distinct names; got {', '.join(names)}.")
        initial = {district.name for district in self.districts}
        for name in self.central_districts:
            if name not in initial:
                raise InvalidInput(
                    f"The 'central_districts' must name districts of the market ({', '.join(sorted(initial))}); "
                    f"got {name!r}."
                )
        if self.square_feet_district not in names:
            raise InvalidInput(
                f"The 'square_feet_district' must name a district of the market ({', '.join(sorted(names))}); "
                f"got {self.square_feet_district!r}."
            )
        _check_number(self.noise, "noise", minimum=0.0)
        _check_number(self.inflation, "inflation", minimum=-1.0, strict=True)
        _check_number(self.jump, "jump", minimum=-1.0, strict=True)
        _check_share(self.new_district_share, "new_district_share")
        _check_share(self.small_flats_share, "small_flats_share")
        _check_share(self.missing_area_share, "missing_area_share")
        _check_number(self.small_flats_factor, "small_flats_factor", minimum=0.0)
        if self.small_flats_share * self.small_flats_factor > 1.0:
            raise InvalidInput(
                "The 'small_flats_share' times the 'small_flats_factor' is a share of flats and must be at most 1; "
                f"got {self.small_flats_share!r} × {self.small_flats_factor!r}."
            )
        area = self.small_flat_area
        if isinstance(area, bool) or not isinstance(area, int | float) or not _AREA_MIN < area < _AREA_MAX:
            raise InvalidInput(
                f"The 'small_flat_area' of a market must be a number of m² in ({_AREA_MIN:g}, {_AREA_MAX:g}); "
                f"got {area!r}."
            )
        _check_whole(self.jump_month, "jump_month", minimum=0)
        _check_whole(self.new_district_month, "new_district_month", minimum=0)
        _check_whole(self.small_flats_month, "small_flats_month", minimum=0)
        if not isinstance(self.missing_area_months, tuple):
            raise InvalidInput(
                f"The 'missing_area_months' must be a tuple of months; got {self.missing_area_months!r}."
            )
        for month in self.missing_area_months:
            _check_whole(month, "missing_area_months", minimum=0)
        if self.square_feet_month is not None:
            _check_whole(self.square_feet_month, "square_feet_month", minimum=0)


@dataclass(frozen=True)
class MarketEvent:
    """One event of the market, from the month it first shows in the rows.

    Attributes:
        month: The first month the event affects.
        kind: ``"concept"`` (prices change for the same features), ``"data"`` (the features' distribution
            changes) or ``"quality"`` (the delivered features are wrong).
        name: ``"inflation"``, ``"central_jump"``, ``"new_district"``, ``"small_flats"``, ``"area_missing"`` or
            ``"area_square_feet"``.
        description: One line, for the demo to print.
        last_month: The last month it affects, or None when it lasts to the end of the market.
    """

    month: int
    kind: Literal["concept", "data", "quality"]
    name: str
    description: str
    last_month: int | None = None


def generate_market(parameters: MarketParameters | None = None, *, seed: int = 0) -> pd.DataFrame:
    """Draw the market: one row per sale, in the order of ``sold_at``.

    Columns: ``sale_id`` (``"sale-000000"`` on), ``month``, ``sold_at`` (UTC), the :data:`FEATURES`, the
    :data:`TARGET` ``price`` and ``incident``. The same parameters and seed give the same frame.
    """
    parameters = parameters or MarketParameters()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput(f"The 'seed' of a market must be an integer >= 0; got {seed!r}.")
    # Every draw below happens whatever the events' parameters, in the same order, so a seed gives the same sales
    # with an event switched off: only what the event touches differs.
    rng = np.random.default_rng(seed)
    months = parameters.months
    sales = rng.poisson(parameters.sales_per_month, size=months)
    month = np.repeat(np.arange(months), sales)
    rows = len(month)

    districts = (*parameters.districts, parameters.new_district)
    district_index = _draw_districts(parameters, month, rng)
    central = np.isin(district_index, [i for i, d in enumerate(districts) if d.name in parameters.central_districts])

    small_share = np.where(
        month >= parameters.small_flats_month,
        parameters.small_flats_share * parameters.small_flats_factor,
        parameters.small_flats_share,
    )
    area = _draw_area(rng.random(rows) < small_share, parameters.small_flat_area, rng)
    rooms = np.clip(np.rint(area / _SQUARE_METRES_PER_ROOM + rng.normal(0.0, _ROOMS_SPREAD, rows)), 1, _MAX_ROOMS)
    rooms = rooms.astype(np.int64)
    typical_age = np.array([d.typical_age for d in districts])[district_index]
    building_age = np.minimum(np.floor(rng.gamma(2.0, typical_age / 2.0)), _MAX_BUILDING_AGE).astype(np.int64)
    distance_mean = np.array([d.distance_km for d in districts])[district_index]
    distance_spread = np.array([d.distance_spread_km for d in districts])[district_index]
    distance_km = np.round(np.maximum(rng.normal(distance_mean, distance_spread), _MIN_DISTANCE_KM), 2)
    floor = np.minimum(1 + rng.poisson(3.0 + 12.0 * np.exp(-building_age / 15.0)), _MAX_FLOOR).astype(np.int64)
    parking = rng.random(rows) < np.clip(0.85 - 0.02 * building_age, 0.1, 0.9)

    base = np.array([d.base_price_per_m2 for d in districts])[district_index]
    price = (
        base
        * area
        * (1.0 + _ROOMS_PREMIUM * (rooms - area / _SQUARE_METRES_PER_ROOM))
        * np.exp(-_AGE_DISCOUNT * building_age - _DISTANCE_DISCOUNT * distance_km)
        * (1.0 + _FLOOR_PREMIUM * np.minimum(floor - 1, _FLOOR_PREMIUM_CAP))
        * np.where(parking, 1.0 + _PARKING_PREMIUM, 1.0)
        * (1.0 + parameters.inflation) ** month
        * np.where(central & (month >= parameters.jump_month), 1.0 + parameters.jump, 1.0)
        * np.exp(rng.normal(0.0, parameters.noise, rows))
    )

    missing = np.isin(month, parameters.missing_area_months) & (rng.random(rows) < parameters.missing_area_share)
    square_feet = np.zeros(rows, dtype=bool)
    if parameters.square_feet_month is not None:
        square_feet_district = [d.name for d in districts].index(parameters.square_feet_district)
        square_feet = (month == parameters.square_feet_month) & (district_index == square_feet_district) & ~missing
    delivered_area = np.where(square_feet, np.round(area * SQUARE_FEET_PER_SQUARE_METRE, 1), area)
    delivered_area[missing] = np.nan
    incident = np.where(missing, "area_missing", np.where(square_feet, "area_square_feet", ""))

    frame = pd.DataFrame(
        {
            "month": month,
            "sold_at": _sale_moments(parameters, month, rng),
            "area": delivered_area,
            "rooms": rooms,
            "district": np.array([d.name for d in districts], dtype=object)[district_index],
            "building_age": building_age,
            "distance_km": distance_km,
            "floor": floor,
            "parking": parking,
            "price": np.round(price, 1),
            "incident": incident.astype(object),
        }
    )
    frame = frame.sort_values("sold_at", kind="stable", ignore_index=True)
    frame.insert(0, "sale_id", [f"sale-{number:06d}" for number in range(rows)])
    return frame.astype({"district": "str", "incident": "str", "sale_id": "str"})


def market_events(parameters: MarketParameters | None = None) -> list[MarketEvent]:
    """The events that happen within the market's months, in the order they start."""
    parameters = parameters or MarketParameters()
    months = parameters.months
    events: list[MarketEvent] = []
    if parameters.inflation != 0 and months > 1:
        events.append(
            MarketEvent(
                1,
                "concept",
                "inflation",
                f"the market index {'rises' if parameters.inflation > 0 else 'falls'} "
                f"{_percent(abs(parameters.inflation))} a month: "
                f"prices are {1 + parameters.inflation:g}^month those of month 0",
            )
        )
    if parameters.jump != 0 and parameters.central_districts and parameters.jump_month < months:
        events.append(
            MarketEvent(
                parameters.jump_month,
                "concept",
                "central_jump",
                f"prices in {' and '.join(parameters.central_districts)} "
                f"{'jump' if parameters.jump > 0 else 'drop'} {_percent(abs(parameters.jump))} at once",
            )
        )
    if parameters.new_district_share > 0 and parameters.new_district_month < months:
        events.append(
            MarketEvent(
                parameters.new_district_month,
                "data",
                "new_district",
                f"{parameters.new_district.name} opens and takes {_percent(parameters.new_district_share)} "
                "of the sales",
            )
        )
    if (
        parameters.small_flats_factor != 1
        and parameters.small_flats_share > 0
        and parameters.small_flats_month < months
    ):
        events.append(
            MarketEvent(
                parameters.small_flats_month,
                "data",
                "small_flats",
                f"the share of flats under {parameters.small_flat_area:g} m² goes from "
                f"{_percent(parameters.small_flats_share)} to "
                f"{_percent(parameters.small_flats_share * parameters.small_flats_factor)}",
            )
        )
    if parameters.missing_area_share > 0:
        for first, last in _runs(sorted({m for m in parameters.missing_area_months if m < months})):
            during = f"month {first}" if first == last else f"months {first}–{last}"
            events.append(
                MarketEvent(
                    first,
                    "quality",
                    "area_missing",
                    f"{_percent(parameters.missing_area_share)} of rows arrive with the area missing ({during})",
                    last_month=last,
                )
            )
    if _square_feet_happens(parameters):
        assert parameters.square_feet_month is not None
        events.append(
            MarketEvent(
                parameters.square_feet_month,
                "quality",
                "area_square_feet",
                f"{parameters.square_feet_district}'s feed sends the area in square feet "
                f"(month {parameters.square_feet_month})",
                last_month=parameters.square_feet_month,
            )
        )
    return sorted(events, key=lambda event: event.month)


def _draw_districts(
    parameters: MarketParameters, month: npt.NDArray[np.int64], rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Each sale's district, as an index into the initial districts followed by the new one."""
    weights = np.array([district.sales_weight for district in parameters.districts])
    share = parameters.new_district_share
    # Cumulative shares end at exactly 1, so a uniform draw in [0, 1) never falls past the last district.
    before = np.cumsum(weights)
    before /= before[-1]
    after = np.cumsum(np.append(weights / weights.sum() * (1.0 - share), share))
    after /= after[-1]
    draw = rng.random(len(month))
    index = np.where(
        month >= parameters.new_district_month,
        np.searchsorted(after, draw, side="right"),
        np.searchsorted(before, draw, side="right"),
    )
    return index.astype(np.int64)


def _draw_area(
    small: npt.NDArray[np.bool_], small_flat_area: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Areas from the cut log-normal, below ``small_flat_area`` where ``small`` is true and at or above elsewhere.

    Drawing each group from its own part of one distribution keeps the shape of a flat's area while the share of
    small flats follows the parameters exactly.
    """
    mu = math.log(_AREA_MEDIAN)

    def quantile(area: float) -> float:
        return float(ndtr((math.log(area) - mu) / _AREA_LOG_SPREAD))

    lowest, split, highest = quantile(_AREA_MIN), quantile(small_flat_area), quantile(_AREA_MAX)
    uniform = rng.random(len(small))
    probability = np.where(small, lowest + uniform * (split - lowest), split + uniform * (highest - split))
    area = np.exp(mu + _AREA_LOG_SPREAD * ndtri(probability))
    # Rounding to one decimal must not carry a small flat up to the threshold, nor a large one below it.
    rounded = np.round(area, 1)
    areas: npt.NDArray[np.float64] = np.where(
        small, np.minimum(rounded, small_flat_area - 0.1), np.maximum(rounded, small_flat_area)
    )
    return areas


def _sale_moments(
    parameters: MarketParameters, month: npt.NDArray[np.int64], rng: np.random.Generator
) -> pd.DatetimeIndex:
    """A second drawn uniformly within each sale's month, in UTC."""
    month_starts = (np.datetime64(parameters.start, "M") + np.arange(parameters.months + 1)).astype("datetime64[s]")
    month_seconds = np.diff(month_starts).astype(np.int64)
    offsets = np.floor(rng.random(len(month)) * month_seconds[month]).astype("timedelta64[s]")
    moments = (month_starts[month] + offsets).astype("datetime64[us]")
    return pd.DatetimeIndex(moments).tz_localize("UTC")


def _square_feet_happens(parameters: MarketParameters) -> bool:
    month = parameters.square_feet_month
    if month is None or month >= parameters.months:
        return False
    if parameters.square_feet_district != parameters.new_district.name:
        return True
    return parameters.new_district_share > 0 and month >= parameters.new_district_month


def _runs(months: list[int]) -> list[tuple[int, int]]:
    """Consecutive months grouped as (first, last): [17, 18, 21] gives [(17, 18), (21, 21)]."""
    runs: list[tuple[int, int]] = []
    for month in months:
        if runs and runs[-1][1] == month - 1:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    return runs


def _percent(share: float) -> str:
    return f"{share * 100:.3g}%"


def _check_district(district: District) -> None:
    if not isinstance(district.name, str) or not district.name.strip():
        raise InvalidInput(f"A district's name must be a non-empty string; got {district.name!r}.")
    _check_number(district.base_price_per_m2, f"base_price_per_m2 of {district.name}", minimum=0.0, strict=True)
    _check_number(district.distance_km, f"distance_km of {district.name}", minimum=0.0)
    _check_number(district.distance_spread_km, f"distance_spread_km of {district.name}", minimum=0.0)
    _check_number(district.typical_age, f"typical_age of {district.name}", minimum=0.0)
    _check_number(district.sales_weight, f"sales_weight of {district.name}", minimum=0.0, strict=True)


def _check_whole(value: object, name: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"The '{name}' of a market must be a whole number >= {minimum}; got {value!r}.")


def _check_number(value: object, name: str, *, minimum: float, strict: bool = False) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
        or (strict and value == minimum)
    ):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise InvalidInput(f"The '{name}' of a market must be a finite number {bound}; got {value!r}.")


def _check_share(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"The '{name}' of a market must be a share in [0, 1]; got {value!r}.")
