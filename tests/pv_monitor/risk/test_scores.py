"""Risk scores: formulas, cut-offs at and beside each boundary, time points, missing inputs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from pv_monitor.risk.scores import compute_scores, easix_value, m_easix_value

INFUSION = pd.Timestamp("2024-05-10")


def _infusions() -> pd.DataFrame:
    return pd.DataFrame({"infusion_id": [1], "subject_id": [1], "infusion_date": [INFUSION]})


def _labs(*rows: tuple[str, str, float]) -> pd.DataFrame:
    """``(code, timestamp, value)`` rows of subject 1."""
    return pd.DataFrame(
        [(1, code, pd.Timestamp(at), value, False) for code, at, value in rows],
        columns=["subject_id", "code", "at", "value", "other_cause"],
    )


def _no_drugs() -> pd.DataFrame:
    return pd.DataFrame(columns=["subject_id", "drug", "drug_class", "started_at", "ended_at"])


def _score(frame: pd.DataFrame, score: str, timepoint: str) -> dict[str, Any]:
    rows = frame[(frame["score"] == score) & (frame["timepoint"] == timepoint)]
    assert len(rows) == 1
    return {str(key): value for key, value in rows.iloc[0].items()}


def _baseline(
    day: str = "2024-05-05 06:00", values: dict[str, float] | None = None
) -> pd.DataFrame:
    labs = {"LDH": 250.0, "CREAT": 0.9, "PLT": 150.0, "CRP": 20.0, "ANC": 2.0, "HGB": 11.0,
            "FERRITIN": 400.0} | (values or {})  # fmt: skip
    return _labs(*((code, day, value) for code, value in labs.items()))


def test_formulas() -> None:
    assert easix_value(250, 0.9, 150) == pytest.approx(1.5)
    assert m_easix_value(250, 20.0, 150) == pytest.approx(250 * 2.0 / 150)  # CRP 20 mg/L = 2 mg/dL


@pytest.mark.parametrize(
    ("ldh", "category"),
    [(778.0, "low"), (778.4, "high")],  # 778 x 0.9 / 150 = 4.668; 778.4 x 0.9 / 150 = 4.6704
)
def test_easix_cut_off_before_lymphodepletion(ldh: float, category: str) -> None:
    scores = compute_scores(_infusions(), _baseline(values={"LDH": ldh}), _no_drugs())
    easix = _score(scores, "easix", "pre_lymphodepletion")
    assert easix["category"] == category
    assert "Korell 2022" in easix["reason"]
    assert easix["inputs"]["LDH"] == {"value": ldh, "unit": "U/L", "study_day": -5}


def test_exactly_4_67_is_not_above_the_cut_off() -> None:
    scores = compute_scores(
        _infusions(), _baseline(values={"LDH": 467.0, "CREAT": 1.5, "PLT": 150.0}), _no_drugs()
    )
    easix = _score(scores, "easix", "pre_lymphodepletion")
    assert easix["value"] == pytest.approx(4.67)
    assert easix["category"] == "low"


def test_a_missing_input_makes_a_score_not_computable() -> None:
    labs = _baseline()
    scores = compute_scores(_infusions(), labs[labs["code"] != "CREAT"], _no_drugs())
    easix = _score(scores, "easix", "pre_lymphodepletion")
    assert pd.isna(easix["value"])
    assert easix["reason"] == "not computable: CREAT missing"
    assert _score(scores, "m_easix", "pre_lymphodepletion")["value"] > 0


@pytest.mark.parametrize(
    ("values", "points", "category"),
    [
        ({}, 0, "low"),
        ({"ANC": 1.199}, 1, "low"),  # ANC < 1200/uL
        ({"ANC": 1.2}, 0, "low"),
        ({"HGB": 8.9}, 1, "low"),
        ({"PLT": 75.0}, 2, "high"),  # < 76 x 10^9/L: 2 points
        ({"PLT": 76.0}, 1, "low"),
        ({"PLT": 175.0}, 1, "low"),
        ({"PLT": 176.0}, 0, "low"),
        ({"CRP": 30.0}, 1, "low"),  # 3.0 mg/dL
        ({"CRP": 29.9}, 0, "low"),
        ({"FERRITIN": 650.0}, 1, "low"),
        ({"FERRITIN": 2000.0}, 1, "low"),
        ({"FERRITIN": 2000.5}, 2, "high"),
        ({"ANC": 1.0, "HGB": 8.0}, 2, "high"),
    ],
)
def test_car_hematotox_points(values: dict[str, float], points: int, category: str) -> None:
    scores = compute_scores(_infusions(), _baseline(values={"PLT": 200.0} | values), _no_drugs())
    score = _score(scores, "car_hematotox", "pre_lymphodepletion")
    assert (score["value"], score["category"]) == (points, category)
    assert "[UNCONFIRMED]" in score["reason"]


def test_lymphodepletion_start_bounds_the_baseline() -> None:
    """Labs drawn after fludarabine started are not baseline; without recorded
    lymphodepletion, day -5 is assumed."""
    labs = pd.concat([_baseline("2024-05-05 06:00"), _baseline("2024-05-05 12:00", {"LDH": 900.0})])
    drugs = pd.DataFrame(
        {
            "subject_id": [1],
            "drug": ["fludarabine"],
            "drug_class": ["lymphodepletion"],
            "started_at": [pd.Timestamp("2024-05-05 09:00")],
            "ended_at": [pd.Timestamp("2024-05-05 09:30")],
        }
    )
    with_ld = _score(compute_scores(_infusions(), labs, drugs), "easix", "pre_lymphodepletion")
    assert with_ld["inputs"]["LDH"]["value"] == 250.0
    assumed = _score(
        compute_scores(_infusions(), labs, _no_drugs()), "easix", "pre_lymphodepletion"
    )
    assert assumed["inputs"]["LDH"]["value"] == 900.0  # last value of day -5


def test_day_0_and_day_3_take_the_nearest_allowed_day() -> None:
    labs = pd.concat(
        [
            _baseline("2024-05-09 06:00", {"LDH": 300.0}),  # day -1
            _baseline("2024-05-12 06:00", {"LDH": 310.0}),  # day 2
            _baseline("2024-05-14 06:00", {"LDH": 320.0}),  # day 4
        ]
    )
    scores = compute_scores(_infusions(), labs, _no_drugs())
    assert _score(scores, "easix", "day_0")["inputs"]["LDH"]["study_day"] == -1
    day3 = _score(scores, "easix", "day_3")
    assert (day3["inputs"]["LDH"]["value"], day3["study_day"]) == (310.0, 2)


def test_early_neurotoxicity_rule() -> None:
    within = "2024-05-11 06:00"  # 30 h after midnight of day 0
    high = _labs(("TEMP", within, 39.0), ("IL6", within, 20.0), ("MCP1", within, 1400.0))
    score = _score(compute_scores(_infusions(), high, _no_drugs()), "early_neurotoxicity",
                   "first_36_hours")  # fmt: skip
    assert (score["value"], score["category"]) == (3, "high")
    later = _labs(("TEMP", "2024-05-11 13:00", 39.0), ("IL6", within, 20.0))  # 37 h: too late
    score = _score(compute_scores(_infusions(), later, _no_drugs()), "early_neurotoxicity",
                   "first_36_hours")  # fmt: skip
    assert pd.isna(score["value"])
    assert score["reason"] == "not computable: TEMP, MCP1 not measured in the first 36 h"
    low = _labs(("TEMP", within, 38.8), ("IL6", within, 20.0))
    score = _score(compute_scores(_infusions(), low, _no_drugs()), "early_neurotoxicity",
                   "first_36_hours")  # fmt: skip
    assert (score["value"], score["category"]) == (1, "low")  # MCP-1 cannot change it
