"""Exact intervals and the comparison with pivotal-trial rates.

Reference numbers are R 4.2.2 Patched (2022-11-10 r83330), pasted with the call that printed
them (R is not needed to run the tests):

    > binom.test(0, 10)$conf.int      # 0.0000000000 0.3084971078
    > binom.test(3, 10)$conf.int      # 0.06673951118 0.65245285006
    > binom.test(10, 10)$conf.int     # 0.6915028922 1.0000000000
    > binom.test(7, 40, conf.level = 0.9)$conf.int   # 0.08513250459 0.30370566700
    > poisson.test(9, 40)$conf.int    # 0.1028843274 0.4271200863
    > poisson.test(0, 12.5)$conf.int  # 0.0000000000 0.2951103563
    > binom.test(3, 10, p = 0.13)$p.value     # 0.1307642091
    > binom.test(30, 108, p = 0.13)$p.value   # 4.001891182e-05
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pv_monitor.reference import load_pivotal_rates
from pv_monitor.signals.incidence import (
    ABOVE,
    ASSESSMENTS,
    BELOW,
    COMPARISON_COLUMNS,
    CONSISTENT,
    N_MISSING,
    N_ZERO,
    NO_REFERENCE,
    clopper_pearson,
    compare_with_reference,
    exact_poisson_rate,
)


@pytest.mark.parametrize(
    ("events", "n", "level", "lower", "upper"),
    [
        (0, 10, 0.95, 0.0, 0.3084971078),
        (3, 10, 0.95, 0.06673951118, 0.65245285006),
        (10, 10, 0.95, 0.6915028922, 1.0),
        (7, 40, 0.90, 0.08513250459, 0.30370566700),
    ],
)
def test_clopper_pearson_equals_r_binom_test(
    events: int, n: int, level: float, lower: float, upper: float
) -> None:
    ci = clopper_pearson(events, n, level)
    assert float(ci.proportion) == pytest.approx(events / n)
    assert float(ci.lower) == pytest.approx(lower, abs=1e-9)
    assert float(ci.upper) == pytest.approx(upper, abs=1e-9)
    assert ci.level == level


def test_clopper_pearson_is_vectorised_and_keeps_missing_missing() -> None:
    ci = clopper_pearson([0, 3, 10, 2, 0], [10, 10, 10, np.nan, 0])
    assert ci.lower.shape == (5,)
    np.testing.assert_allclose(ci.lower[:3], [0.0, 0.06673951118, 0.6915028922], atol=1e-9)
    np.testing.assert_allclose(ci.upper[:3], [0.3084971078, 0.65245285006, 1.0], atol=1e-9)
    # Missing n and n = 0 are not computable: NaN, never 0.
    assert np.isnan(ci.proportion[3:]).all()
    assert np.isnan(ci.lower[3:]).all() and np.isnan(ci.upper[3:]).all()


def test_clopper_pearson_interval_closed_forms() -> None:
    """x = 0: upper = 1 - (alpha/2)^(1/n); x = n: lower = (alpha/2)^(1/n) (beta quantiles)."""
    n = np.arange(1, 50)
    zero = clopper_pearson(0, n)
    full = clopper_pearson(n, n)
    np.testing.assert_allclose(zero.upper, 1 - 0.025 ** (1 / n), rtol=1e-10)
    np.testing.assert_allclose(full.lower, 0.025 ** (1 / n), rtol=1e-10)


@pytest.mark.parametrize(("events", "n"), [(-1, 10), (1.5, 10), (11, 10), (1, 2.5)], ids=str)
def test_clopper_pearson_rejects_impossible_counts(events: float, n: float) -> None:
    with pytest.raises(ValueError, match=r"(events|n) must"):
        clopper_pearson(events, n)


def test_exact_poisson_reproduces_the_worked_example() -> None:
    """pharmacovigilance.md §2.4: 9 events in 40 patient-years -> 0.225, 95 % CI 0.103-0.427."""
    rate = exact_poisson_rate(9, 40)
    assert float(rate.rate) == pytest.approx(0.225)
    assert round(float(rate.lower), 3) == 0.103
    assert round(float(rate.upper), 3) == 0.427
    assert float(rate.lower) == pytest.approx(0.1028843274, abs=1e-9)  # R poisson.test
    assert float(rate.upper) == pytest.approx(0.4271200863, abs=1e-9)


def test_exact_poisson_zero_events_and_missing_time() -> None:
    rate = exact_poisson_rate([0, 3, 3], [12.5, np.nan, 0.0])
    assert rate.lower[0] == 0.0
    assert rate.upper[0] == pytest.approx(0.2951103563, abs=1e-9)  # R poisson.test(0, 12.5)
    assert np.isnan(rate.rate[1:]).all() and np.isnan(rate.upper[1:]).all()
    with pytest.raises(ValueError, match="person_time"):
        exact_poisson_rate(1, -2.0)


def _observed(**columns: object) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_comparison_carries_reference_figure_trial_scale_and_r_p_value() -> None:
    observed = _observed(
        product=["Yescarta"], metric=["crs_grade3plus"], events=[30], n=[108], scale="astct_2019"
    )
    table = compare_with_reference(observed)
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    rates = load_pivotal_rates()
    expected = rates[(rates["product"] == "axi-cel") & (rates["metric"] == "crs_grade3plus")]
    assert len(table) == len(expected) == 2  # ZUMA-1 label and NEJM populations
    assert table["reference_population"].tolist() == expected["population"].tolist()
    row = table.iloc[0]
    assert row["reference_trial"] == "ZUMA-1"
    assert row["reference_value"] == 0.13 and row["reference_n"] == 108
    assert row["reference_scale"] == "lee_2014" and row["observed_scale"] == "astct_2019"
    assert bool(row["scales_differ"]) is True
    assert row["scale_note"] == "scales differ: observed astct_2019, reference lee_2014"
    assert row["reference_evidence"] == "C" and row["reference_source"]
    assert row["p_value"] == pytest.approx(4.001891182e-05, rel=1e-8)  # R binom.test
    ci = clopper_pearson(30, 108)
    assert row["ci_lower"] == pytest.approx(float(ci.lower))
    assert row["ci_lower"] > 0.13
    assert row["assessment"] == ABOVE
    assert row["family"] == "rate vs expected"
    assert row["reference_table"] == "pivotal_trial_rates_v1"


def test_assessment_follows_the_interval_against_the_reference_rate() -> None:
    reference = pd.DataFrame(
        {
            "trial": ["T"] * 3,
            "population": ["p"] * 3,
            "product": ["axi-cel"] * 3,
            "indication": ["LBCL"] * 3,
            "n": [100] * 3,
            "metric": ["crs_any", "crs_grade3plus", "neuro_any"],
            "value": [0.13, 0.13, 0.13],
            "unit": ["proportion"] * 3,
            "scale": ["astct_2019", pd.NA, "ctcae_v4_03"],
        }
    )
    observed = _observed(
        product=["axi-cel"] * 3,
        metric=["crs_any", "crs_grade3plus", "neuro_any"],
        events=[3, 40, 1],
        n=[10, 100, 100],
        scale=["astct_2019", "astct_2019", None],
    )
    table = compare_with_reference(observed, reference)
    assert table["assessment"].tolist() == [CONSISTENT, ABOVE, BELOW]
    assert table.loc[0, "p_value"] == pytest.approx(0.1307642091, rel=1e-8)  # R binom.test
    assert table.loc[0, "scale_note"] == "same scale (astct_2019)"
    assert not bool(table.loc[0, "scales_differ"])
    assert table.loc[1, "scale_note"] == "reference scale not recorded"
    assert table.loc[2, "scale_note"] == "reference graded on ctcae_v4_03; observed scale not given"
    assert table["scales_differ"].isna().tolist() == [False, True, True]
    assert table["reference_table"].unique().tolist() == ["caller-supplied"]
    assert set(table["assessment"]) <= set(ASSESSMENTS)


def test_missing_n_and_missing_reference_say_so_never_zero() -> None:
    observed = _observed(
        product=["Kymriah", "Kymriah", "Breyanzi", "Abecma", "Tecartus"],
        metric=["crs_grade3plus", "crs_grade3plus", "iec_hs", "infection_grade3plus", "crs_any"],
        events=[2, 0, 1, 3, np.nan],
        n=[np.nan, 0, 50, 40, 30],
        indication=["LBCL", "LBCL", None, None, "MCL"],
    )
    table = compare_with_reference(observed)
    kymriah = table[table["product"] == "Kymriah"]
    assert kymriah["reference_trial"].tolist() == ["JULIET", "JULIET"]  # not ELIANA (B-ALL)
    assert kymriah["assessment"].tolist() == [N_MISSING, N_ZERO]
    assert kymriah["proportion"].isna().all() and kymriah["p_value"].isna().all()
    assert kymriah["ci_lower"].isna().all()
    assert kymriah["n"].isna().tolist() == [True, False]
    no_metric = table[table["product"] == "Breyanzi"].iloc[0]
    assert no_metric["assessment"] == NO_REFERENCE
    assert no_metric["reference_note"] == "metric not in the reference table's vocabulary"
    assert pd.isna(no_metric["reference_value"]) and np.isnan(no_metric["p_value"])
    assert no_metric["proportion"] == pytest.approx(0.02)  # the observed part is still shown
    no_figure = table[table["product"] == "Abecma"].iloc[0]
    assert no_figure["assessment"] == NO_REFERENCE
    assert no_figure["reference_note"] == "no reference figure for this product and metric"
    tecartus = table[table["product"] == "Tecartus"]
    assert tecartus["reference_trial"].tolist() == ["ZUMA-2"]  # MCL, not ZUMA-3 (B-ALL)
    assert tecartus["assessment"].tolist() == [N_MISSING]


def test_product_free_reference_rows_match_on_indication() -> None:
    observed = _observed(
        product=["Breyanzi", "Breyanzi"],
        metric=["severe_icaht", "severe_icaht"],
        events=[20, 20],
        n=[80, 80],
        indication=["LBCL", None],
    )
    table = compare_with_reference(observed)
    assert table["reference_trial"].tolist() == ["Rejeski 2023 ICAHT validation", pd.NA]
    assert table.loc[0, "reference_value"] == 0.23
    assert table.loc[1, "assessment"] == NO_REFERENCE


def test_day_metrics_are_not_compared_and_bad_input_is_refused() -> None:
    onset = compare_with_reference(
        _observed(product=["axi-cel"], metric=["crs_onset_day"], events=[1], n=[2])
    )
    assert onset["assessment"].tolist() == [NO_REFERENCE]
    with pytest.raises(ValueError, match="lacks columns"):
        compare_with_reference(_observed(product=["axi-cel"], metric=["crs_any"], events=[1]))
    with pytest.raises(ValueError, match="exceed"):
        compare_with_reference(
            _observed(product=["axi-cel"], metric=["crs_any"], events=[5], n=[4])
        )
