"""Each alert rule fires on the evidence it is for and stays silent otherwise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pv_monitor.alerts.rules import RULES, DerivedFrames, evaluate

RULE = {rule.rule_id: rule for rule in RULES}


def _daily(**columns: Any) -> pd.DataFrame:
    n = len(next(iter(columns.values()))) if columns else 10
    base = {
        "subject_id": 1,
        "infusion_id": 1,
        "study_day": range(n),
        "temp_c_max": [37.0] * n,
        "sedated": [False] * n,
        "crs_grade": [0] * n,
        "crs_reason": ["-"] * n,
        "icans_grade": [0] * n,
        "icans_reason": ["-"] * n,
        "icans_provisional": [False] * n,
    }
    return pd.DataFrame(base | columns)


def _episode(syndrome: str, peak: int, onset: int = 1, resolution: float = 6) -> dict[str, Any]:
    return {
        "subject_id": 1,
        "infusion_id": 1,
        "syndrome": syndrome,
        "criteria_version": f"astct_2019_{syndrome}",
        "episode_number": 1,
        "onset_day": onset,
        "peak_grade": peak,
        "peak_day": onset + 1,
        "resolution_day": resolution,
        "treatments": None,
    }


def _score(score: str, timepoint: str, category: str | None, reason: str = "") -> dict[str, Any]:
    return {
        "subject_id": 1,
        "infusion_id": 1,
        "score": score,
        "score_version": "1",
        "timepoint": timepoint,
        "study_day": -5,
        "value": 5.0,
        "category": category,
        "inputs": {},
        "reason": reason,
    }


EMPTY = DerivedFrames(
    daily=_daily(),
    episodes=pd.DataFrame(columns=list(_episode("crs", 1))),
    scores=pd.DataFrame(columns=list(_score("easix", "day_0", None))),
    course_grades=pd.DataFrame(
        columns=["subject_id", "infusion_id", "study_day", "criteria_version", "grade", "reason"]
    ),
    adverse_events=pd.DataFrame(
        columns=[
            "subject_id",
            "infusion_id",
            "term",
            "onset_day",
            "reported_grade",
            "grading_scale",
        ]
    ),
    infusions=pd.DataFrame(
        {"subject_id": [1], "infusion_id": [1], "product": ["x"], "target_antigen": ["CD19"]}
    ),
    reconciliation=pd.DataFrame(
        columns=[
            "subject_id",
            "infusion_id",
            "syndrome",
            "scale",
            "reported_grade",
            "reported_onset_day",
            "derived_grade",
            "derived_onset_day",
            "status",
        ]
    ),
)


def _fired(rule_id: str, frames: DerivedFrames) -> pd.DataFrame:
    return RULE[rule_id].candidates(frames)


def test_nothing_fires_on_an_uneventful_course() -> None:
    assert evaluate(EMPTY).empty


@pytest.mark.parametrize(("peak", "severity"), [(1, "warning"), (2, "high"), (3, "critical")])
def test_crs_one_candidate_per_episode_with_its_peak(peak: int, severity: str) -> None:
    frames = replace(EMPTY, episodes=pd.DataFrame([_episode("crs", peak)]))
    fired = _fired("crs", frames)
    assert fired[["episode_key", "level", "severity"]].values.tolist() == [
        ["crs:1:1", peak, severity]
    ]
    assert fired["evidence"].iloc[0]["peak_grade"] == peak
    assert _fired("icans", frames).empty


def test_icans_episode() -> None:
    frames = replace(EMPTY, episodes=pd.DataFrame([_episode("icans", 4)]))
    assert _fired("icans", frames)["title"].iloc[0] == "ICANS grade 4 (ASTCT 2019) from day 1"


def test_icans_provisional_under_sedation_once_per_run_of_days() -> None:
    sedated = [False, True, True, False, True, False, False, False, False, False]
    frames = replace(EMPTY, daily=_daily(sedated=sedated, icans_provisional=sedated))
    assert _fired("icans_sedated", frames)["study_day"].tolist() == [1, 4]
    awake = replace(EMPTY, daily=_daily(icans_provisional=sedated))  # provisional, not sedated
    assert _fired("icans_sedated", awake).empty


@pytest.mark.parametrize(("febrile_days", "fires"), [(3, False), (4, True)])
def test_crs_fever_persisting_more_than_3_days(febrile_days: int, fires: bool) -> None:
    temps = [37.0] + [38.6] * febrile_days + [37.0] * (9 - febrile_days)
    frames = replace(
        EMPTY,
        daily=_daily(temp_c_max=temps),
        episodes=pd.DataFrame([_episode("crs", 1, resolution=np.nan)]),
    )
    fired = _fired("crs_fever_persisting", frames)
    assert len(fired) == int(fires)
    if fires:
        assert fired["study_day"].iloc[0] == 4  # the 4th febrile day


def test_high_risk_scores() -> None:
    scores = pd.DataFrame(
        [
            _score("easix", "pre_lymphodepletion", "high"),
            _score("easix", "pre_lymphodepletion", "low") | {"infusion_id": 2},
            _score("car_hematotox", "pre_lymphodepletion", "high"),
            _score("early_neurotoxicity", "first_36_hours", "low"),
            _score("m_easix", "day_3", None),
        ]
    )
    fired = _fired("high_risk_score", replace(EMPTY, scores=scores))
    assert sorted(fired["episode_key"]) == ["score:car_hematotox:1", "score:easix:1"]


def test_trained_model_predictions_alert_only_when_categorised_high() -> None:
    model = {"score_version": "model1:0123456789ab", "value": 0.42, "study_day": 0}
    scores = pd.DataFrame(
        [
            _score("crs_grade3_by_day0", "day_0", "high") | model,
            _score("crs_grade3_by_day3", "day_3", "low") | model,
            _score("crs_grade3_by_day0", "day_0", None) | model | {"infusion_id": 2},
            _score("icans_grade3_by_day3", "day_3", "high") | model | {"study_day": 3},
            _score("easix", "day_0", "high"),  # a published score, not a model
        ]
    )
    frames = replace(EMPTY, scores=scores)
    crs = _fired("model_crs_risk", frames)
    assert crs["episode_key"].tolist() == ["model:crs_grade3_by_day0:1"]
    assert crs["title"].iloc[0].startswith("Trained model: 42% predicted risk of grade >= 3 CRS")
    assert crs["evidence"].iloc[0]["model_version"] == "model1:0123456789ab"
    icans = _fired("model_icans_risk", frames)
    assert icans["episode_key"].tolist() == ["model:icans_grade3_by_day3:1"]
    assert "by day 3" in icans["title"].iloc[0]
    assert _fired("model_crs_risk", replace(EMPTY, scores=scores.iloc[[1, 2, 4]])).empty


def test_iec_hs_screen_positive_and_its_severity() -> None:
    scores = pd.DataFrame(
        [
            _score("iec_hs_screen", "days_1_100", "positive", "ferritin ... with LDH 300 U/L"),
            _score("iec_hs_screen", "days_1_100", "positive", "ferritin ... with AST 300 U/L")
            | {"infusion_id": 2},
            _score("iec_hs_screen", "days_1_100", "negative") | {"infusion_id": 3},
        ]
    )
    fired = _fired("iec_hs_screen", replace(EMPTY, scores=scores))
    assert fired[["infusion_id", "severity"]].values.tolist() == [[1, "warning"], [2, "high"]]


def test_icaht_grade_3_or_more() -> None:
    grades = pd.DataFrame(
        {
            "subject_id": 1,
            "infusion_id": 1,
            "study_day": [30, 30, 100],
            "criteria_version": [
                "ehaebmt_2023_icaht:early_anc",
                "ehaebmt_2023_icaht:early_platelets",
                "ehaebmt_2023_icaht:late_anc",
            ],
            "grade": [3, 4, 2],
            "reason": ["r1", "r2", "r3"],
        }
    )
    fired = _fired("icaht_severe", replace(EMPTY, course_grades=grades))
    assert fired[["episode_key", "severity"]].values.tolist() == [["icaht:early_anc:1", "high"]]


def test_discordance_between_reported_and_derived() -> None:
    rows = pd.DataFrame(
        [
            {
                "subject_id": 1,
                "infusion_id": 1,
                "syndrome": "crs",
                "scale": "astct_2019",
                "reported_grade": 1,
                "reported_onset_day": 2,
                "derived_grade": 3,
                "derived_onset_day": 2,
                "status": "discordant",
            },
            {
                "subject_id": 1,
                "infusion_id": 1,
                "syndrome": "icans",
                "scale": "lee_2014",
                "reported_grade": 1,
                "reported_onset_day": 2,
                "derived_grade": 3,
                "derived_onset_day": 2,
                "status": "other scale",
            },
        ]
    )
    fired = _fired("grade_discordance", replace(EMPTY, reconciliation=rows))
    assert fired["title"].tolist() == [
        "CRS reported grade 1 (ASTCT 2019) but derived grade 3: review"
    ]


def _events(*terms: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject_id": 1,
            "infusion_id": 1,
            "term": list(terms),
            "onset_day": 200,
            "reported_grade": 3,
            "grading_scale": "ctcae_v5_0",
        }
    )


def test_secondary_malignancy_any_time_with_the_boxed_warning() -> None:
    fired = _fired(
        "secondary_malignancy",
        replace(EMPTY, adverse_events=_events("T-cell lymphoma", "Pneumonia")),
    )
    assert fired["severity"].tolist() == ["critical"]
    assert "boxed warning" in fired["evidence"].iloc[0]["boxed_warning"]


def test_late_neurotoxicity_only_after_a_bcma_product() -> None:
    events = _events("Facial paralysis", "Parkinsonism")
    cd19 = replace(EMPTY, adverse_events=events)
    assert _fired("bcma_late_neurotoxicity", cd19).empty
    bcma = replace(cd19, infusions=EMPTY.infusions.assign(target_antigen="BCMA"))
    assert len(_fired("bcma_late_neurotoxicity", bcma)) == 2


def test_every_rule_cites_a_source_and_has_a_test() -> None:
    tested = {
        "crs",
        "icans",
        "icans_sedated",
        "crs_fever_persisting",
        "high_risk_score",
        "model_crs_risk",
        "model_icans_risk",
        "iec_hs_screen",
        "icaht_severe",
        "grade_discordance",
        "secondary_malignancy",
        "bcma_late_neurotoxicity",
        "antigen_escape",
    }
    assert set(RULE) == tested
    for rule in RULES:
        assert any(ch.isdigit() for ch in rule.rationale), rule.rule_id  # a year or a section


def test_antigen_escape_signals_become_alerts_with_their_samples() -> None:
    markers = pd.DataFrame(
        {
            "subject_id": 1,
            "code": "BCELL",
            "unit": "cells/uL",
            "at": pd.to_datetime(["2024-02-01", "2024-03-01"]),
            "value": [0.4, 0.6],
        }
    )
    assessments = pd.DataFrame(
        {
            "subject_id": [1],
            "assessed_on": pd.to_datetime(["2024-01-29"]),
            "response": [None],
            "is_relapse": [False],
            "mrd_fraction": [0.001],
            "antigen_status": [None],
        }
    )
    infusions = EMPTY.infusions.assign(infusion_date=pd.to_datetime(["2024-01-01"]))
    frames = replace(EMPTY, infusions=infusions, markers=markers, assessments=assessments)
    fired = _fired("antigen_escape", frames)
    assert sorted(fired["episode_key"]) == ["relapse:1:mrd_positive"]  # aplasia not yet shown
    later = assessments.assign(assessed_on=pd.to_datetime(["2024-03-05"]))
    fired = _fired("antigen_escape", replace(frames, assessments=later))
    assert fired["episode_key"].tolist() == ["relapse:1:probable_escape"]
    assert fired["severity"].tolist() == ["critical"]
    assert [s["code"] for s in fired["evidence"].iloc[0]["samples"]] == ["MRD", "BCELL"]
