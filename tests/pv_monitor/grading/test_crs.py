"""ASTCT 2019 CRS grading: hand-worked cases from clinical.md §1, at, below and above each
boundary, plus the contract-2 guarantees (rows kept in order, missing data never 0)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from pv_monitor.grading import FrameError, grade_crs, load_criteria, read_criteria
from pv_monitor.grading.crs import INPUT_COLUMNS

NA = None


def row(
    temp: float | None = 37.0,
    treated: bool | None = False,
    hypotension: bool | None = False,
    pressors: str | None = "",
    device: str | None = "none",
    flow: float | None = None,
) -> dict[str, Any]:
    return {
        "temp_c_max": temp,
        "crs_treated": treated,
        "hypotension": hypotension,
        "vasopressors": pressors,
        "o2_device": device,
        "o2_flow_l_min": flow,
    }


# (case id, inputs, expected grade (None = not gradable), provisional, fragment of the reason)
CASES: list[tuple[str, dict[str, Any], int | None, bool, str]] = [
    # fever: >= 38.0 C diagnoses CRS (clinical.md §1.1)
    ("afebrile 37.9, untreated", row(temp=37.9), 0, False, "no fever >= 38.0 C (37.9 C)"),
    ("fever exactly 38.0", row(temp=38.0), 1, False, "fever 38.0 C without hypotension"),
    ("fever 38.1", row(temp=38.1), 1, False, "-> 1"),
    ("fever 40.5 alone is still grade 1", row(temp=40.5), 1, False, "-> 1"),
    # no CRS without fever in an untreated patient, whatever the hypotension or hypoxia
    (
        "hypoxia without fever, untreated",
        row(temp=37.5, device="non_rebreather"),
        0,
        False,
        "no CRS treatment -> 0",
    ),
    (
        "two pressors without fever, untreated",
        row(temp=37.5, hypotension=True, pressors="norepinephrine;epinephrine"),
        0,
        False,
        "-> 0",
    ),
    # hypotension tier
    (
        "fever + hypotension on fluids",
        row(temp=38.5, hypotension=True),
        2,
        False,
        "hypotension without vasopressors -> 2",
    ),
    (
        "fever + one vasopressor",
        row(temp=38.5, hypotension=True, pressors="norepinephrine"),
        3,
        False,
        "1 vasopressor (norepinephrine) -> 3",
    ),
    (
        "one vasopressor + vasopressin is still one",
        row(temp=38.5, hypotension=True, pressors="norepinephrine;vasopressin"),
        3,
        False,
        "vasopressin not counted",
    ),
    (
        "two vasopressors other than vasopressin",
        row(temp=38.5, hypotension=True, pressors="norepinephrine;phenylephrine"),
        4,
        False,
        "2 vasopressors",
    ),
    (
        "three agents incl. vasopressin = multiple",
        row(temp=39.0, pressors="epinephrine; norepinephrine; vasopressin"),
        4,
        False,
        "2 vasopressors (epinephrine;norepinephrine;vasopressin",
    ),
    (
        "vasopressin alone counts as one [UNCONFIRMED]",
        row(temp=38.5, hypotension=True, pressors="vasopressin"),
        3,
        False,
        "vasopressin alone (counted as one vasopressor [UNCONFIRMED])",
    ),
    (
        "same agent written twice is one agent",
        row(temp=38.5, pressors="norepinephrine;Norepinephrine"),
        3,
        False,
        "1 vasopressor",
    ),
    (
        "vasopressor running without a recorded hypotension flag",
        row(temp=38.5, hypotension=NA, pressors="norepinephrine"),
        3,
        False,
        "-> 3",
    ),
    # hypoxia tier: low flow <= 6 L/min is grade 2, above is grade 3
    ("blow-by", row(temp=38.4, device="blow_by"), 2, False, "hypoxia: blow_by -> 2"),
    (
        "nasal cannula 6.0 L/min is low flow",
        row(temp=38.4, device="nasal_cannula", flow=6.0),
        2,
        False,
        "nasal_cannula 6 L/min -> 2",
    ),
    (
        "nasal cannula 6.5 L/min is high flow",
        row(temp=38.4, device="nasal_cannula", flow=6.5),
        3,
        False,
        "nasal_cannula 6.5 L/min -> 3",
    ),
    (
        "nasal cannula 1 L/min",
        row(temp=38.4, device="nasal_cannula", flow=1.0),
        2,
        False,
        "-> 2",
    ),
    (
        "nasal cannula, flow not recorded: at least 2",
        row(temp=38.4, device="nasal_cannula", flow=NA),
        2,
        True,
        "flow not recorded -> at least 2",
    ),
    (
        "HFNC 40 L/min is 3, not 4",
        row(temp=38.4, device="high_flow_nasal_cannula", flow=40.0),
        3,
        False,
        "hypoxia: high_flow_nasal_cannula 40 L/min -> 3",
    ),
    (
        "HFNC at 5 L/min is still 3",
        row(temp=38.4, device="high_flow_nasal_cannula", flow=5.0),
        3,
        False,
        "-> 3",
    ),
    ("facemask at any flow", row(temp=38.4, device="facemask", flow=5.0), 3, False, "-> 3"),
    ("non-rebreather", row(temp=38.4, device="non_rebreather", flow=15.0), 3, False, "-> 3"),
    ("Venturi mask", row(temp=38.4, device="venturi", flow=4.0), 3, False, "-> 3"),
    ("CPAP is positive pressure", row(temp=38.4, device="cpap"), 4, False, "cpap -> 4"),
    ("BiPAP", row(temp=38.4, device="bipap"), 4, False, "-> 4"),
    ("mechanical ventilation", row(temp=38.4, device="mechanical_ventilation"), 4, False, "-> 4"),
    # worst-event rule: consensus example, one vasopressor + low-flow nasal cannula = 3
    (
        "one vasopressor + low-flow NC (consensus example)",
        row(
            temp=38.8, hypotension=True, pressors="norepinephrine", device="nasal_cannula", flow=2.0
        ),
        3,
        False,
        "hypotension: 1 vasopressor (norepinephrine) -> 3 (fever 38.8 C)",
    ),
    (
        "fluids-only hypotension + BiPAP",
        row(temp=38.8, hypotension=True, device="bipap"),
        4,
        False,
        "hypoxia: bipap -> 4",
    ),
    (
        "both domains at grade 2 are both named",
        row(temp=38.8, hypotension=True, device="nasal_cannula", flow=3.0),
        2,
        False,
        "hypotension without vasopressors -> 2; hypoxia: nasal_cannula 3 L/min -> 2",
    ),
    # fever-masking rule: after antipyretic, tocilizumab or steroid, fever is not needed
    (
        "treated, afebrile, on one vasopressor",
        row(temp=37.2, treated=True, hypotension=True, pressors="norepinephrine"),
        3,
        False,
        "fever not needed after CRS treatment",
    ),
    (
        "treated, afebrile, low-flow oxygen",
        row(temp=36.9, treated=True, device="nasal_cannula", flow=2.0),
        2,
        False,
        "-> 2",
    ),
    (
        "treated, afebrile, nothing else: 0",
        row(temp=36.9, treated=True),
        0,
        False,
        "CRS treated in this episode, afebrile (36.9 C), no hypotension or hypoxia -> 0",
    ),
    (
        "treated and still febrile with hypoxia",
        row(temp=38.9, treated=True, device="facemask"),
        3,
        False,
        "(fever 38.9 C)",
    ),
    (
        "treated, temperature not recorded, BiPAP",
        row(temp=NA, treated=True, device="bipap"),
        4,
        False,
        "hypoxia: bipap -> 4 (temperature not recorded",
    ),
    (
        "treated, temperature not recorded, nothing else: 0 as a lower bound",
        row(temp=NA, treated=True),
        0,
        True,
        "-> 0",
    ),
    # missing data is never 0
    (
        "no temperature, untreated: not gradable",
        row(temp=NA),
        None,
        False,
        "not gradable: temperature not recorded",
    ),
    (
        "no temperature, untreated, even on pressors",
        row(temp=NA, hypotension=True, pressors="norepinephrine"),
        None,
        False,
        "fever is needed to diagnose CRS",
    ),
    (
        "treated, afebrile, neither domain assessed: not gradable",
        row(temp=37.0, treated=True, hypotension=NA, pressors=NA, device=NA),
        None,
        False,
        "not gradable: blood pressure not assessed and oxygen support not recorded",
    ),
    (
        "fever, blood pressure not assessed: 1 at least",
        row(temp=38.3, hypotension=NA),
        1,
        True,
        "blood pressure not assessed",
    ),
    (
        "fever, oxygen not recorded: 1 at least",
        row(temp=38.3, device=NA),
        1,
        True,
        "oxygen support not recorded",
    ),
    (
        "grade 4 is final even with a domain unassessed",
        row(temp=38.3, device="cpap", hypotension=NA),
        4,
        False,
        "-> 4",
    ),
]


@pytest.mark.parametrize(
    ("inputs", "grade", "provisional", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hand_worked_case(
    inputs: dict[str, Any], grade: int | None, provisional: bool, reason: str
) -> None:
    graded = grade_crs(pd.DataFrame([inputs]))
    result = graded["crs_grade"].iloc[0]
    assert (None if pd.isna(result) else int(result)) == grade
    assert bool(graded["crs_provisional"].iloc[0]) is provisional
    assert reason in graded["crs_reason"].iloc[0]


def test_all_cases_at_once_match_one_at_a_time() -> None:
    """Grading is row-wise: a frame of every case gives each case's own grade, in order."""
    frame = pd.DataFrame([case[1] for case in CASES])
    graded = grade_crs(frame.iloc[::-1].reset_index(drop=True))
    expected = [case[2] for case in CASES][::-1]
    assert [None if pd.isna(g) else int(g) for g in graded["crs_grade"]] == expected
    pd.testing.assert_frame_equal(
        graded[list(INPUT_COLUMNS)], frame.iloc[::-1].reset_index(drop=True)
    )


