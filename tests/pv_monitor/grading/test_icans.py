"""ASTCT 2019 ICANS grading: hand-worked cases from clinical.md §2 (adults with ICE, children
with CAPD), at, below and above each boundary; sedation; missing data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pv_monitor.grading import FrameError, grade_icans, load_criteria, read_criteria
from pv_monitor.grading.icans import INPUT_COLUMNS

NA = None


def row(
    age: float | None = 50,
    ice: float | None = 10,
    capd: float | None = None,
    loc: str | None = "alert",
    seizure: str | None = "none",
    motor: bool | None = False,
    edema: str | None = None,
    icp: bool | None = False,
    sedated: bool | None = False,
) -> dict[str, Any]:
    return {
        "age_years": age,
        "ice_score": ice,
        "capd_score": capd,
        "loc": loc,
        "seizure": seizure,
        "motor_weakness": motor,
        "cerebral_edema": edema,
        "icp_signs": icp,
        "sedated": sedated,
    }


def child(**kwargs: Any) -> dict[str, Any]:
    return row(**{"age": 8, "ice": None, "capd": 0, **kwargs})


# (case id, inputs, expected grade (None = not gradable), provisional, fragment of the reason)
CASES: list[tuple[str, dict[str, Any], int | None, bool, str]] = [
    # ICE domain, adults (clinical.md §2.2)
    ("ICE 10, alert: normal", row(ice=10), 0, False, "ICE 10 -> 0"),
    ("ICE 9", row(ice=9), 1, False, "ICE 9 -> 1"),
    ("ICE 7", row(ice=7), 1, False, "ICE 7 -> 1"),
    ("ICE 6", row(ice=6), 2, False, "ICE 6 -> 2"),
    ("ICE 3", row(ice=3), 2, False, "ICE 3 -> 2"),
    ("ICE 2", row(ice=2), 3, False, "ICE 2 -> 3"),
    ("ICE 0 awake (global aphasia) is 3", row(ice=0, loc="alert"), 3, False, "ICE 0 -> 3"),
    (
        "ICE 0 because unarousable is 4",
        row(ice=0, loc="unarousable"),
        4,
        False,
        "consciousness: unarousable -> 4 (ICE 0 -> 3)",
    ),
    (
        "ICE 0, consciousness not assessed: 3 at least",
        row(ice=0, loc=NA),
        3,
        True,
        "provisional: consciousness not assessed",
    ),
    # depressed level of consciousness
    ("awakens spontaneously", row(loc="awakens_spontaneously"), 1, False, "-> 1"),
    ("awakens to voice", row(ice=8, loc="awakens_to_voice"), 2, False, "awakens_to_voice -> 2"),
    ("awakens only to touch", row(ice=5, loc="awakens_to_tactile"), 3, False, "-> 3"),
    ("unarousable, ICE not possible", row(ice=NA, loc="unarousable"), 4, False, "-> 4"),
    # seizures
    ("rapidly resolving seizure", row(seizure="resolving"), 3, False, "seizure: resolving -> 3"),
    (
        "non-convulsive seizure resolving with intervention",
        row(seizure="nonconvulsive_resolving"),
        3,
        False,
        "-> 3",
    ),
    (
        "prolonged or repetitive seizures",
        row(seizure="prolonged_or_repetitive"),
        4,
        False,
        "seizure: prolonged_or_repetitive -> 4",
    ),
    (
        "consensus example: ICE 3 + generalised seizure = 3",
        row(ice=3, seizure="resolving"),
        3,
        False,
        "seizure: resolving -> 3 (ICE 3 -> 2)",
    ),
    # motor and raised ICP / cerebral oedema
    ("deep focal motor weakness", row(motor=True), 4, False, "deep focal motor weakness -> 4"),
    ("focal oedema on imaging", row(edema="focal"), 3, False, "cerebral edema: focal -> 3"),
    ("diffuse oedema", row(edema="diffuse"), 4, False, "cerebral edema: diffuse -> 4"),
    ("imaging without oedema", row(ice=8, edema="none"), 1, False, "ICE 8 -> 1"),
    ("posturing / CN VI palsy / papilloedema", row(icp=True), 4, False, "raised ICP -> 4"),
    # sedation: ICE and consciousness are not gradable; the grade is a lower bound
    (
        "sedated: ICE 0 and unarousable do not count",
        row(ice=0, loc="unarousable", sedated=True),
        0,
        True,
        "provisional: sedated (ICE and consciousness not gradable)",
    ),
    (
        "sedated with a prolonged seizure: 4 is final",
        row(ice=NA, loc="unarousable", seizure="prolonged_or_repetitive", sedated=True),
        4,
        False,
        "seizure: prolonged_or_repetitive -> 4",
    ),
    (
        "sedated with focal oedema: 3, provisional",
        row(ice=NA, loc=NA, edema="focal", sedated=True),
        3,
        True,
        "cerebral edema: focal -> 3; provisional: sedated",
    ),
    # missing data is never 0
    (
        "nothing recorded: not gradable",
        row(ice=NA, loc=NA, seizure=NA, motor=NA, icp=NA, sedated=NA),
        None,
        False,
        "not gradable: ICE not done, consciousness not assessed",
    ),
    (
        "sedated and nothing else: not gradable",
        row(ice=NA, loc=NA, seizure=NA, motor=NA, icp=NA, sedated=True),
        None,
        False,
        "not gradable: sedated",
    ),
    ("ICE not done, alert: 0 at most a lower bound", row(ice=NA), 0, True, "ICE not done"),
    # children: CAPD below 12 years (clinical.md §2.3)
    ("child CAPD 0, alert", child(capd=0), 0, False, "CAPD 0 -> 0"),
    ("child CAPD 1", child(capd=1), 1, False, "CAPD 1 -> 1"),
    (
        "child CAPD 8, awakens spontaneously",
        child(capd=8, loc="awakens_spontaneously"),
        1,
        False,
        "CAPD 8 -> 1",
    ),
    (
        "child CAPD 8, awakens to voice: 2",
        child(capd=8, loc="awakens_to_voice"),
        2,
        False,
        "consciousness: awakens_to_voice -> 2 (CAPD 8 -> 1)",
    ),
    ("child CAPD 9 is 3", child(capd=9), 3, False, "CAPD 9 -> 3"),
    ("child CAPD 32", child(capd=32), 3, False, "-> 3"),
    (
        "child unable to perform CAPD (unarousable) is 4",
        child(capd=NA, loc="unarousable"),
        4,
        False,
        "unarousable -> 4",
    ),
    ("child seizure rules as adults", child(capd=3, seizure="resolving"), 3, False, "-> 3"),
    ("child CAPD not done: provisional", child(capd=NA), 0, True, "CAPD not done"),
    # the age boundary: ICE from 12 (configurable)
    ("age 12 uses ICE", row(age=12, ice=5, capd=12), 2, False, "ICE 5 -> 2"),
    ("age 11.9 uses CAPD", row(age=11.9, ice=10, capd=9), 3, False, "CAPD 9 -> 3"),
    ("age 11 uses CAPD over a recorded ICE", row(age=11, ice=2, capd=4), 1, False, "CAPD 4 -> 1"),
    (
        "child with only ICE recorded: ICE is used and said",
        row(age=10, ice=5, capd=NA),
        2,
        False,
        "ICE 5 (the other instrument was not recorded) -> 2",
    ),
    (
        "adult with only CAPD (developmental delay)",
        row(age=19, ice=NA, capd=10),
        3,
        False,
        "CAPD 10 (the other instrument was not recorded) -> 3",
    ),
    ("age unknown, ICE recorded", row(age=NA, ice=4), 2, False, "ICE 4 -> 2"),
]


@pytest.mark.parametrize(
    ("inputs", "grade", "provisional", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hand_worked_case(
    inputs: dict[str, Any], grade: int | None, provisional: bool, reason: str
) -> None:
    graded = grade_icans(pd.DataFrame([inputs]))
    result = graded["icans_grade"].iloc[0]
    assert (None if pd.isna(result) else int(result)) == grade
    assert bool(graded["icans_provisional"].iloc[0]) is provisional
    assert reason in graded["icans_reason"].iloc[0]


def test_all_cases_at_once_match_one_at_a_time() -> None:
    frame = pd.DataFrame([case[1] for case in CASES])
    graded = grade_icans(frame.sample(frac=1.0, random_state=3))
    by_case = dict(zip(frame.index, [case[2] for case in CASES], strict=True))
    for index, grade in graded["icans_grade"].items():
        assert (None if pd.isna(grade) else int(grade)) == by_case[index]
    assert list(graded.index) == list(frame.sample(frac=1.0, random_state=3).index)


def test_age_boundary_is_configurable(tmp_path: Path) -> None:
    """NCIt reads 'CAPD for children 12 and under': a criteria version can say so."""
    table = load_criteria("astct_2019_icans").rules.drop(columns="bounds")
    table.loc[(table["domain"] == "instrument") & (table["finding"] == "ice"), "interval"] = (
        "(12, inf)"
    )
    table.loc[(table["domain"] == "instrument") & (table["finding"] == "capd"), "interval"] = (
        "[0, 12]"
    )
    path = tmp_path / "icans_capd_to_12.csv"
    table.to_csv(path, index=False)
    frame = pd.DataFrame([row(age=12, ice=10, capd=9)])
    assert int(grade_icans(frame)["icans_grade"].iloc[0]) == 0
    assert int(grade_icans(frame, read_criteria(path))["icans_grade"].iloc[0]) == 3


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("ice_score", 11, "ice_score: expected an ICE score the criteria table grades"),
        ("capd_score", -1, "capd_score: expected a CAPD score"),
        ("loc", "drowsy", "loc: expected one of alert"),
        ("seizure", "absence", "seizure: expected one of none"),
    ],
)
def test_unreadable_values_are_refused(column: str, value: object, message: str) -> None:
    inputs = row()
    inputs[column] = value
    with pytest.raises(FrameError, match=message):
        grade_icans(pd.DataFrame([inputs]))


def test_missing_column_is_named() -> None:
    with pytest.raises(FrameError, match="grade_icans: the frame lacks column"):
        grade_icans(pd.DataFrame([row()]).drop(columns="sedated"))


def test_empty_frame() -> None:
    graded = grade_icans(pd.DataFrame(columns=list(INPUT_COLUMNS)))
    assert graded.empty
    assert {"icans_grade", "icans_reason", "icans_provisional"} <= set(graded.columns)
