"""Interpreting validated rows: every row is accounted for; imputation and flag rules."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.contracts import ROW
from etl.prepare import (
    prepare_adverse_events,
    prepare_medications,
    prepare_observations,
)

CONTEXT = pd.DataFrame(
    {
        "infusion_date": pd.to_datetime(["2024-03-20", "2024-03-01"]),
        "death_date": [pd.NaT, pd.Timestamp("2024-04-10")],
    },
    index=["S-1", "S-2"],
)
"""S-1 infused on 20 March 2024 and alive; S-2 infused on 1 March and dead on 10 April."""


def frame(**columns: list[str]) -> pd.DataFrame:
    """Text columns as a reader yields them, with their row numbers."""
    out = pd.DataFrame(columns, dtype=object)
    out[ROW] = range(1, len(out) + 1)
    return out


def adverse_events(onset: str, resolved: str = "", subject: str = "S-1") -> pd.DataFrame:
    return frame(
        subject_id=[subject],
        term=["CRS"],
        onset_date=[onset],
        resolved_date=[resolved],
        grade=["2"],
        grading_scale=["ASTCT"],
        serious=["N"],
        outcome=["recovered"],
    )


@pytest.mark.parametrize(
    ("onset", "subject", "stored", "flag"),
    [
        ("2024-03", "S-1", "2024-03-20", "onset:day"),  # infusion month: not before day 0
        ("2024-03", "S-2", "2024-03-01", "onset:day"),  # infusion on the 1st anyway
        ("2024-04", "S-1", "2024-04-01", "onset:day"),
        ("2024", "S-1", "2024-03-20", "onset:month"),
        ("2024-03-25", "S-1", "2024-03-25", None),
    ],
)
def test_a_partial_onset_takes_the_first_day_but_not_before_the_infusion(
    onset: str, subject: str, stored: str, flag: str | None
) -> None:
    prepared = prepare_adverse_events(adverse_events(onset, subject=subject), "ae.csv", CONTEXT)
    row = prepared.tables["adverse_event"].iloc[0]
    assert str(row["onset_date"]) == stored
    assert row["onset_date_source_value"] == onset
    assert row["date_imputation"] == flag


def test_a_partial_resolution_takes_the_last_day_but_not_after_death() -> None:
    prepared = prepare_adverse_events(
        adverse_events("2024-03-05", "2024-04", subject="S-2"), "ae.csv", CONTEXT
    )
    row = prepared.tables["adverse_event"].iloc[0]
    assert str(row["resolved_date"]) == "2024-04-10"  # 30 April would be after death
    assert row["date_imputation"] == "resolution:day"


@pytest.mark.parametrize(
    ("onset", "subject", "flag"),
    [
        ("2024-03-10", "S-1", "before_day_0"),
        ("2024-04-15", "S-2", "after_death"),
        ("", "S-1", None),
    ],
)
def test_implausible_dates_are_flagged_and_loaded(onset: str, subject: str, flag: str) -> None:
    prepared = prepare_adverse_events(adverse_events(onset, subject=subject), "ae.csv", CONTEXT)
    assert prepared.rejected.empty
    assert prepared.tables["adverse_event"]["date_flag"].tolist() == [flag]


def test_an_end_before_its_start_is_rejected() -> None:
    rows = frame(
        subject_id=["S-1"], drug=["tocilizumab"], started_at=["2024-03-22"], ended_at=["2024-03-21"]
    )
    prepared = prepare_medications(rows, "cm.csv", CONTEXT)
    assert prepared.rejected[["row", "field", "rule"]].values.tolist() == [[1, "ended_at", "order"]]
    assert prepared.tables["drug_exposure"].empty


def test_a_course_recorded_past_death_ends_on_the_day_of_death_not_before_it_started() -> None:
    """Found by the 10,000-subject grading benchmark: a 7-day course started at noon on the
    day of death was clipped to midnight of that day and then rejected as ending before it
    started. The source is in order; the course now ends at its start on the day of death."""
    rows = frame(
        subject_id=["S-2", "S-2"],
        drug=["levetiracetam", "levetiracetam"],
        started_at=["2024-04-10T12:00", "2024-04-05T12:00"],
        ended_at=["2024-04-17T12:00", "2024-04-12T12:00"],
    )
    prepared = prepare_medications(rows, "cm.csv", CONTEXT)
    assert prepared.rejected.empty
    ends = prepared.tables["drug_exposure"]["ended_at"].tolist()
    assert ends == [pd.Timestamp("2024-04-10 12:00"), pd.Timestamp("2024-04-10")]


def test_a_drug_is_recognised_by_brand_and_classified() -> None:
    rows = frame(
        subject_id=["S-1", "S-1"],
        drug=["Actemra", "Solu-Medrol"],
        started_at=["2024-03-22T10:00", "2024-03-23"],
        ended_at=["", ""],
    )
    out = prepare_medications(rows, "cm.csv", CONTEXT).tables["drug_exposure"]
    assert out[["drug", "drug_class", "drug_source_value"]].values.tolist() == [
        ["tocilizumab", "il6_blockade", "Actemra"],
        ["methylprednisolone", "corticosteroid", "Solu-Medrol"],
    ]


OBSERVATION_TABLES = ("measurement", "observation", "disease_assessment")

_VALUE = st.one_of(
    st.sampled_from(["38.2", "101", "7", "-1", "80", "abc", "", "<5", "high_flow_nasal_cannula"]),
    st.text(max_size=8),
)
_ROW = st.fixed_dictionaries(
    {
        "subject_id": st.sampled_from(["S-1", "S-2", "S-9"]),
        "observed_at": st.sampled_from(
            ["2024-03-21T08:00", "2024-03-22", "2024-03", "2024-04-20", "bad", ""]
        ),
        "code": st.sampled_from(["TEMP", "ICE", "O2_DEVICE", "RESPONSE", "CRP", "NOPE"]),
        "value": _VALUE,
        "unit": st.sampled_from(["C", "F", "", "mg/dL", "mg/L", "kg"]),
        "other_cause": st.sampled_from(["", "true", "N", "maybe"]),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=25))
def test_every_observation_row_is_stored_once_or_rejected(rows: list[dict[str, str]]) -> None:
    """No row disappears and none is both stored and rejected, whatever the values."""
    chunk = frame(**{name: [row[name] for row in rows] for name in rows[0]})

    prepared = prepare_observations(chunk, "observations.csv", CONTEXT)

    stored = pd.concat(
        [prepared.tables[table]["source_row"] for table in OBSERVATION_TABLES]
    ).tolist()
    rejected = set(prepared.rejected["row"].astype(int))
    assert len(stored) == len(set(stored))  # once
    assert set(stored).isdisjoint(rejected)
    assert set(stored) | rejected == set(chunk[ROW])
    assert prepared.rejected["reason"].str.len().min() > 10 if len(rejected) else True
    measured = prepared.tables["measurement"]
    temperatures = measured.loc[measured["code"] == "TEMP", "value"]
    assert temperatures.between(25, 45).all()  # the possible range, after conversion
