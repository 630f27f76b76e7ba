"""PRR, chi-square, ROR, IC and the rule flags on hand-computed 2x2 tables, zero cells, the
counts table, and openEBGM's stratified expected counts.

Every expected value is worked out in the comments. The same numbers were also computed with
R 4.2.2 (``chisq.test(matrix(c(a, c, b, d), 2), correct = TRUE)``, ``qnorm``, ``qgamma``).
R prints ``Inf`` where these functions say "not computable".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pv_monitor.signals.disproportionality import (
    COUNT_COLUMNS,
    RESULT_COLUMNS,
    Thresholds,
    disproportionality,
    report_counts,
)
from pv_monitor.signals.gps import GpsPrior

PRIOR = GpsPrior(3.256, 0.400, 2.024, 1.906, 0.0653)  # openEBGM's CAERS estimate, rounded
DEFAULT = Thresholds()
NUMERIC = ["prr", "chi2", "ror", "ror_lower", "ror_upper", "ic", "ic025", "ic975", "ebgm"]


def table(*cells: tuple[int, int, int, int]) -> pd.DataFrame:
    """A counts table with one pair per 2x2 table (a, b, c, d), each in its own database.

    Margins: product_reports = a + b, event_reports = a + c, total_reports = a + b + c + d.
    """
    rows = [
        (f"P{i}", f"E{i}", a, a + b, a + c, a + b + c + d) for i, (a, b, c, d) in enumerate(cells)
    ]
    return pd.DataFrame(rows, columns=list(COUNT_COLUMNS))


def one(
    a: int,
    b: int,
    c: int,
    d: int,
    thresholds: Thresholds = DEFAULT,
    continuity_correction: float = 0.0,
) -> pd.Series:
    """The result row of a single 2x2 table."""
    result = disproportionality(
        table((a, b, c, d)), thresholds, PRIOR, continuity_correction=continuity_correction
    )
    return result.iloc[0]


def test_a_full_table_by_hand() -> None:
    row = one(20, 80, 100, 9800)
    # N = 20 + 80 + 100 + 9800 = 10000; E = (a + b)(a + c) / N = 100 * 120 / 10000 = 1.2
    assert row["expected"] == pytest.approx(1.2)
    assert row[["a", "b", "c", "d"]].tolist() == [20, 80, 100, 9800]
    # PRR = (20 / 100) / (100 / 9900) = 0.2 / 0.0101010... = 19.8
    assert row["prr"] == pytest.approx(19.8)
    # Yates: N (|ad - bc| - N/2)^2 / [(a+b)(c+d)(a+c)(b+d)]
    #      = 10000 (|196000 - 8000| - 5000)^2 / (100 * 9900 * 120 * 9880)
    #      = 10000 * 183000^2 / 1.173744e12 = 285.3177524 (R: 285.3177524)
    assert row["chi2"] == pytest.approx(10000 * 183000**2 / (100 * 9900 * 120 * 9880))
    assert row["chi2"] == pytest.approx(285.3177524, rel=1e-9)
    # ROR = ad / bc = 196000 / 8000 = 24.5
    # SE(ln ROR) = sqrt(1/20 + 1/80 + 1/100 + 1/9800) = sqrt(0.0726020408) = 0.2694476
    # 95 % CI = exp(ln 24.5 -/+ 1.959964 * 0.2694476) = 14.44813601 to 41.54515153 (R)
    assert row["ror"] == pytest.approx(24.5)
    assert row["ror_lower"] == pytest.approx(14.44813601, rel=1e-9)
    assert row["ror_upper"] == pytest.approx(41.54515153, rel=1e-9)
    # IC = log2((20 + 0.5) / (1.2 + 0.5)) = log2(12.0588235) = 3.592017258
    # IC025 = log2(qgamma(0.025, 20.5, rate 1.7)) = 2.890648032 (R); IC975 = 4.154772174
    assert row["ic"] == pytest.approx(math.log2(20.5 / 1.7))
    assert row["ic025"] == pytest.approx(2.890648032, rel=1e-9)
    assert row["ic975"] == pytest.approx(4.154772174, rel=1e-9)
    assert row[["prr_note", "chi2_note", "ror_note", "eb_note"]].isna().all()
    assert row[["evans_signal", "ror_signal", "ic_signal"]].tolist() == [True, True, True]


def test_yates_correction_never_overshoots() -> None:
    """|ad - bc| = |1 * 2 - 1 * 1| = 1 < N/2 = 2.5: the corrected difference is 0, as in R's
    chisq.test (min(0.5, |O - E|) per cell). Uncorrected overshoot would give
    5 * (1 - 2.5)^2 / (2 * 3 * 2 * 3) = 0.3125."""
    assert one(1, 1, 1, 2)["chi2"] == 0.0
    # a = 5, b = 3, c = 2, d = 0: |0 - 6| = 6 > N/2 = 5; 10 * 1^2 / (8 * 2 * 7 * 3) = 10 / 336
    assert one(5, 3, 2, 0)["chi2"] == pytest.approx(10 / 336)


@pytest.mark.parametrize(
    ("cells", "prr", "prr_note", "ror", "ror_note"),
    [
        # a = 0: PRR = (0 / 50) / (30 / 950) = 0; ROR = 0 * 920 / (50 * 30) = 0, but
        # ln 0 has no interval
        ((0, 50, 30, 920), 0.0, None, 0.0, "interval not computable: a = 0"),
        # b = 0: PRR = (5 / 5) / (20 / 995) = 49.75; ROR = 5 * 975 / (0 * 20): division by 0
        ((5, 0, 20, 975), 49.75, None, None, "not computable: b = 0"),
        # c = 0: PRR = (5 / 25) / (0 / 975): division by 0; ROR = 5 * 975 / (20 * 0) too
        ((5, 20, 0, 975), None, "not computable: c = 0", None, "not computable: c = 0"),
        # d = 0: PRR = (5 / 8) / (2 / 2) = 0.625; ROR = 5 * 0 / (3 * 2) = 0, no interval
        ((5, 3, 2, 0), 0.625, None, 0.0, "interval not computable: d = 0"),
        # b = 0 and c = 0: every report with the product has the event and vice versa
        ((5, 0, 0, 10), None, "not computable: c = 0", None, "not computable: b = 0 and c = 0"),
        # a + b = 0: no report names the product
        ((0, 0, 10, 90), None, "not computable: a + b = 0", None, "not computable: b = 0"),
    ],
)
def test_zero_cells_are_not_computable_never_infinite(
    cells: tuple[int, int, int, int],
    prr: float | None,
    prr_note: str | None,
    ror: float | None,
    ror_note: str | None,
) -> None:
    row = one(*cells)

    if prr is None:
        assert math.isnan(row["prr"])
    else:
        assert row["prr"] == pytest.approx(prr)
    assert row["prr_note"] == prr_note
    if ror is None:
        assert math.isnan(row["ror"])
        assert math.isnan(row["ror_lower"]) and math.isnan(row["ror_upper"])
    else:
        assert row["ror"] == pytest.approx(ror)
    assert row["ror_note"] == ror_note
    assert not np.isinf(row[NUMERIC].to_numpy(dtype=float)).any()
    if prr is None:  # a rule on a statistic that is not computable never fires
        assert not row["evans_signal"]
    if ror is None:
        assert not row["ror_signal"]


def test_chi_square_needs_every_margin() -> None:
    row = one(0, 0, 10, 90)  # a + b = 0
    assert math.isnan(row["chi2"])
    assert row["chi2_note"] == "not computable: a + b = 0"
    row = one(5, 20, 0, 975)  # margins 25, 975, 5, 995: computable, R 157.8404845
    assert row["chi2"] == pytest.approx(157.8404845, rel=1e-9)


def test_ic_is_computable_with_a_zero_count() -> None:
    """a = 0: E = 50 * 30 / 1000 = 1.5, IC = log2(0.5 / 2.0) = -2 (shrinkage, no division by 0);
    IC975 = log2(qgamma(0.975, 0.5, rate 2)) = 0.3288037813 (R)."""
    row = one(0, 50, 30, 920)
    assert row["ic"] == pytest.approx(-2.0)
    assert row["ic975"] == pytest.approx(0.3288037813, rel=1e-9)
    assert not row["ic_signal"]


def test_continuity_correction_is_applied_only_when_asked() -> None:
    """c = 0 with +0.5 in every cell: PRR = (5.5 / 26) / (0.5 / 976) = 412.9230769...,
    ROR = 5.5 * 975.5 / (20.5 * 0.5) = 523.4390244."""
    row = one(5, 20, 0, 975, continuity_correction=0.5)
    assert row["prr"] == pytest.approx((5.5 / 26) / (0.5 / 976))
    assert row["ror"] == pytest.approx(5.5 * 975.5 / (20.5 * 0.5))
    assert row["prr_note"] == "corrected: +0.5 in every cell (c = 0)"
    # the 2x2 cells reported stay the observed ones; chi2 and IC are never corrected
    assert row[["a", "b", "c", "d"]].tolist() == [5, 20, 0, 975]
    assert row["chi2"] == pytest.approx(157.8404845, rel=1e-9)
    # two zero cells: PRR = (0.5 / 1) / (10.5 / 101) = 4.8095238; ROR = 0.5 * 90.5 / (0.5 * 10.5)
    both = one(0, 0, 10, 90, continuity_correction=0.5)
    assert both["prr"] == pytest.approx((0.5 / 1) / (10.5 / 101))
    assert both["ror"] == pytest.approx(0.5 * 90.5 / (0.5 * 10.5))
    assert both["ror_note"] == "corrected: +0.5 in every cell (a = 0, b = 0)"
    full = one(20, 80, 100, 9800, continuity_correction=0.5)  # no zero cell: untouched
    assert full["prr"] == pytest.approx(19.8)
    assert full["prr_note"] is None


def test_rules_follow_their_thresholds() -> None:
    """(3, 40, 20, 937): PRR = (3/43) / (20/957) = 3.338372093, chi2 = 2.469028685 < 4 (R),
    ROR lower = 1.002615718 > 1 (R), IC025 = -0.8174321877 < 0 (R)."""
    row = one(3, 40, 20, 937)
    assert row["prr"] == pytest.approx(3.338372093, rel=1e-9)
    assert row["chi2"] == pytest.approx(2.469028685, rel=1e-9)
    assert row["ror_lower"] == pytest.approx(1.002615718, rel=1e-9)
    assert row["ic025"] == pytest.approx(-0.8174321877, rel=1e-9)
    assert row[["evans_signal", "ror_signal", "ic_signal"]].tolist() == [False, True, False]
    # with a looser chi-square the Evans rule fires; with a = 3 required it still does
    loose = one(3, 40, 20, 937, thresholds=Thresholds(name="loose", chi2_min=2.0))
    assert loose["evans_signal"]
    assert loose["thresholds"].startswith("loose: Evans PRR >= 2, chi2 >= 2, a >= 3")
    strict = one(3, 40, 20, 937, thresholds=Thresholds(chi2_min=2.0, evans_min_reports=4))
    assert not strict["evans_signal"]


def test_prr_threshold_is_inclusive() -> None:
    """(3, 1, 3, 5): PRR = (3/4) / (3/8) = 2 exactly; chi2 = 12 (12 - 6)^2 / (4 * 8 * 6 * 6)
    = 0.375."""
    row = one(3, 1, 3, 5, thresholds=Thresholds(chi2_min=0.375))
    assert row["prr"] == 2.0
    assert row["chi2"] == pytest.approx(0.375)
    assert row["evans_signal"]
    assert not one(3, 1, 3, 5, thresholds=Thresholds(chi2_min=0.375, prr_min=2.0001))[
        "evans_signal"
    ]


def two_pairs() -> pd.DataFrame:
    """One database of 10,000 reports: P has 100, Q 50; the event 120.
    P: a = 20, E = 100 * 120 / 10000 = 1.2; Q: a = 1, E = 50 * 120 / 10000 = 0.6."""
    return pd.DataFrame(
        [("P", "E", 20, 100, 120, 10_000), ("Q", "E", 1, 50, 120, 10_000)],
        columns=list(COUNT_COLUMNS),
    )


def test_eb05_rule_and_the_recorded_prior() -> None:
    result = disproportionality(two_pairs(), prior=PRIOR)
    assert result["eb05_signal"].tolist() == (result["eb05"] >= 2).tolist()
    assert result.loc[0, "eb05_signal"]  # a = 20 against E = 1.2
    eb05 = result["eb05"].tolist()
    assert eb05[0] > 2 > eb05[1]
    assert not result.loc[1, "eb05_signal"]
    assert result.attrs["gps_prior"]["alpha1"] == 3.256
    assert result.attrs["thresholds"] == {
        "name": "default",
        "prr_min": 2.0,
        "chi2_min": 4.0,
        "evans_min_reports": 3,
        "ror_lower_above": 1.0,
        "ror_min_reports": 3,
        "ic025_above": 0.0,
        "eb05_min": 2.0,
    }
    assert "no continuity correction" in result.attrs["zero_cell_handling"]
    assert list(result.columns) == list(RESULT_COLUMNS)


def test_an_unfitted_prior_makes_eb_scores_not_computable() -> None:
    """Two pairs cannot pin down five hyperparameters: the fit is not confirmed, and the EB
    columns say so instead of showing numbers from an unreliable prior."""
    result = disproportionality(two_pairs())
    assert result["ebgm"].isna().all()
    assert result["eb_note"].str.startswith("not computable: GPS prior not usable").all()
    assert not result["eb05_signal"].any()
    assert result.attrs["gps_prior"]["converged"] is False


def test_report_counts_counts_unique_reports() -> None:
    """Report 1 names X twice and rash twice: one report for (X, rash), for X and for rash."""
    rows = pd.DataFrame(
        {
            "id": [1, 1, 1, 1, 2, 3],
            "product": ["X", "X", "X", "Y", "X", "Y"],
            "event": ["rash", "rash", "rash", "rash", "fever", "fever"],
        }
    )
    got = report_counts(rows)
    expected = pd.DataFrame(
        [("X", "fever", 1, 2, 2, 3), ("X", "rash", 1, 2, 1, 3), ("Y", "fever", 1, 2, 2, 3),
         ("Y", "rash", 1, 2, 1, 3)],
        columns=list(COUNT_COLUMNS),
    )  # fmt: skip
    pd.testing.assert_frame_equal(got, expected)


def test_openebgm_stratified_expected_counts() -> None:
    """openEBGM's raw-data vignette (v0.9.1, x2): 17 reports with two stratification variables
    (4 strata). It prints unstratified E 7.0588235, 2.9411765, 4.2352941, 1.7647059,
    0.7058824; stratified E 6.7, 3.3, 4.3, 1.7, 1.0; PRR 0.98, 1.05, 0.92, 1.22, 1.45."""
    var1 = list("ABBBAAAAABBAABAAC")  # report 1 names product_A and event_2, ...
    var2 = list("21121111111122211")
    strat1 = list("MMFFFFMFFMMMMMFMM")
    strat2 = list("12221112221211122")
    rows = pd.DataFrame(
        {
            "id": range(1, 18),
            "var1": [f"product_{v}" for v in var1],
            "var2": [f"event_{v}" for v in var2],
            "stratum": [f"{s}|age_cat{t}" for s, t in zip(strat1, strat2, strict=True)],
        }
    )
    crude = disproportionality(report_counts(rows, product="var1", event="var2"), prior=PRIOR)
    stratified = disproportionality(
        report_counts(rows, product="var1", event="var2", stratum="stratum"), prior=PRIOR
    )

    assert crude["expected"].round(7).tolist() == [
        7.0588235,
        2.9411765,
        4.2352941,
        1.7647059,
        0.7058824,
    ]
    # product_A/event_1: strata F|1 3*2/3 + F|2 2*3/4 + M|1 3*2/5 + M|2 2*5/5 = 2+1.5+1.2+2 = 6.7
    assert stratified["gps_expected"].tolist() == pytest.approx([6.7, 3.3, 4.3, 1.7, 1.0])
    assert stratified["expected"].tolist() == pytest.approx(crude["expected"].tolist())
    assert stratified["prr"].round(2).tolist() == [0.98, 1.05, 0.92, 1.22, 1.45]
    assert crude["gps_expected"].tolist() == pytest.approx(crude["expected"].tolist())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"a": [-1]}, "whole numbers"),
        ({"a": [11]}, "inconsistent"),
        ({"total_reports": [5]}, "inconsistent"),
        ({"a": [1.5]}, "whole numbers"),
    ],
)
def test_invalid_counts_are_refused(change: dict[str, list[float]], message: str) -> None:
    counts = table((2, 8, 3, 87)).assign(**change)
    with pytest.raises(ValueError, match=message):
        disproportionality(counts, prior=PRIOR)


def test_inconsistent_margins_across_rows_are_refused() -> None:
    # the same product with 10 reports in one row and 9 in the other
    counts = pd.concat([table((2, 8, 3, 87)), table((1, 8, 3, 88))], ignore_index=True)
    counts["product"] = "P0"
    counts.loc[1, "event"] = "E9"
    with pytest.raises(ValueError, match="product_reports differs"):
        disproportionality(counts, prior=PRIOR)
    counts.loc[1, "event"] = "E0"
    with pytest.raises(ValueError, match="twice"):
        disproportionality(counts, prior=PRIOR)


def test_an_empty_table_gives_an_empty_result() -> None:
    empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in COUNT_COLUMNS})
    result = disproportionality(empty)
    assert result.empty
    assert list(result.columns) == list(RESULT_COLUMNS)
