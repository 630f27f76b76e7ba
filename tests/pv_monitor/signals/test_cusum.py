"""Bernoulli and risk-adjusted CUSUM: chart values, restarts, and h chosen by simulation.

The simulation checks use a plain time-stepping simulator written here, independent of the
module's record-high machinery, and exact results where they exist (an h that any single event
crosses alarms at the first event, so its ARL is 1/p0).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from pv_monitor.signals.cusum import (
    RESET,
    CusumThreshold,
    bernoulli_cusum,
    cusum_operating_characteristics,
    odds_ratio_of,
    risk_adjusted_cusum,
    risk_adjusted_operating_characteristics,
    risk_adjusted_threshold_for_arl0,
    threshold_for_arl0,
)

FloatArray = npt.NDArray[np.float64]


def _loop_cusum(weights: FloatArray, h: float) -> tuple[list[float], list[int]]:
    """The recursion as written in pharmacovigilance.md §2.2, one patient at a time."""
    s, values, alarms = 0.0, [], []
    for t, w in enumerate(weights):
        s = max(0.0, s + w)
        values.append(s)
        if s >= h:
            alarms.append(t)
            s = 0.0
    return values, alarms


def _simulated_arl(
    h: float,
    risks: FloatArray,
    odds_ratio: float,
    n_runs: int,
    seed: int,
    bernoulli: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Mean run length by stepping all runs one patient at a time (in control)."""
    rng = np.random.default_rng(seed)
    s = np.zeros(n_runs)
    length = np.zeros(n_runs, dtype=np.int64)
    running = np.ones(n_runs, dtype=bool)
    t = 0
    while running.any():
        t += 1
        p = risks[rng.integers(risks.size, size=n_runs)]
        y = rng.random(n_runs) < p
        if bernoulli is not None:
            p0, p1 = bernoulli
            w = np.where(y, math.log(p1 / p0), math.log((1 - p1) / (1 - p0)))
        else:
            w = y * math.log(odds_ratio) - np.log(1 - p + odds_ratio * p)
        s = np.where(running, np.maximum(0.0, s + w), s)
        alarm = running & (s >= h)
        length[alarm] = t
        running &= ~alarm
    return float(length.mean()), float(length.std(ddof=1) / math.sqrt(n_runs))


def test_bernoulli_chart_on_a_hand_computed_sequence() -> None:
    # p0 = 0.1, p1 = 0.2: an event adds ln 2, a non-event ln(8/9); h = 1.5.
    chart = bernoulli_cusum([0, 1, 0, 1, 1, 0, 0, 1], p0=0.1, p1=0.2, h=1.5)
    expected = [
        0.0,  # max(0, ln 8/9)
        math.log(2),  # 0.693147
        math.log(16 / 9),  # 0.575364
        math.log(32 / 9),  # 1.268511
        math.log(64 / 9),  # 1.961659 >= 1.5: alarm, restart
        0.0,
        0.0,
        math.log(2),
    ]
    np.testing.assert_allclose(chart.values, expected, atol=1e-12)
    np.testing.assert_allclose(chart.values[:5], [0, 0.693147, 0.575364, 1.268511, 1.961659],
                               atol=1e-6)  # fmt: skip
    assert chart.alarms.tolist() == [4]
    assert chart.weights[:2].tolist() == pytest.approx([math.log(8 / 9), math.log(2)])
    assert chart.odds_ratio == pytest.approx(2.25)
    frame = chart.to_frame()
    assert frame["patient"].tolist() == list(range(1, 9))
    assert frame["alarm"].tolist() == [False] * 4 + [True] + [False] * 3
    assert chart.reset == RESET == "restarts at 0 after each alarm"


def test_chart_equals_the_one_patient_at_a_time_recursion_with_many_alarms() -> None:
    rng = np.random.default_rng(7)
    outcomes = (rng.random(5000) < 0.3).astype(int)  # far above p0: many alarms and restarts
    chart = bernoulli_cusum(outcomes, p0=0.1, p1=0.2, h=2.0)
    values, alarms = _loop_cusum(chart.weights, 2.0)
    assert len(alarms) > 50
    assert chart.alarms.tolist() == alarms
    np.testing.assert_allclose(chart.values, values, atol=1e-9)

    risks = rng.uniform(0.02, 0.6, 3000)
    outcomes = (rng.random(3000) < risks * 1.5).astype(int)
    ra = risk_adjusted_cusum(outcomes, risks, odds_ratio=2.0, h=3.0)
    values, alarms = _loop_cusum(ra.weights, 3.0)
    assert len(alarms) > 5
    assert ra.alarms.tolist() == alarms
    np.testing.assert_allclose(ra.values, values, atol=1e-9)


