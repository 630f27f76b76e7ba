"""Grades and episodes of the course simulation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pv_monitor.synthetic.course import GRID_DAYS, NEVER, episode_grid, grades_from_uniform


@given(
    any_rate=st.floats(0.05, 0.99),
    g3_fraction=st.floats(0.0, 1.0),
    grade2=st.floats(0.0, 1.0),
    grade4=st.floats(0.0, 0.5),
    grade5=st.floats(0.0, 0.2),
)
def test_grades_hit_the_any_grade_and_grade_3_rates(
    any_rate: float, g3_fraction: float, grade2: float, grade4: float, grade5: float
) -> None:
    u = (np.arange(100_000) + 0.5) / 100_000  # evenly spread uniform latent
    g3 = any_rate * g3_fraction
    grade = grades_from_uniform(u, any_rate, g3, (grade2, grade4, grade5), 5)
    assert abs((grade >= 1).mean() - any_rate) < 1e-4
    assert abs((grade >= 3).mean() - g3) < 1e-4
    assert abs((grade == 5).mean() - g3 * grade5) < 1e-4


def test_grades_above_the_cap_become_the_cap() -> None:
    u = np.array([0.999])
    assert grades_from_uniform(u, 0.5, 0.2, (0.5, 0.2, 0.05), 3).tolist() == [3]


@settings(max_examples=200)
@given(
    onset=st.integers(1, 25),
    duration=st.integers(1, 60),
    peak=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_episodes_are_contiguous_unimodal_and_peak_at_their_grade(
    onset: int, duration: int, peak: int, seed: int
) -> None:
    grid, end = episode_grid(
        np.random.default_rng(seed), np.array([onset]), np.array([duration]), np.array([peak])
    )
    row = grid[0]
    if peak == 0:
        assert not row.any() and end[0] == NEVER
        return
    active = np.flatnonzero(row > 0)
    assert GRID_DAYS[active[0]] == onset
    assert GRID_DAYS[active[-1]] == end[0]
    assert np.all(np.diff(active) == 1), "episode days are contiguous"
    assert row.max() == min(peak, 4)
    rising = np.diff(row[active])
    first_fall = np.argmax(rising < 0) if (rising < 0).any() else rising.size
    assert np.all(rising[:first_fall] >= 0) and np.all(rising[first_fall:] <= 0), "unimodal"
    if peak == 5:
        assert row[active[-1]] == 4, "a fatal course dies at grade 4"
