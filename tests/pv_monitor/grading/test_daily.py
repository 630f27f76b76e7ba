"""The daily assessment frame: worst values per day, other causes, pairing, windows."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pv_monitor.grading.daily import FIRST_DAY, build_daily_assessments

INFUSION = "2024-03-01"


def _rows(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """``(subject, code, timestamp, value[, other_cause])`` rows."""
    frame = pd.DataFrame(
        [(*r, False) if len(r) == 4 else r for r in rows],
        columns=["subject_id", "code", "at", "value", "other_cause"],
    )
    frame["at"] = pd.to_datetime(frame["at"])
    return frame


def _build(
    measurements: pd.DataFrame | None = None,
    observations: pd.DataFrame | None = None,
    drugs: pd.DataFrame | None = None,
    age: float = 60.0,
    death: str | None = None,
) -> pd.DataFrame:
    infusions = pd.DataFrame(
        {
            "infusion_id": [1],
            "subject_id": [1],
            "infusion_date": pd.to_datetime([INFUSION]),
            "age_years": [age],
            "death_date": pd.Series([death], dtype="datetime64[ns]"),
        }
    )
    empty = _rows()
    no_drugs = pd.DataFrame(columns=["subject_id", "drug", "drug_class", "started_at", "ended_at"])
    daily = build_daily_assessments(
        infusions,
        measurements if measurements is not None else empty,
        observations if observations is not None else empty,
        drugs if drugs is not None else no_drugs,
    )
    return daily.frame.set_index("study_day")


def test_worst_values_of_the_day_and_other_causes_excluded() -> None:
    measurements = _rows(
        (1, "TEMP", "2024-03-03 08:00", 38.2),
        (1, "TEMP", "2024-03-03 14:00", 39.4, True),  # attributed to another cause
        (1, "TEMP", "2024-03-03 20:00", 37.0),
        (1, "ICE", "2024-03-03 09:00", 8.0),
        (1, "ICE", "2024-03-03 21:00", 5.0),
        (1, "SBP", "2024-03-03 09:00", 95.0),
    )
    observations = _rows(
        (1, "LOC", "2024-03-03 09:00", "awakens_to_voice"),
        (1, "LOC", "2024-03-03 21:00", "alert"),
        (1, "SEIZURE", "2024-03-03 09:00", "none"),
    )
    day = _build(measurements, observations).loc[2]
    assert day["temp_c_max"] == 38.2
    assert day["ice_score"] == 5.0
    assert day["loc"] == "awakens_to_voice"
    assert day["seizure"] == "none"
    assert not day["hypotension"]


def test_hypotension_uses_the_paediatric_threshold() -> None:
    """Age 5: SBP < 80 mmHg is hypotension (Mahadeo 2019); 82 is not."""
    low = _build(_rows((1, "SBP", "2024-03-02 08:00", 78.0)), age=5).loc[1, "hypotension"]
    normal = _build(_rows((1, "SBP", "2024-03-02 08:00", 82.0)), age=5).loc[1, "hypotension"]
    adult = _build(_rows((1, "SBP", "2024-03-02 08:00", 82.0)), age=40).loc[1, "hypotension"]
    assert (bool(low), bool(normal), bool(adult)) == (True, False, True)


def test_oxygen_device_and_flow_come_from_the_same_time_point() -> None:
    """Blow-by at 10 L/min and nasal cannula at 2 L/min are both grade 2: the day keeps one
    real time point, never a nasal cannula at the day's highest flow (which would be 3)."""
    observations = _rows(
        (1, "O2_DEVICE", "2024-03-04 08:00", "blow_by"),
        (1, "O2_DEVICE", "2024-03-04 14:00", "nasal_cannula"),
    )
    measurements = _rows(
        (1, "O2_FLOW", "2024-03-04 08:00", 10.0), (1, "O2_FLOW", "2024-03-04 14:00", 2.0)
    )
    day = _build(measurements, observations).loc[3]
    assert (day["o2_device"], day["o2_flow_l_min"]) in {("blow_by", 10.0), ("nasal_cannula", 2.0)}
    worse = _build(
        measurements,
        _rows(
            (1, "O2_DEVICE", "2024-03-04 08:00", "nasal_cannula"),
            (1, "O2_DEVICE", "2024-03-04 14:00", "blow_by"),
        ),
    ).loc[3]
    assert (worse["o2_device"], worse["o2_flow_l_min"]) == ("nasal_cannula", 10.0)