def test_output_types_and_index_kept() -> None:
    frame = pd.DataFrame([CASES[1][1], CASES[-4][1]], index=[10, 3])
    graded = grade_crs(frame)
    assert list(graded.index) == [10, 3]
    assert str(graded["crs_grade"].dtype) == "Int64"
    assert graded["crs_provisional"].dtype == bool


def test_text_booleans_and_blank_cells_read_as_in_a_csv() -> None:
    frame = pd.DataFrame(
        [row(temp="38.2", treated="no", hypotension="yes", pressors=NA, device="")]  # type: ignore[arg-type]
    )
    graded = grade_crs(frame)
    assert int(graded["crs_grade"].iloc[0]) == 2
    assert bool(graded["crs_provisional"].iloc[0])  # oxygen support blank = not recorded


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("o2_device", "oxygen tent", "o2_device: expected one of none"),
        ("temp_c_max", "hot", "temp_c_max: expected a number; row 1: 'hot'"),
        ("hypotension", "maybe", "hypotension: expected true or false"),
    ],
)
def test_unreadable_values_are_refused_with_row(column: str, value: str, message: str) -> None:
    inputs = row(temp=38.0)
    inputs[column] = value
    with pytest.raises(FrameError, match=message):
        grade_crs(pd.DataFrame([inputs]))


