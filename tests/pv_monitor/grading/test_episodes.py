"""Episodes and the fever-masking walk: closure rule, ungradable days, treatments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pv_monitor.grading.episodes import ClosureRule, add_crs_treated, fold_episodes

NA = np.nan


def _days(grades: list[float], infusion: int = 1, first_day: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "infusion_id": infusion,
            "subject_id": infusion,
            "study_day": range(first_day, first_day + len(grades)),
            "grade": pd.array(grades, dtype="Float64").astype("Int64"),
        }
    )


def _fold(frame: pd.DataFrame, **kwargs: object) -> list[tuple[object, ...]]:
    episodes = fold_episodes(frame, "crs", "astct_2019_crs", **kwargs)  # type: ignore[arg-type]
    columns = ["episode_number", "onset_day", "peak_grade", "peak_day", "resolution_day"]
    return [
        tuple(None if pd.isna(v) else int(v) for v in row)
        for row in episodes[columns].itertuples(index=False)
    ]


def test_one_grade_zero_day_does_not_close_an_episode() -> None:
    assert _fold(_days([0, 1, 0, 2, 0, 0])) == [(1, 1, 2, 3, 4)]


def test_two_zero_days_close_and_a_later_grade_opens_a_second_episode() -> None:
    assert _fold(_days([1, 0, 0, 3, 3, 0, 0])) == [(1, 0, 1, 0, 1), (2, 3, 3, 3, 5)]


def test_ungradable_days_neither_close_nor_interrupt() -> None:
    assert _fold(_days([2, 0, NA, NA, 0, 0])) == [(1, 0, 2, 0, 1)]


def test_an_episode_open_at_the_end_has_no_resolution() -> None:
    assert _fold(_days([0, 1, 1, 0])) == [(1, 1, 1, 1, None)]


def test_the_closure_rule_is_configurable() -> None:
    frame = _days([1, 0, 0, 1, 0, 0, 0])
    assert len(_fold(frame, rule=ClosureRule(zero_days=3))) == 1
    assert len(_fold(frame)) == 2
    rule = fold_episodes(frame, "crs", "v", rule=ClosureRule(3))["closure_rule"].iloc[0]
    assert rule == "grade0_3_days"


def test_infusions_are_folded_separately() -> None:
    frame = pd.concat([_days([0, 1, 0, 0], infusion=1), _days([2, 2], infusion=2)])
    assert _fold(frame.reset_index(drop=True)) == [(1, 1, 1, 1, 2), (1, 0, 2, 0, None)]


def test_treatments_between_onset_and_resolution() -> None:
    frame = _days([1, 2, 0, 0, 0])
    drug_days = pd.DataFrame(
        {
            "infusion_id": [1, 1, 1, 1],
            "study_day": [1, 1, 4, 1],
            "drug": ["tocilizumab", "acetaminophen", "dexamethasone", "norepinephrine"],
            "drug_class": ["il6_blockade", "antipyretic", "corticosteroid", "vasopressor"],
        }
    )
    episodes = fold_episodes(frame, "crs", "v", drug_days=drug_days)
    assert episodes["treatments"].iloc[0] == "norepinephrine;tocilizumab"


def _crs_frame(temps: list[float], devices: list[str]) -> pd.DataFrame:
    n = len(temps)
    return pd.DataFrame(
        {
            "infusion_id": 1,
            "subject_id": 1,
            "study_day": range(n),
            "temp_c_max": temps,
            "hypotension": [False] * n,
            "vasopressors": [""] * n,
            "o2_device": devices,
            "o2_flow_l_min": [2.0 if d == "nasal_cannula" else NA for d in devices],
        }
    )


def test_fever_masking_follows_the_episode() -> None:
    """Fever on day 0, tocilizumab on day 1; afebrile hypoxia on days 2-3 is still CRS grade 2.
    After two afebrile days without hypoxia the episode closes, and later afebrile hypoxia is
    not CRS."""
    frame = _crs_frame(
        [38.6, 38.2, 37.0, 37.1, 36.9, 36.8, 37.0],
        ["none", "nasal_cannula", "nasal_cannula", "nasal_cannula", "none", "none",
         "nasal_cannula"],
    )  # fmt: skip
    drug_days = pd.DataFrame(
        {"infusion_id": [1], "study_day": [1], "drug": ["tocilizumab"],
         "drug_class": ["il6_blockade"]}
    )  # fmt: skip
    treated = add_crs_treated(frame, drug_days)
    assert treated["crs_treated"].tolist() == [False, True, True, True, True, True, False]


def test_treatment_before_any_fever_does_not_mask() -> None:
    """Dexamethasone given for something else, no febrile day yet: hypoxia is not CRS."""
    frame = _crs_frame([37.0, 37.0, 37.2], ["nasal_cannula"] * 3)
    drug_days = pd.DataFrame(
        {"infusion_id": [1], "study_day": [0], "drug": ["dexamethasone"],
         "drug_class": ["corticosteroid"]}
    )  # fmt: skip
    assert not add_crs_treated(frame, drug_days)["crs_treated"].any()