def test_vasopressors_run_from_start_to_end_day() -> None:
    drugs = pd.DataFrame(
        {
            "subject_id": [1, 1, 1],
            "drug": ["norepinephrine", "vasopressin", "tocilizumab"],
            "drug_class": ["vasopressor", "vasopressor", "il6_blockade"],
            "started_at": pd.to_datetime(
                ["2024-03-03 10:00", "2024-03-04 02:00", "2024-03-03 00:00"]
            ),
            "ended_at": pd.Series(["2024-03-05 18:00", None, None], dtype="datetime64[ns]"),
        }
    )
    frame = _build(_rows((1, "TEMP", "2024-03-08 08:00", 37.0)), drugs=drugs)
    assert frame.loc[1, "vasopressors"] == ""
    assert frame.loc[2, "vasopressors"] == "norepinephrine"
    assert frame.loc[3, "vasopressors"] == "norepinephrine;vasopressin"
    assert frame.loc[4, "vasopressors"] == "norepinephrine"
    assert frame.loc[5, "vasopressors"] == ""


def test_window_from_day_minus_7_to_the_last_record_or_death() -> None:
    measurements = _rows(
        (1, "TEMP", "2024-02-20 08:00", 36.8),  # day -10: before the window
        (1, "TEMP", "2024-03-20 08:00", 36.8),  # day 19
    )
    frame = _build(measurements)
    assert frame.index.min() == FIRST_DAY
    assert frame.index.max() == 19
    died = _build(measurements, death="2024-03-10")
    assert died.index.max() == 9
    untouched = frame.drop(index=19)
    assert untouched["temp_c_max"].isna().all()  # no data is missing, never a normal value
    assert untouched["hypotension"].isna().all()


def test_time_points_on_days_with_several_assessments() -> None:
    """Day 2 has vital signs at 08:00 and 20:00 and an ICE at 09:00: three time-point rows with
    what was recorded then; day 3, with one assessment, has none."""
    infusions = pd.DataFrame(
        {
            "infusion_id": [1],
            "subject_id": [1],
            "infusion_date": pd.to_datetime([INFUSION]),
            "age_years": [60.0],
            "death_date": pd.Series([None], dtype="datetime64[ns]"),
        }
    )
    measurements = _rows(
        (1, "TEMP", "2024-03-03 08:00", 39.1),
        (1, "SBP", "2024-03-03 08:00", 84.0),
        (1, "TEMP", "2024-03-03 20:00", 37.2),
        (1, "SBP", "2024-03-03 20:00", 110.0),
        (1, "ICE", "2024-03-03 09:00", 6.0),
        (1, "TEMP", "2024-03-04 08:00", 37.0),
    )
    observations = _rows((1, "O2_DEVICE", "2024-03-03 20:00", "non_rebreather"))
    drugs = pd.DataFrame(
        {
            "subject_id": [1],
            "drug": ["norepinephrine"],
            "drug_class": ["vasopressor"],
            "started_at": pd.to_datetime(["2024-03-03 07:00"]),
            "ended_at": pd.to_datetime(["2024-03-03 12:00"]),
        }
    )
    points = build_daily_assessments(infusions, measurements, observations, drugs).time_points
    assert points["assessed_at"].dt.strftime("%H:%M").tolist() == ["08:00", "09:00", "20:00"]
    assert set(points["study_day"]) == {2}
    first, neuro, last = (points.iloc[i] for i in range(3))
    assert (first["temp_c_max"], bool(first["hypotension"]), first["vasopressors"]) == (
        39.1,
        True,
        "norepinephrine",
    )
    assert pd.isna(first["ice_score"]) and neuro["ice_score"] == 6.0
    assert (last["o2_device"], last["vasopressors"], bool(last["hypotension"])) == (
        "non_rebreather",
        "",
        False,
    )