def test_risk_adjusted_weights_are_steiners() -> None:
    chart = risk_adjusted_cusum([1, 0, 1, 0], [0.05, 0.3, 0.5, 0.9], odds_ratio=2.0, h=5.0)
    expected = [
        math.log(2) - math.log(1.05),
        -math.log(1.3),
        math.log(2) - math.log(1.5),
        -math.log(1.9),
    ]
    np.testing.assert_allclose(chart.weights, expected, rtol=1e-12)
    np.testing.assert_allclose(chart.values, [0.644357, 0.381993, 0.669675, 0.027821], atol=1e-6)
    assert chart.alarms.size == 0


def test_risk_adjusted_equals_bernoulli_when_every_risk_is_p0() -> None:
    rng = np.random.default_rng(11)
    outcomes = (rng.random(2000) < 0.2).astype(int)
    p0, p1 = 0.13, 0.26
    bernoulli = bernoulli_cusum(outcomes, p0, p1, h=2.5)
    adjusted = risk_adjusted_cusum(outcomes, np.full(2000, p0), odds_ratio_of(p0, p1), h=2.5)
    np.testing.assert_allclose(adjusted.weights, bernoulli.weights, atol=1e-12)
    np.testing.assert_allclose(adjusted.values, bernoulli.values, atol=1e-9)
    assert adjusted.alarms.tolist() == bernoulli.alarms.tolist()
    assert bernoulli.alarms.size > 0


def test_threshold_reaches_target_arl0_in_an_independent_simulation() -> None:
    p0, p1, target = 0.1, 0.2, 200.0
    threshold = threshold_for_arl0(p0, p1, target, n_simulations=4000, seed=1)
    assert threshold.simulated_arl0 >= target
    assert threshold.simulated_arl0 - target < 3 * threshold.simulated_arl0_se
    arl, se = _simulated_arl(threshold.h, np.array([p0]), 1.0, 4000, seed=12345,
                             bernoulli=(p0, p1))  # fmt: skip
    combined = math.hypot(se, threshold.simulated_arl0_se)
    assert abs(arl - target) < 4 * combined
    # The next lower step of h gives a clearly shorter ARL0: h is not just "large enough".
    lower = _simulated_arl(threshold.h * 0.8, np.array([p0]), 1.0, 4000, seed=12345,
                           bernoulli=(p0, p1))[0]  # fmt: skip
    assert lower < target - 4 * combined
    oc = cusum_operating_characteristics(p0, p1, threshold, n_simulations=4000, seed=99)
    oc_arl, oc_se = oc["arl"].to_numpy(float), oc["arl_se"].to_numpy(float)
    assert abs(oc_arl[0] - target) < 4 * math.hypot(oc_se[0], threshold.simulated_arl0_se)
    assert oc_arl[1] < oc_arl[0] / 3
    assert oc["censored"].tolist() == [0, 0]


def test_threshold_is_reproducible_and_grows_with_arl0() -> None:
    a = threshold_for_arl0(0.1, 0.3, 100, n_simulations=1000, seed=5)
    b = threshold_for_arl0(0.1, 0.3, 100, n_simulations=1000, seed=5)
    c = threshold_for_arl0(0.1, 0.3, 400, n_simulations=1000, seed=5)
    assert a == b
    assert c.h > a.h
    assert (a.p0, a.p1, a.target_arl0, a.n_simulations, a.seed) == (0.1, 0.3, 100.0, 1000, 5)


def test_an_h_any_event_crosses_has_arl_one_over_p0() -> None:
    """With h = ln(p1/p0) the first event alarms: run lengths are geometric, mean 1/p0."""
    p0, p1 = 0.05, 0.15
    oc = cusum_operating_characteristics(
        p0, p1, math.log(p1 / p0), true_rates=[p0], n_simulations=4000, seed=3
    )
    arl, se = float(oc["arl"].iloc[0]), float(oc["arl_se"].iloc[0])
    assert abs(arl - 1 / p0) < 4 * se
    # No h alarms sooner than at the first event, so a target ARL0 below 1/p0 is refused.
    with pytest.raises(ValueError, match="smallest possible h"):
        threshold_for_arl0(p0, p1, 15, n_simulations=2000, seed=4)


