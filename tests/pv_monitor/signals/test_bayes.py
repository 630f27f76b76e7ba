"""The beta-binomial toxicity monitor reproduces pharmacovigilance.md §2.3 and its own checks.

§2.3's worked example: Beta(1, 1), p* = 0.25, c = 0.90, a look after every patient up to
n = 30. Boundary x >= 3 of 4-6, 4 of 7-9, 5 of 10-12, 8 of 19-21, 11 of 29-30, and the
unrestricted rule stops after 1/1. Stopping by n = 30: 12 % at a true rate of 0.10, 32 % at
0.20, 89 % at 0.40. With c = 0.95 and evaluation from n = 5: 1.2 % at 0.10, 76 % at 0.40.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pv_monitor.signals.bayes import (
    BetaBinomialRule,
    monitor_sequence,
    operating_characteristics,
    posterior_probability_exceeds,
    stopping_boundary,
)

EXAMPLE = BetaBinomialRule(a=1, b=1, p_star=0.25, certainty=0.90)
STRICT = BetaBinomialRule(a=1, b=1, p_star=0.25, certainty=0.95, min_evaluable_n=5)


def test_boundary_reproduces_the_worked_example() -> None:
    table = stopping_boundary(EXAMPLE, 30).set_index("n")["min_events_to_stop"]
    expected = dict.fromkeys((4, 5, 6), 3) | dict.fromkeys((7, 8, 9), 4)
    expected |= dict.fromkeys((10, 11, 12), 5) | dict.fromkeys((19, 20, 21), 8)
    expected |= {29: 11, 30: 11}
    assert {n: int(table[n]) for n in expected} == expected
    assert int(table[1]) == 1  # the unrestricted rule stops after 1/1


def test_boundary_is_the_smallest_x_whose_posterior_exceeds_c() -> None:
    """Checked against scipy directly, for two priors."""
    for rule in (EXAMPLE, BetaBinomialRule(a=0.5, b=2.5, p_star=0.3, certainty=0.8)):
        table = stopping_boundary(rule, 40)
        assert table["min_events_to_stop"].notna().sum() > 30
        for n, x in zip(table["n"], table["min_events_to_stop"], strict=True):
            if x is pd.NA:  # not even n of n crosses
                assert stats.beta.sf(rule.p_star, rule.a + n, rule.b) <= rule.certainty, n
                continue
            above = stats.beta.sf(rule.p_star, rule.a + x, rule.b + n - x)
            below = stats.beta.sf(rule.p_star, rule.a + x - 1, rule.b + n - x + 1)
            assert above > rule.certainty, n
            assert x == 0 or below <= rule.certainty, n


def test_boundary_is_blank_before_the_minimum_n_and_between_looks() -> None:
    table = stopping_boundary(STRICT, 8)
    assert table["evaluated"].tolist() == [False] * 4 + [True] * 4
    assert table["min_events_to_stop"].isna().tolist() == [True] * 4 + [False] * 4
    cohorts = BetaBinomialRule(p_star=0.25, certainty=0.9, min_evaluable_n=4, looks=(3, 6, 9))
    table = stopping_boundary(cohorts, 9)
    assert table.loc[table["evaluated"], "n"].tolist() == [6, 9]
    assert table["min_events_to_stop"].notna().sum() == 2


def test_operating_characteristics_reproduce_the_worked_example() -> None:
    oc = operating_characteristics(EXAMPLE, 30, [0.10, 0.20, 0.40])
    assert oc["probability_stop"].round(2).tolist() == [0.12, 0.32, 0.89]
    strict = operating_characteristics(STRICT, 30, [0.10, 0.40])
    false_stop, power = strict["probability_stop"].to_numpy(float)
    assert round(false_stop, 3) == 0.012
    assert round(power, 2) == 0.76
    assert (oc["n_max"] == 30).all()


def _enumerated(rule: BetaBinomialRule, n_max: int, rate: float) -> tuple[float, float]:
    """P(stop by n_max) and E[n evaluated] by summing over every outcome sequence."""
    stop = expected = 0.0
    for sequence in itertools.product((0, 1), repeat=n_max):
        probability = math.prod(rate if y else 1 - rate for y in sequence)
        x, stopped_at = 0, n_max
        for n, y in enumerate(sequence, start=1):
            x += y
            if rule.evaluated(n) and posterior_probability_exceeds(rule, x, n) > rule.certainty:
                stopped_at = n
                stop += probability
                break
        expected += probability * stopped_at
    return stop, expected


@pytest.mark.parametrize("rule", [EXAMPLE, STRICT], ids=["c90", "c95-from5"])
def test_exact_recursion_equals_full_enumeration(rule: BetaBinomialRule) -> None:
    oc = operating_characteristics(rule, 10, [0.15, 0.4])
    for i, rate in enumerate((0.15, 0.4)):
        stop, expected = _enumerated(rule, 10, rate)
        assert oc.loc[i, "probability_stop"] == pytest.approx(stop, abs=1e-12)
        assert oc.loc[i, "expected_n"] == pytest.approx(expected, abs=1e-10)


def test_exact_operating_characteristics_agree_with_simulation() -> None:
    rng = np.random.default_rng(2024)
    trials, n_max = 20_000, 30
    rates = [0.10, 0.20, 0.40]
    oc = operating_characteristics(STRICT, n_max, rates)
    n = np.arange(1, n_max + 1)
    for i, rate in enumerate(rates):
        outcomes = rng.random((trials, n_max)) < rate
        x = np.cumsum(outcomes, axis=1)
        crossed = (stats.beta.sf(0.25, 1 + x, 1 + n - x) > 0.95) & (n >= 5)
        stopped = crossed.any(axis=1)
        stopped_at = np.where(stopped, crossed.argmax(axis=1) + 1, n_max)
        exact = float(oc["probability_stop"].iloc[i])
        se = math.sqrt(exact * (1 - exact) / trials)
        assert abs(stopped.mean() - exact) < 4 * se, rate
        se_n = stopped_at.std(ddof=1) / math.sqrt(trials)
        assert abs(stopped_at.mean() - float(oc["expected_n"].iloc[i])) < 4 * se_n, rate


def test_monitor_shows_posteriors_per_look() -> None:
    rule = BetaBinomialRule(p_star=0.25, certainty=0.90, min_evaluable_n=4)
    outcomes = [0, 1, 0, 1, 1, 0, 0, 0]
    table = monitor_sequence(rule, outcomes)
    assert table["n"].tolist() == [4, 5, 6, 7, 8]
    assert table["events"].tolist() == [2, 3, 3, 3, 3]
    expected = [stats.beta.sf(0.25, 1 + x, 1 + n - x) for n, x in ((4, 2), (5, 3), (6, 3),
                                                                   (7, 3), (8, 3))]  # fmt: skip
    np.testing.assert_allclose(table["posterior_probability"], expected, rtol=1e-12)
    assert table["crossed"].tolist() == [False, True, True, False, False]
    assert table["min_events_to_stop"].tolist() == [3, 3, 3, 4, 4]


def test_monitor_respects_cohort_looks() -> None:
    rule = BetaBinomialRule(p_star=0.25, certainty=0.90, looks=(3, 6, 9))
    table = monitor_sequence(rule, [1, 1, 0, 0, 0, 0, 1])
    assert table["n"].tolist() == [3, 6]  # 9 not reached yet
    assert table["crossed"].tolist() == [True, False]


def test_posterior_is_vectorised_and_has_the_closed_form() -> None:
    # Beta(1 + x, 1 + n - x) with x = n: P(p > p*) = 1 - p*^(n + 1).
    n = np.arange(0, 12)
    np.testing.assert_allclose(
        posterior_probability_exceeds(EXAMPLE, n, n), 1 - 0.25 ** (n + 1), rtol=1e-12
    )
    # x = 0: P(p > p*) = (1 - p*)^(n + 1).
    np.testing.assert_allclose(
        posterior_probability_exceeds(EXAMPLE, 0, n), 0.75 ** (n + 1), rtol=1e-12
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"p_star": 0.0, "certainty": 0.9},
        {"p_star": 0.2, "certainty": 1.0},
        {"p_star": 0.2, "certainty": 0.9, "a": 0.0},
        {"p_star": 0.2, "certainty": 0.9, "min_evaluable_n": 0},
        {"p_star": 0.2, "certainty": 0.9, "looks": (6, 3)},
    ],
    ids=str,
)
def test_bad_rules_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BetaBinomialRule(**settings)  # type: ignore[arg-type]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="exceed"):
        posterior_probability_exceeds(EXAMPLE, 3, 2)
    with pytest.raises(ValueError, match="0 or 1"):
        monitor_sequence(EXAMPLE, [0, 1, float("nan")])
    with pytest.raises(ValueError, match="true rates"):
        operating_characteristics(EXAMPLE, 10, [1.5])
