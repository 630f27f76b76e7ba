"""The chain from days to grades: when CRS counts as resolving for the IEC-HS screen."""

from __future__ import annotations

import pandas as pd

from pv_monitor.grading.assess import _resolving_from
from pv_monitor.grading.episodes import fold_episodes


def test_resolving_from_each_episode_s_own_peak() -> None:
    """Two CRS episodes: grade 2 on days 2-3 (peak 2), then grade 3 on day 20 and grade 2 on
    day 21. Day 21's grade 2 belongs to the second episode and must not move the first
    episode's resolving day."""
    grades = [0, 1, 2, 2, 0, 0] + [0] * 14 + [3, 2, 0, 0]
    daily = pd.DataFrame(
        {
            "infusion_id": 1,
            "subject_id": 1,
            "study_day": range(len(grades)),
            "crs_grade": pd.array(grades, dtype="Int64"),
        }
    )
    episodes = fold_episodes(daily.rename(columns={"crs_grade": "grade"}), "crs", "v")
    resolving = _resolving_from(daily, episodes)
    assert sorted(resolving["resolving_from"].tolist()) == [4, 21]