def test_risk_adjusted_threshold_against_an_independent_simulation() -> None:
    risks = np.array([0.02, 0.05, 0.1, 0.2, 0.4])
    threshold = risk_adjusted_threshold_for_arl0(risks, 2.0, 150, n_simulations=3000, seed=8)
    assert threshold.method == "risk_adjusted" and threshold.n_risks == 5
    arl, se = _simulated_arl(threshold.h, risks, 2.0, 3000, seed=4321)
    assert abs(arl - 150) < 4 * math.hypot(se, threshold.simulated_arl0_se)
    oc = risk_adjusted_operating_characteristics(
        risks, 2.0, threshold, true_odds_ratios=[1.0, 3.0], n_simulations=2000, seed=9
    )
    assert float(oc["true_rate"].iloc[0]) == pytest.approx(risks.mean())
    oc_arl = oc["arl"].to_numpy(float)
    assert oc_arl[1] < oc_arl[0] / 3
    chart = risk_adjusted_cusum([0, 1], [0.1, 0.2], 2.0, threshold)
    assert chart.target_arl0 == 150 and chart.simulated_arl0 == threshold.simulated_arl0


def test_chart_records_its_threshold_settings() -> None:
    threshold = threshold_for_arl0(0.1, 0.2, 50, n_simulations=500, seed=2)
    chart = bernoulli_cusum([0, 1, 1, 1], 0.1, 0.2, threshold)
    settings = chart.settings()
    assert settings["h"] == threshold.h
    assert settings["target_arl0"] == 50.0
    assert settings["simulated_arl0"] == threshold.simulated_arl0
    assert settings["simulated_arl0_se"] == threshold.simulated_arl0_se
    assert (settings["p0"], settings["p1"], settings["family"]) == (0.1, 0.2, "sequential")
    with pytest.raises(ValueError, match="threshold was chosen"):
        bernoulli_cusum([0, 1], 0.1, 0.3, threshold)
    plain = bernoulli_cusum([0, 1], 0.1, 0.2, 3.0)
    assert plain.target_arl0 is None and plain.simulated_arl0 is None


def test_operating_characteristics_report_censoring_as_a_lower_bound() -> None:
    oc = cusum_operating_characteristics(
        0.1, 0.2, 4.0, true_rates=[0.01], n_simulations=200, seed=1, max_run_length=300
    )
    assert int(oc["censored"].iloc[0]) > 0
    assert float(oc["arl"].iloc[0]) <= 300


def test_charts_freeze_their_arrays_but_not_the_callers() -> None:
    risks = np.array([0.1, 0.2])
    chart = risk_adjusted_cusum([0, 1], risks, 2.0, 1.0)
    with pytest.raises(ValueError, match="read-only"):
        chart.values[0] = 1.0
    risks[0] = 0.3  # still writable
    assert chart.risks[0] == 0.1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bernoulli_cusum([0, 2], 0.1, 0.2, 1.0), "0 or 1"),
        (lambda: bernoulli_cusum([0, float("nan")], 0.1, 0.2, 1.0), "0 or 1"),
        (lambda: bernoulli_cusum([0, 1], 0.1, 0.1, 1.0), "differ"),
        (lambda: bernoulli_cusum([0, 1], 0.0, 0.1, 1.0), "p0"),
        (lambda: bernoulli_cusum([0, 1], 0.1, 0.2, 0.0), "h must"),
        (lambda: risk_adjusted_cusum([0, 1], [0.1], 2.0, 1.0), "2 outcomes but 1 risks"),
        (lambda: risk_adjusted_cusum([0, 1], [0.1, 1.0], 2.0, 1.0), "risks"),
        (lambda: risk_adjusted_cusum([0, 1], [0.1, 0.2], 1.0, 1.0), "odds_ratio"),
        (lambda: threshold_for_arl0(0.1, 0.2, 1.0, seed=1), "arl0"),
    ],
)
def test_bad_settings_are_refused(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call()


def test_threshold_type_is_frozen() -> None:
    threshold = CusumThreshold("bernoulli", 1.0, 10.0, 10.0, 1.0, 10, 1, 2.0, 0.1, 0.2)
    with pytest.raises(AttributeError):
        threshold.h = 2.0  # type: ignore[misc]
