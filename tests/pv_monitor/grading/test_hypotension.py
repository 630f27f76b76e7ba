"""Hypotension thresholds at, below and above each boundary (clinical.md §1.1)."""

from __future__ import annotations

import numpy as np
import pytest

from pv_monitor.grading import sbp_threshold_mmhg


@pytest.mark.parametrize(
    ("age", "threshold"),
    [
        (0.5, 90),  # under 1: not covered by the paediatric formula
        (1, 72),
        (5, 80),
        (5.9, 80),  # completed years count
        (10, 90),
        (10.5, 90),  # over 10: adult threshold
        (11, 90),
        (70, 90),
    ],
)
def test_threshold_by_age(age: float, threshold: int) -> None:
    assert sbp_threshold_mmhg(np.array([age]))[0] == threshold