def test_missing_column_is_named() -> None:
    with pytest.raises(FrameError, match="lacks column"):
        grade_crs(pd.DataFrame([row()]).drop(columns="o2_flow_l_min"))


def test_empty_frame() -> None:
    graded = grade_crs(pd.DataFrame(columns=list(INPUT_COLUMNS)))
    assert graded.empty
    assert "crs_grade" in graded.columns


def test_a_new_criteria_version_moves_a_boundary(tmp_path: Any) -> None:
    """Thresholds live in the table: a site version with low flow up to 4 L/min regrades 5."""
    table = load_criteria("astct_2019_crs").rules.drop(columns="bounds")
    table.loc[table["interval"] == "[0, 6]", "interval"] = "[0, 4]"
    table.loc[table["interval"] == "(6, inf)", "interval"] = "(4, inf)"
    path = tmp_path / "site_crs_v2.csv"
    table.to_csv(path, index=False)
    site = read_criteria(path)
    frame = pd.DataFrame([row(temp=38.5, device="nasal_cannula", flow=5.0)])
    assert int(grade_crs(frame)["crs_grade"].iloc[0]) == 2
    assert int(grade_crs(frame, site)["crs_grade"].iloc[0]) == 3
    assert site.version == "site_crs_v2"


def test_grades_agree_with_a_plain_reading_of_the_rules() -> None:
    """Random frames: the vectorised grader equals a row-by-row reading of clinical.md §1.2."""
    rng = np.random.default_rng(7)
    n = 3000
    devices = ["none", "blow_by", "nasal_cannula", "high_flow_nasal_cannula", "facemask", "cpap"]
    pressor_sets = ["", "norepinephrine", "vasopressin", "norepinephrine;vasopressin",
                    "epinephrine;norepinephrine"]  # fmt: skip
    frame = pd.DataFrame(
        {
            "temp_c_max": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(36.5, 40.0, n)),
            "crs_treated": rng.random(n) < 0.3,
            "hypotension": rng.random(n) < 0.3,
            "vasopressors": rng.choice(pressor_sets, n),
            "o2_device": rng.choice(devices, n),
            "o2_flow_l_min": rng.choice([1.0, 6.0, 6.1, 30.0], n),
        }
    )
    graded = grade_crs(frame)

    def plain(r: Any) -> int | None:
        agents = {a for a in r.vasopressors.split(";") if a}
        others = len(agents - {"vasopressin"})
        hypo = 4 if others >= 2 else 3 if agents else 2 if r.hypotension else 0
        oxy = {"none": 0, "blow_by": 2, "high_flow_nasal_cannula": 3, "facemask": 3, "cpap": 4}
        hypoxia = (
            (2 if r.o2_flow_l_min <= 6 else 3)
            if r.o2_device == "nasal_cannula"
            else (oxy[r.o2_device])
        )
        if np.isnan(r.temp_c_max):
            return max(hypo, hypoxia) if r.crs_treated else None
        if r.temp_c_max >= 38.0:
            return max(1, hypo, hypoxia)
        return max(hypo, hypoxia) if r.crs_treated else 0

    expected = [plain(r) for r in frame.itertuples()]
    assert [None if pd.isna(g) else int(g) for g in graded["crs_grade"]] == expected
