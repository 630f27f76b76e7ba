"""ICAHT (clinical.md §4.2) and CTCAE lab grades: day counts at each boundary, the 3-day
recovery rule, short windows, late nadir confirmation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pv_monitor.grading.ctcae import grade_labs
from pv_monitor.grading.icaht import grade_icaht


def _counts(code: str, values: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "infusion_id": 1,
            "subject_id": 1,
            "code": code,
            "study_day": list(values),
            "low": list(values.values()),
            "high": list(values.values()),
        }
    )


def _extent(last_day: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"infusion_id": [1], "subject_id": [1], "last_day": [last_day]})


def _grade(counts: pd.DataFrame, part: str, last_day: int = 100) -> tuple[int | None, bool, str]:
    graded = grade_icaht(counts, _extent(last_day))
    row = graded[graded["criteria_version"] == f"ehaebmt_2023_icaht:{part}"].iloc[0]
    grade = None if pd.isna(row["grade"]) else int(row["grade"])
    return grade, bool(row["provisional"]), str(row["reason"])


def _neutropenic_days(n: int, profound: int = 0) -> dict[int, float]:
    """Daily counts: ``n`` days <= 0.5 x 10^9/L from day 0 (the first ``profound`` <= 0.1),
    then recovered."""
    values = {d: (0.05 if d < profound else 0.3) for d in range(n)}
    values |= dict.fromkeys(range(n, 31), 2.0)
    return values


@pytest.mark.parametrize(
    ("days", "profound", "grade"),
    [
        (0, 0, 0),
        (1, 0, 1),
        (6, 0, 1),
        (7, 0, 2),
        (13, 0, 2),
        (14, 0, 3),
        (30, 0, 3),
        (31, 0, 4),  # never recovers in days 0-30 [UNCONFIRMED boundary]
        (8, 6, 2),  # 6 profound days do not raise it
        (8, 7, 3),  # 7 profound days are grade 3
        (14, 13, 3),
        (14, 14, 4),
    ],
)
def test_early_neutropenia_grade_by_days(days: int, profound: int, grade: int) -> None:
    got, provisional, reason = _grade(
        _counts("ANC", _neutropenic_days(days, profound)), "early_anc"
    )
    assert got == grade
    assert not provisional
    assert reason.startswith(f"{days} days with ANC <= 500/uL and {profound} days <= 100/uL")


def test_exactly_500_per_ul_is_severe() -> None:
    values = dict.fromkeys(range(7), 0.5) | {7: 0.501}
    assert _grade(_counts("ANC", values), "early_anc")[0] == 2


def test_a_recovery_of_less_than_3_days_is_not_a_recovery() -> None:
    """5 low days, 2 recovered, 3 low: 10 days (grade 2); with 3 recovered days it is 8 (2),
    and with a 3-day recovery between 4 and 4 low days it is 8 days, not 11."""
    short = dict.fromkeys(range(5), 0.3) | {5: 1.0, 6: 1.0} | {7: 0.3, 8: 0.3, 9: 0.3} | {10: 2.0}
    assert _grade(_counts("ANC", short), "early_anc")[2].startswith("10 days")
    long = dict.fromkeys(range(4), 0.3) | {4: 1.0, 5: 1.0, 6: 1.0}
    long |= dict.fromkeys(range(7, 11), 0.3) | {11: 2.0}
    assert _grade(_counts("ANC", long), "early_anc")[2].startswith("8 days")


def test_the_last_count_stands_until_the_next() -> None:
    """Counts on days 0 (0.2) and 9 (1.5): days 0-8 count as severe neutropenia."""
    assert _grade(_counts("ANC", {0: 0.2, 9: 1.5}), "early_anc")[2].startswith("9 days")


def test_no_count_is_not_gradable_and_a_short_window_is_a_lower_bound() -> None:
    grade, _, reason = _grade(_counts("ANC", {-3: 2.0}), "early_anc")
    assert grade is None
    assert reason == "not gradable: no ANC count in days 0-30"
    grade, provisional, reason = _grade(_counts("ANC", {0: 0.3}), "early_anc", last_day=12)
    assert (grade, provisional) == (2, True)
    assert "window ends at day 12" in reason


@pytest.mark.parametrize(
    ("values", "grade"),
    [
        ({40: 1.6, 50: 1.7}, 0),
        ({40: 1.5, 50: 1.4}, 1),
        ({40: 0.9, 50: 1.0}, 2),
        ({40: 0.05, 50: 0.5}, 3),  # the nadir 100/uL needs a second value to be grade 4
        ({40: 0.05, 50: 0.1}, 4),
    ],
)
def test_late_neutropenia_grades_the_confirmed_nadir(values: dict[int, float], grade: int) -> None:
    assert _grade(_counts("ANC", values), "late_anc")[0] == grade


def test_late_neutropenia_needs_two_counts() -> None:
    grade, _, reason = _grade(_counts("ANC", {45: 0.2}), "late_anc")
    assert grade is None
    assert reason == "not gradable: 1 ANC count(s) after day 30, 2 needed"


@pytest.mark.parametrize(
    ("below_50", "below_20", "grade"),
    [(0, 0, 0), (1, 0, 1), (6, 0, 1), (7, 0, 2), (7, 1, 3), (13, 13, 3), (14, 14, 4)],
)
def test_early_thrombocytopenia(below_50: int, below_20: int, grade: int) -> None:
    values = {d: (10.0 if d < below_20 else 40.0 if d < below_50 else 120.0) for d in range(31)}
    assert _grade(_counts("PLT", values), "early_platelets")[0] == grade


def test_no_data_no_ctcae_grade_and_grades_at_boundaries() -> None:
    assert grade_labs(_counts("HGB", {-5: 7.0})).empty  # before day 0: not graded
    labs = pd.concat(
        [
            _counts("ALT", {2: 120.0, 3: 200.0}),  # 3 x ULN -> 1... 5 x ULN -> 2
            _counts("PLT", {4: 49.9}),
            _counts("FIBRINOGEN", {5: 99.0}),  # 0.495 x LLN 200 -> 3
            _counts("ANC", {1: 0.499}),
        ]
    )
    graded = grade_labs(labs)
    found = {
        version.split(":")[1]: (int(grade), int(day))
        for version, grade, day in zip(
            graded["criteria_version"], graded["grade"], graded["study_day"], strict=True
        )
    }
    expected = {
        "alanine_aminotransferase_increased": (2, 3),
        "platelet_count_decreased": (3, 4),
        "fibrinogen_decreased": (3, 5),
        "neutrophil_count_decreased": (4, 1),
    }
    assert found == expected
    assert np.all(graded["syndrome"] == "other")


@pytest.mark.parametrize(
    ("code", "value", "term", "grade"),
    [
        ("ANC", 1.5, "neutrophil_count_decreased", 1),  # 1500/uL: below LLN 2000
        ("ANC", 1.499, "neutrophil_count_decreased", 2),
        ("ANC", 2.0, "neutrophil_count_decreased", 0),
        ("PLT", 75.0, "platelet_count_decreased", 1),
        ("PLT", 24.9, "platelet_count_decreased", 4),
        ("HGB", 10.0, "anemia", 1),
        ("HGB", 7.9, "anemia", 3),
        ("AST", 40.1, "aspartate_aminotransferase_increased", 1),  # just above ULN 40
        ("AST", 801.0, "aspartate_aminotransferase_increased", 4),  # > 20 x ULN
        ("BILI", 1.8, "blood_bilirubin_increased", 1),  # 1.5 x ULN 1.2
        ("BILI", 1.81, "blood_bilirubin_increased", 2),
        ("CREAT", 7.21, "creatinine_increased", 4),  # > 6 x ULN 1.2
        ("FIBRINOGEN", 150.0, "fibrinogen_decreased", 1),  # 0.75 x LLN 200
        ("FIBRINOGEN", 149.0, "fibrinogen_decreased", 2),
        ("TRIG", 150.0, "hypertriglyceridemia", 1),
        ("TRIG", 1000.5, "hypertriglyceridemia", 4),
    ],
)
def test_every_ctcae_term_at_a_boundary(code: str, value: float, term: str, grade: int) -> None:
    graded = grade_labs(_counts(code, {3: value}))
    assert graded["criteria_version"].tolist() == [f"ctcae_v5_0_labs:{term}"]
    assert int(graded["grade"].iloc[0]) == grade
