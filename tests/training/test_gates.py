"""Gates: parsing configuration, each verdict in both metric directions, champions, holdouts, and explanations."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from driftloop.errors import InvalidInput
from driftloop.training._gates import BeatsChampion, Threshold, check_gates, parse_gates


def test_parse_gates_reads_mappings_and_sentences() -> None:
    gates = parse_gates(
        [
            {"metric": "rmse", "max": 50000},
            {"metric": "rmse", "beats_champion_by": 0.01},
            {"metric": "r2", "min": 0.5, "max": "0.99", "beats_champion_by": 0},
            "r2 >= 0.8",
            "rmse <= 50,000",
            "mae<=1e3",
            "rmse beats champion by 1000",
            "f1 beats the champion",
            "roc_auc   BEATS champion by -0.005",
            Threshold("mape", max=0.1),
        ]
    )
    assert gates == [
        Threshold("rmse", max=50000.0),
        BeatsChampion("rmse", 0.01),
        Threshold("r2", min=0.5, max=0.99),
        BeatsChampion("r2", 0.0),
        Threshold("r2", min=0.8),
        Threshold("rmse", max=50000.0),
        Threshold("mae", max=1000.0),
        BeatsChampion("rmse", 1000.0),
        BeatsChampion("f1", 0.0),
        BeatsChampion("roc_auc", -0.005),
        Threshold("mape", max=0.1),
    ]


def test_a_gate_describes_itself_as_a_sentence_parse_gates_reads_back() -> None:
    gates = [Threshold("r2", min=0.8), Threshold("rmse", max=123456789.5), BeatsChampion("rmse", 1000.0)]
    described = [gate.describe() for gate in gates]
    assert described == ["r2 >= 0.8", "rmse <= 123456789.5", "rmse beats champion by 1000"]
    assert parse_gates(described) == gates
    assert Threshold("r2", min=0.1, max=0.9).describe() == "r2 >= 0.1 and r2 <= 0.9"


def test_an_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(
        InvalidInput, match=r"Unknown metric 'rsme' in a gate; the known metrics are: accuracy, f1, .*r2"
    ):
        parse_gates(["rsme <= 5"])
    with pytest.raises(InvalidInput, match="Unknown metric 'auc'"):
        BeatsChampion("auc")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["rmse < 5"], "bounds are inclusive"),
        (["r2 = 0.8"], "uses >= or <="),
        (["rmse should be small"], "A gate reads '<metric> >= <number>'"),
        (["rmse <= lots"], "A gate reads"),
        (["rmse <= inf"], "A gate reads"),
        ([{"metric": "rmse", "maximum": 5}], "takes the keys metric, min, max, beats_champion_by; got unknown maximum"),
        ([{"max": 5}], "needs a 'metric'"),
        ([{"metric": "rmse"}], "needs 'min', 'max' or 'beats_champion_by'"),
        ([{"metric": "rmse", "max": "many"}], "needs a number; got 'many'"),
        ([{"metric": "rmse", "max": float("nan")}], "must be a finite number; got nan"),
        ([{"metric": "rmse", "max": True}], "must be a finite number; got True"),
        ([{"metric": "r2", "min": 0.9, "max": 0.1}], "must not exceed its 'max'"),
        ([42], "A gate must be a mapping or a sentence"),
        ("rmse <= 5", "must be a list of gates; got a single str"),
    ],
)
def test_parse_gates_refuses_bad_configuration(spec: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_gates(spec)


def test_a_threshold_needs_a_bound() -> None:
    with pytest.raises(InvalidInput, match="threshold on rmse needs a 'min', a 'max' or both"):
        Threshold("rmse")


def test_thresholds_explain_themselves_number_by_number() -> None:
    gates = ["rmse <= 50000", "r2 >= 0.8", {"metric": "mae", "min": 10, "max": 20}, "mape <= 0.1"]
    report = check_gates(gates, {"rmse": 41230.5, "r2": 0.75, "mae": 15.0, "mape": 0.1}, None)
    assert not report.passed
    assert report.explain().splitlines() == [
        "rmse 41,230.5 <= 50,000: passed",
        "r2 0.75 is not >= 0.8: failed",
        "mae 15 within [10, 20]: passed",
        "mape 0.1 <= 0.1: passed",  # bounds are inclusive
    ]
    r2 = report.results[1]
    assert (r2.metric, r2.value, r2.lower, r2.upper, r2.passed) == ("r2", 0.75, 0.8, None, False)
    assert report.failures == [r2]


def test_a_lower_is_better_metric_must_drop_by_the_margin() -> None:
    gate = ["rmse beats champion by 1000"]
    failed = check_gates(gate, {"rmse": 41230.5}, {"rmse": 40100.2})
    assert failed.explain() == (
        "rmse 41,230.5 does not beat the champion's 40,100.2 by 1,000 (needs <= 39,100.2): failed"
    )
    result = failed.results[0]
    assert result.champion == 40100.2 and result.upper == pytest.approx(39100.2) and result.lower is None
    passed = check_gates(gate, {"rmse": 39000.0}, {"rmse": 40100.2})
    assert passed.passed
    assert passed.explain() == "rmse 39,000 beats the champion's 40,100.2 by 1,000 (needs <= 39,100.2): passed"
    assert check_gates(gate, {"rmse": 39000.0}, {"rmse": 40000.0}).passed  # exactly the margin is enough


def test_a_greater_is_better_metric_must_rise_by_the_margin() -> None:
    gate = [{"metric": "roc_auc", "beats_champion_by": 0.01}]
    assert check_gates(gate, {"roc_auc": 0.91}, {"roc_auc": 0.89}).passed
    report = check_gates(gate, {"roc_auc": 0.895}, {"roc_auc": 0.89})
    assert not report.passed
    assert report.explain() == "roc_auc 0.895 does not beat the champion's 0.89 by 0.01 (needs >= 0.9): failed"
    assert report.results[0].lower == pytest.approx(0.9)


def test_without_a_margin_a_tie_counts_as_beating() -> None:
    report = check_gates(["r2 beats champion"], {"r2": 0.8}, {"r2": 0.8})
    assert report.passed and report.explain() == "r2 0.8 beats the champion's 0.8 (needs >= 0.8): passed"


def test_a_negative_margin_tolerates_a_slightly_worse_candidate() -> None:
    gate = [BeatsChampion("rmse", -50.0)]
    assert check_gates(gate, {"rmse": 1040.0}, {"rmse": 1000.0}).explain() == (
        "rmse 1,040 is within 50 of the champion's 1,000 (needs <= 1,050): passed"
    )
    assert check_gates(gate, {"rmse": 1060.0}, {"rmse": 1000.0}).explain() == (
        "rmse 1,060 is worse than the champion's 1,000 by more than 50 (needs <= 1,050): failed"
    )


def test_champion_gates_pass_when_there_is_no_champion_yet() -> None:
    report = check_gates(["rmse beats champion by 1000", "rmse <= 100"], {"rmse": 250.0}, None)
    assert [result.passed for result in report.results] == [True, False]
    assert report.results[0].message == "rmse 250: no champion yet"
    assert not report.passed


def test_different_holdouts_fail_the_comparison() -> None:
    gates = ["rmse beats champion", "rmse <= 100"]
    arguments = {"holdout_fingerprint": "a" * 64, "champion_holdout_fingerprint": "b" * 64}
    report = check_gates(gates, {"rmse": 50.0}, {"rmse": 60.0}, **arguments)
    comparison, threshold = report.results
    assert not comparison.passed and threshold.passed and not report.passed
    assert "scored on different holdouts (aaaaaaaaaaaa vs bbbbbbbbbbbb)" in comparison.message
    same = {"holdout_fingerprint": "a" * 64, "champion_holdout_fingerprint": "a" * 64}
    assert check_gates(gates, {"rmse": 50.0}, {"rmse": 60.0}, **same).passed
    # One fingerprint alone proves nothing either way; the comparison goes ahead.
    assert check_gates(gates, {"rmse": 50.0}, {"rmse": 60.0}, holdout_fingerprint="a" * 64).passed


def test_a_missing_or_unusable_metric_fails_and_is_named() -> None:
    report = check_gates(["r2 >= 0.5", "rmse beats champion"], {"mae": 3.0, "rmse": 2.0}, {"mae": 3.0})
    assert report.explain().splitlines() == [
        "r2: the candidate has no r2 (it has: mae, rmse): failed",
        "rmse 2: the champion has no rmse to beat: failed",
    ]
    assert report.results[0].value is None
    assert not check_gates(["r2 >= 0.5"], {"r2": float("nan")}, None).passed


def test_no_gates_pass_and_reports_are_plain_json() -> None:
    empty = check_gates([], {"rmse": 1.0}, None)
    assert empty.passed and empty.results == [] and empty.explain() == "no gates: passed"
    report = check_gates(["rmse <= 5", "rmse beats champion by 1"], {"rmse": 3.0}, {"rmse": 4.5})
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is True
    assert data["results"][1] == {
        "gate": "rmse beats champion by 1",
        "metric": "rmse",
        "value": 3.0,
        "lower": None,
        "upper": 3.5,
        "champion": 4.5,
        "passed": True,
        "message": "rmse 3 beats the champion's 4.5 by 1 (needs <= 3.5)",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (1234567.891, "1,234,568"), (0.000123456789, "0.000123457"), (-2.5, "-2.5"), (3.14159265, "3.14159")],
)
def test_numbers_read_with_six_significant_digits(value: float, text: str) -> None:
    message = check_gates(["mae >= -1000"], {"mae": value}, None).results[0].message
    assert re.fullmatch(rf"mae {re.escape(text)} >= -1,000", message)
