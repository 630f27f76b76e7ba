"""Survival estimates against R reference numbers (pasted; R is not needed to run the tests).

Reference: R 4.2.2 Patched (2022-11-10 r83330), survival 3.5-3, cmprsk 2.2-11 (Debian packages
r-base-core, r-cran-survival, r-cran-cmprsk). The data set is the table ``DATA`` below, read in
R with ``d <- read.table(header = TRUE, text = "<DATA>")`` and
``d$event <- as.integer(d$cause != 0)``: 30 subjects in three groups, with tied failures of
both causes, failures tied with censorings (time 3, A), a competing cause (2) and censoring.
Each test shows the R calls and R's printed output beside the numbers it checks.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from lifelines import (  # type: ignore[import-untyped, unused-ignore]
    AalenJohansenFitter,
    CoxPHFitter,
)
from lifelines.statistics import (  # type: ignore[import-untyped, unused-ignore]
    multivariate_logrank_test,
)

from pv_monitor.survival import (
    ALL_GROUP,
    compare_groups,
    cumulative_incidence,
    default_times,
    kaplan_meier,
)
from pv_monitor.survival.estimates import _aalen_johansen

DATA = """
time cause group
 2 1 A
 3 2 A
 3 1 A
 3 0 A
 5 1 A
 7 0 A
 8 1 A
 8 1 A
10 2 A
12 0 A
15 1 A
20 0 A
 1 1 B
 3 1 B
 4 0 B
 6 2 B
 6 1 B
 9 1 B
11 0 B
14 2 B
18 1 B
25 0 B
 4 1 C
 5 0 C
 9 2 C
13 0 C
16 1 C
22 1 C
24 0 C
30 0 C
"""


def _data() -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(DATA), sep=r"\s+")
    return frame.assign(event=(frame["cause"] != 0).astype(int))


def _at(curves: pd.DataFrame, group: str, times: list[float], column: str) -> np.ndarray:
    """Value of a step curve just after each of ``times`` (the last point at or before it)."""
    rows = curves[curves["group"] == group]
    position = np.searchsorted(rows["time"].to_numpy(), times, side="right") - 1
    return rows[column].to_numpy()[position]


# ---- Kaplan-Meier ----------------------------------------------------------------------

# > options(digits = 10)
# > fit <- survfit(Surv(time, event) ~ group, data = d, conf.type = "log-log")
# > s <- summary(fit, censored = TRUE)
# > print(data.frame(strata = s$strata, time = s$time, surv = s$surv, lower = s$lower,
# +                  upper = s$upper))
#     strata time         surv          lower        upper
# 1  group=A    2 0.9166666667 0.538977180571 0.9878255654
# 2  group=A    3 0.7500000000 0.408415913152 0.9117204061
# 3  group=A    5 0.6562500000 0.320411637600 0.8556572347
# 4  group=A    7 0.6562500000 0.320411637600 0.8556572347
# 5  group=A    8 0.4375000000 0.144147468674 0.7026986229
# 6  group=A   10 0.3281250000 0.081595586090 0.6092451672
# 7  group=A   12 0.3281250000 0.081595586090 0.6092451672
# 8  group=A   15 0.1640625000 0.010957952137 0.4848979622
# 9  group=A   20 0.1640625000 0.010957952137 0.4848979622
# 10 group=B    1 0.9000000000 0.473009271362 0.9852813934
# 11 group=B    3 0.8000000000 0.408690781633 0.9458726458
# 12 group=B    4 0.8000000000 0.408690781633 0.9458726458
# 13 group=B    6 0.5714285714 0.217192702382 0.8145721379
# 14 group=B    9 0.4571428571 0.142982162756 0.7297791060
# 15 group=B   11 0.4571428571 0.142982162756 0.7297791060
# 16 group=B   14 0.3047619048 0.053533884600 0.6173675618
# 17 group=B   18 0.1523809524 0.008449995586 0.4764045004
# 18 group=B   25 0.1523809524 0.008449995586 0.4764045004
# 19 group=C    4 0.8750000000 0.387000014032 0.9813929659
# 20 group=C    5 0.8750000000 0.387000014032 0.9813929659
# 21 group=C    9 0.7291666667 0.276390220336 0.9253531813
# 22 group=C   13 0.7291666667 0.276390220336 0.9253531813
# 23 group=C   16 0.5468750000 0.137238420041 0.8324285771
# 24 group=C   22 0.3645833333 0.053395906855 0.7064763904
# 25 group=C   24 0.3645833333 0.053395906855 0.7064763904
# 26 group=C   30 0.3645833333 0.053395906855 0.7064763904
R_KM = pd.DataFrame(
    [
        ("A", 2, 0.9166666667, 0.538977180571, 0.9878255654),
        ("A", 3, 0.7500000000, 0.408415913152, 0.9117204061),
        ("A", 5, 0.6562500000, 0.320411637600, 0.8556572347),
        ("A", 7, 0.6562500000, 0.320411637600, 0.8556572347),
        ("A", 8, 0.4375000000, 0.144147468674, 0.7026986229),
        ("A", 10, 0.3281250000, 0.081595586090, 0.6092451672),
        ("A", 12, 0.3281250000, 0.081595586090, 0.6092451672),
        ("A", 15, 0.1640625000, 0.010957952137, 0.4848979622),
        ("A", 20, 0.1640625000, 0.010957952137, 0.4848979622),
        ("B", 1, 0.9000000000, 0.473009271362, 0.9852813934),
        ("B", 3, 0.8000000000, 0.408690781633, 0.9458726458),
        ("B", 4, 0.8000000000, 0.408690781633, 0.9458726458),
        ("B", 6, 0.5714285714, 0.217192702382, 0.8145721379),
        ("B", 9, 0.4571428571, 0.142982162756, 0.7297791060),
        ("B", 11, 0.4571428571, 0.142982162756, 0.7297791060),
        ("B", 14, 0.3047619048, 0.053533884600, 0.6173675618),
        ("B", 18, 0.1523809524, 0.008449995586, 0.4764045004),
        ("B", 25, 0.1523809524, 0.008449995586, 0.4764045004),
        ("C", 4, 0.8750000000, 0.387000014032, 0.9813929659),
        ("C", 5, 0.8750000000, 0.387000014032, 0.9813929659),
        ("C", 9, 0.7291666667, 0.276390220336, 0.9253531813),
        ("C", 13, 0.7291666667, 0.276390220336, 0.9253531813),
        ("C", 16, 0.5468750000, 0.137238420041, 0.8324285771),
        ("C", 22, 0.3645833333, 0.053395906855, 0.7064763904),
        ("C", 24, 0.3645833333, 0.053395906855, 0.7064763904),
        ("C", 30, 0.3645833333, 0.053395906855, 0.7064763904),
    ],
    columns=["group", "time", "estimate", "lower", "upper"],
)


def test_kaplan_meier_and_log_log_band_equal_r_survfit() -> None:
    curves = kaplan_meier(_data(), "time", "event", "group").curves
    after_start = curves[curves["time"] > 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        after_start, R_KM.astype({"time": float}), check_exact=False, atol=1e-9, rtol=0
    )
    starts = curves[curves["time"] == 0]
    assert starts["group"].tolist() == ["A", "B", "C"]
    assert (starts[["estimate", "lower", "upper"]] == 1.0).all(axis=None)


# > print(fit)
#          n events median 0.95LCL 0.95UCL
# group=A 12      8      8       3      15
# group=B 10      7      9       1      18
# group=C  8      4     22       4      NA
# > print(survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log"))
#       n events median 0.95LCL 0.95UCL
# [1,] 30     19     10       6      18
def test_medians_with_limits_equal_r_print_survfit() -> None:
    summary = kaplan_meier(_data(), "time", "event", "group").summary
    expected = pd.DataFrame(
        {
            "group": ["A", "B", "C"],
            "subjects": [12, 10, 8],
            "events": [8, 7, 4],
            "median": [8.0, 9.0, 22.0],
            "median_lower": [3.0, 1.0, 4.0],
            "median_upper": [15.0, 18.0, math.nan],
        }
    )
    pd.testing.assert_frame_equal(summary, expected)
    overall = kaplan_meier(_data(), "time", "event").summary
    assert overall.iloc[0].tolist() == [ALL_GROUP, 30, 19, 10.0, 6.0, 18.0]


# > print(survfit(Surv(c(1, 2, 3, 4), c(1, 1, 1, 1)) ~ 1, conf.type = "log-log"))
#      n events median 0.95LCL 0.95UCL
# [1,] 4      4    2.5       1      NA
# > print(survfit(Surv(c(1, 2, 3, 4), c(1, 1, 0, 0)) ~ 1, conf.type = "log-log"))
#      n events median 0.95LCL 0.95UCL
# [1,] 4      2      2       1      NA
@pytest.mark.parametrize(
    ("events", "expected"),
    [([1, 1, 1, 1], [2.5, 1.0, math.nan]), ([1, 1, 0, 0], [2.0, 1.0, math.nan])],
)
def test_median_of_a_curve_resting_at_one_half_is_r_s(
    events: list[int], expected: list[float]
) -> None:
    """At exactly 0.5 and falling later: the midpoint (lifelines would say 2); resting at 0.5
    to the end: the first time. A band that reaches 0 never crosses 0.5 (NA, not 4)."""
    frame = pd.DataFrame({"t": [1, 2, 3, 4], "e": events})
    summary = kaplan_meier(frame, "t", "e").summary
    got = summary[["median", "median_lower", "median_upper"]].iloc[0].tolist()
    np.testing.assert_array_equal(got, expected)


# > s <- summary(fit, times = c(0, 5, 10, 20))
# > print(data.frame(strata = s$strata, time = s$time, n.risk = s$n.risk))
#     strata time n.risk
# 1  group=A    0     12
# 2  group=A    5      8
# 3  group=A   10      4
# 4  group=A   20      1
# 5  group=B    0     10
# 6  group=B    5      7
# 7  group=B   10      4
# 8  group=B   20      1
# 9  group=C    0      8
# 10 group=C    5      7
# 11 group=C   10      5
# 12 group=C   20      3
def test_numbers_at_risk_equal_r_summary_times() -> None:
    at_risk = kaplan_meier(_data(), "time", "event", "group", times=[20, 0, 10, 5]).at_risk
    assert at_risk["at_risk"].tolist() == [12, 8, 4, 1, 10, 7, 4, 1, 8, 7, 5, 3]
    assert at_risk["time"].tolist() == [0.0, 5.0, 10.0, 20.0] * 3
    beyond = kaplan_meier(_data(), "time", "event", times=[31]).at_risk
    assert beyond["at_risk"].tolist() == [0]


# ---- log-rank and Cox ------------------------------------------------------------------

# > options(digits = 15)
# > print(1 - pchisq(survdiff(Surv(time, event) ~ group, data = d)$chisq, 2))
# [1] 0.23732483163948
# > cx <- coxph(Surv(time, event) ~ group, data = d, ties = "efron")
# > print(cbind(coef(summary(cx)), exp(confint(cx))))
#                      coef         exp(coef)          se(coef)
# groupB -0.216447356415061 0.805374931630325 0.525478072054325
# groupC -1.037417778684927 0.354368559581784 0.641419002637879
#                         z          Pr(>|z|)             2.5 %           97.5 %
# groupB -0.411905592118951 0.680408621831176 0.287548006858480 2.25572344453001
# groupC -1.617379239496300 0.105796444238395 0.100804132934127 1.24575324805511
R_COX = pd.DataFrame(
    {
        "group": ["A", "B", "C"],
        "subjects": [12, 10, 8],
        "events": [8, 7, 4],
        "hazard_ratio": [1.0, 0.805374931630325, 0.354368559581784],
        "lower": [math.nan, 0.287548006858480, 0.100804132934127],
        "upper": [math.nan, 2.25572344453001, 1.24575324805511],
        "p": [math.nan, 0.680408621831176, 0.105796444238395],
    }
)


def test_logrank_and_cox_efron_equal_r_survdiff_and_coxph() -> None:
    result = compare_groups(_data(), "time", "event", "group")
    assert result.logrank_p == pytest.approx(0.23732483163948, rel=1e-12)
    pd.testing.assert_frame_equal(result.hazard_ratios, R_COX, check_exact=False, rtol=1e-9)


# A group without events (D: three censored subjects).
# > d2 <- rbind(d[, c("time", "event", "group")],
# +             data.frame(time = c(5, 10, 40), event = 0, group = "D"))
# > print(1 - pchisq(survdiff(Surv(time, event) ~ group, data = d2)$chisq, 3))
# [1] 0.128304306269639
# > cx2 <- coxph(Surv(time, event) ~ group, data = d2, ties = "efron")
# > print(cbind(coef(summary(cx2)), exp(confint(cx2))))
#                       coef            exp(coef)             se(coef)
# groupB  -0.216447356415605 8.05374931629888e-01    0.525478072396480
# groupC  -1.037417778687812 3.54368559580762e-01    0.641419003035329
# groupD -18.692205238046022 7.62216613434272e-09 5914.185192764049134
#                           z          Pr(>|z|)             2.5 %
# groupB -0.41190559185178022 0.680408622027009 0.287548006665491
# groupC -1.61737923849860232 0.105796444453623 0.100804132855311
# groupD -0.00316057151218663 0.997478232985525 0.000000000000000
#                  97.5 %
# groupB 2.25572344604150
# groupC 1.24575324902194
# groupD              Inf
# Warning message:
# In coxph.fit(X, Y, istrat, offset, init, control, weights = weights,  :
#   Loglik converged before variable  3 ; coefficient may be infinite.
def test_a_group_without_events_is_tested_but_gets_no_hazard_ratio() -> None:
    extra = pd.DataFrame({"time": [5, 10, 40], "event": 0, "group": "D"})
    frame = pd.concat([_data()[["time", "event", "group"]], extra], ignore_index=True)
    result = compare_groups(frame, "time", "event", "group")
    assert result.logrank_p == pytest.approx(0.128304306269639, rel=1e-12)
    ratios = result.hazard_ratios.set_index("group")
    # R's B and C are the limits as D's coefficient goes to minus infinity: those of the model
    # without D, to R's convergence tolerance
    expected = R_COX.set_index("group")[["hazard_ratio", "lower", "upper", "p"]]
    pd.testing.assert_frame_equal(
        ratios.loc[["A", "B", "C"], ["hazard_ratio", "lower", "upper", "p"]], expected, rtol=1e-8
    )
    assert ratios.loc[["D"], ["subjects", "events"]].to_numpy().tolist() == [[3, 0]]
    assert ratios.loc[["D"], ["hazard_ratio", "lower", "upper", "p"]].isna().all(axis=None)


def test_reference_is_the_largest_group_first_in_sort_order_on_ties() -> None:
    frame = pd.DataFrame(
        {
            "t": [1, 2, 3, 4, 5, 6, 7, 8],
            "e": [1, 0, 1, 1, 1, 0, 1, 1],
            "g": ["b", "b", "c", "c", "a", "a", "c", "b"],
        }
    )
    ratios = compare_groups(frame, "t", "e", "g").hazard_ratios
    assert ratios["group"].tolist() == ["a", "b", "c"]
    assert ratios["hazard_ratio"].iloc[1] == 1.0  # b and c have 3 subjects: b sorts first
    assert ratios[["lower", "upper", "p"]].iloc[1].isna().all()
    assert ratios[["lower", "upper", "p"]].iloc[[0, 2]].notna().all(axis=None)


def test_one_group_or_no_events_gives_no_test() -> None:
    one = compare_groups(_data().assign(group="x"), "time", "event", "group")
    assert math.isnan(one.logrank_p)
    assert one.hazard_ratios.iloc[0].tolist()[:4] == ["x", 30, 19, 1.0]
    none = compare_groups(_data().assign(event=0), "time", "event", "group")
    assert math.isnan(none.logrank_p)
    assert none.hazard_ratios["hazard_ratio"].tolist()[0] == 1.0
    assert none.hazard_ratios["hazard_ratio"].iloc[1:].isna().all()


def test_logrank_and_cox_equal_lifelines_on_a_larger_tied_data_set() -> None:
    """600 subjects, four groups, integer times 1-30 (many ties of every kind)."""
    rng = np.random.default_rng(20261122)
    n = 600
    group = rng.choice(np.array(["w", "x", "y", "z"]), n, p=[0.4, 0.3, 0.2, 0.1])
    hazard = pd.Series(group).map({"w": 0.05, "x": 0.08, "y": 0.03, "z": 0.1}).to_numpy()
    failure = np.ceil(rng.exponential(1 / hazard))
    censor = rng.integers(1, 31, n)
    frame = pd.DataFrame(
        {"t": np.minimum(failure, censor), "e": (failure <= censor).astype(int), "g": group}
    )
    result = compare_groups(frame, "t", "e", "g")
    reference = multivariate_logrank_test(frame["t"], frame["g"], frame["e"])
    assert result.logrank_p == pytest.approx(reference.p_value, rel=1e-9)
    design = pd.get_dummies(frame["g"], dtype=float).drop(columns="w")  # w is the largest
    fitted = CoxPHFitter().fit(design.assign(t=frame["t"], e=frame["e"]), "t", "e")
    ratios = result.hazard_ratios.set_index("group").loc[["x", "y", "z"]]
    # lifelines stops its Newton-Raphson earlier (step norm < 1e-7); ours iterates to 1e-10
    np.testing.assert_allclose(np.log(ratios["hazard_ratio"]), fitted.params_, atol=1e-6)
    np.testing.assert_allclose(ratios["p"], fitted.summary["p"], rtol=1e-4)
    np.testing.assert_allclose(ratios["lower"], fitted.summary["exp(coef) lower 95%"], rtol=1e-5)


# ---- cumulative incidence --------------------------------------------------------------

# > band <- function(z) { k <- seq(3, length(z$time) - 1, by = 2); est <- z$est[k]
# +   v <- z$var[k]; s <- qnorm(0.975) * sqrt(v) / (est * log(est))
# +   data.frame(time = z$time[k], est = est, var = v, lower = est^exp(-s),
# +              upper = est^exp(s)) }
# > ci <- cuminc(d$time, d$cause)
# > print(band(ci[["1 1"]]))
#    time                est                 var               lower
# 1     1 0.0333333333333333 0.00111111111111111 0.00235321082097756
# 2     2 0.0666666666666667 0.00214691504822301 0.01135213907115899
# 3     3 0.1333333333333333 0.00399108424215534 0.04098255443574150
# 4     4 0.1680555555555555 0.00487867534527976 0.05984610297090494
# 5     5 0.2043560606060606 0.00577521563731175 0.08103670299147415
# 6     6 0.2424715909090909 0.00668291618159791 0.10447645911137844
# 7     8 0.3231868315508021 0.00838928781326585 0.15770861431760333
# 8     9 0.3635444518716577 0.00903605363737407 0.18653990993419842
# 9    15 0.4173546122994651 0.01051859345766987 0.21951148985257843
# 10   16 0.4711647727272726 0.01158163338882948 0.25557935539624482
# 11   18 0.5249749331550800 0.01222681488967675 0.29438354097560582
# 12   22 0.5922376336898394 0.01355412471450010 0.33520221203852452
#                upper
# 1  0.147863459965002
# 2  0.194455209884265
# 3  0.280596039285540
# 4  0.323185205961845
# 5  0.366630434997669
# 6  0.411165765916631
# 7  0.501198254679575
# 8  0.543483309682397
# 9  0.604380775132014
# 10 0.660255415233421
# 11 0.712072418936838
# 12 0.777974210802482
R_CIF = pd.DataFrame(
    [
        (1, 0.0333333333333333, 0.00111111111111111, 0.00235321082097756, 0.147863459965002),
        (2, 0.0666666666666667, 0.00214691504822301, 0.01135213907115899, 0.194455209884265),
        (3, 0.1333333333333333, 0.00399108424215534, 0.04098255443574150, 0.280596039285540),
        (4, 0.1680555555555555, 0.00487867534527976, 0.05984610297090494, 0.323185205961845),
        (5, 0.2043560606060606, 0.00577521563731175, 0.08103670299147415, 0.366630434997669),
        (6, 0.2424715909090909, 0.00668291618159791, 0.10447645911137844, 0.411165765916631),
        (8, 0.3231868315508021, 0.00838928781326585, 0.15770861431760333, 0.501198254679575),
        (9, 0.3635444518716577, 0.00903605363737407, 0.18653990993419842, 0.543483309682397),
        (15, 0.4173546122994651, 0.01051859345766987, 0.21951148985257843, 0.604380775132014),
        (16, 0.4711647727272726, 0.01158163338882948, 0.25557935539624482, 0.660255415233421),
        (18, 0.5249749331550800, 0.01222681488967675, 0.29438354097560582, 0.712072418936838),
        (22, 0.5922376336898394, 0.01355412471450010, 0.33520221203852452, 0.777974210802482),
    ],
    columns=["time", "estimate", "variance", "lower", "upper"],
)
# > cig <- cuminc(d$time, d$cause, d$group)
# > for (g in c("A 1", "B 1", "C 1")) { cat(g, "\n"); print(band(cig[[g]])) }
# A 1
#   time                est                 var              lower
# 1    2 0.0833333333333333 0.00694444444444444 0.0042180549798289
# 2    3 0.1666666666666667 0.01268365472910927 0.0234641704950409
# 3    5 0.2604166666666666 0.01873493457300275 0.0553934296001963
# 4    8 0.4791666666666666 0.02885742685695336 0.1507967337317513
# 5   15 0.6432291666666666 0.04368876992482451 0.1543255074672183
#               upper
# 1 0.323299764822422
# 2 0.425033688296361
# 3 0.534893966288603
# 4 0.751181904404263
# 5 0.901051021598524
# B 1
#   time               est                var               lower
# 1    1 0.100000000000000 0.0100000000000000 0.00454506681229678
# 2    3 0.200000000000000 0.0179012345679012 0.02638847058181882
# 3    6 0.314285714285714 0.0262131519274377 0.06271368313122390
# 4    9 0.428571428571429 0.0310761400856639 0.11145617381641103
# 5   18 0.580952380952381 0.0463012457657959 0.12653405437392373
#               upper
# 1 0.374195290367225
# 2 0.490352486766748
# 3 0.616443201535739
# 4 0.720940740473560
# 5 0.867036261989919
# C 1
#   time               est                var              lower
# 1    4 0.125000000000000 0.0156250000000000 0.0048108162216571
# 2   16 0.307291666666667 0.0443522135416666 0.0251349890240034
# 3   22 0.489583333333333 0.0586329330632716 0.0623415130781126
#               upper
# 1 0.444758265520778
# 2 0.685241695519420
# 3 0.832098008343749
R_CIF_BY_GROUP = pd.DataFrame(
    [
        ("A", 2, 0.0833333333333333, 0.00694444444444444, 0.0042180549798289, 0.323299764822422),
        ("A", 3, 0.1666666666666667, 0.01268365472910927, 0.0234641704950409, 0.425033688296361),
        ("A", 5, 0.2604166666666666, 0.01873493457300275, 0.0553934296001963, 0.534893966288603),
        ("A", 8, 0.4791666666666666, 0.02885742685695336, 0.1507967337317513, 0.751181904404263),
        ("A", 15, 0.6432291666666666, 0.04368876992482451, 0.1543255074672183, 0.901051021598524),
        ("B", 1, 0.100000000000000, 0.0100000000000000, 0.00454506681229678, 0.374195290367225),
        ("B", 3, 0.200000000000000, 0.0179012345679012, 0.02638847058181882, 0.490352486766748),
        ("B", 6, 0.314285714285714, 0.0262131519274377, 0.06271368313122390, 0.616443201535739),
        ("B", 9, 0.428571428571429, 0.0310761400856639, 0.11145617381641103, 0.720940740473560),
        ("B", 18, 0.580952380952381, 0.0463012457657959, 0.12653405437392373, 0.867036261989919),
        ("C", 4, 0.125000000000000, 0.0156250000000000, 0.0048108162216571, 0.444758265520778),
        ("C", 16, 0.307291666666667, 0.0443522135416666, 0.0251349890240034, 0.685241695519420),
        ("C", 22, 0.489583333333333, 0.0586329330632716, 0.0623415130781126, 0.832098008343749),
    ],
    columns=["group", "time", "estimate", "variance", "lower", "upper"],
)


def test_cumulative_incidence_and_variance_equal_r_cmprsk_cuminc() -> None:
    frame = _data()
    fit = _aalen_johansen(frame["time"].to_numpy(float), frame["cause"].to_numpy())
    at = np.searchsorted(fit.times, R_CIF["time"])
    np.testing.assert_allclose(fit.estimate[at], R_CIF["estimate"], rtol=1e-12)
    np.testing.assert_allclose(fit.variance[at], R_CIF["variance"], rtol=1e-12)
    curves = cumulative_incidence(frame, "time", "cause").curves
    for column in ("estimate", "lower", "upper"):
        got = _at(curves, ALL_GROUP, R_CIF["time"].tolist(), column)
        np.testing.assert_allclose(got, R_CIF[column], rtol=1e-12, err_msg=column)
    assert curves.iloc[0].tolist() == [ALL_GROUP, 0.0, 0.0, 0.0, 0.0]
    # between cause-1 failures the curve is flat: 7, 10-14 and 20 are competing or censored
    np.testing.assert_allclose(
        _at(curves, ALL_GROUP, [7, 14, 20], "estimate"),
        R_CIF["estimate"].iloc[[5, 7, 10]],
        rtol=1e-12,
    )


def test_cumulative_incidence_by_group_equals_r_cmprsk_cuminc() -> None:
    frame = _data()
    curves = cumulative_incidence(frame, "time", "cause", "group").curves
    for group, expected in R_CIF_BY_GROUP.groupby("group"):
        times = expected["time"].tolist()
        members = frame[frame["group"] == group]
        fit = _aalen_johansen(members["time"].to_numpy(float), members["cause"].to_numpy())
        at = np.searchsorted(fit.times, times)
        np.testing.assert_allclose(fit.variance[at], expected["variance"], rtol=1e-12)
        for column in ("estimate", "lower", "upper"):
            got = _at(curves, str(group), times, column)
            np.testing.assert_allclose(got, expected[column], rtol=1e-12, err_msg=column)


# Cause 2 (death without relapse) with cause 1 competing, at given times:
# > print(timepoints(ci, c(3, 7, 14)))
# $est
#                      3                  7                14
# 1 1 0.1333333333333333 0.2424715909090909 0.363544451871658
# 1 2 0.0333333333333333 0.0714488636363636 0.205974264705882
#
# $var
#                       3                   7                  14
# 1 1 0.00399108424215534 0.00668291618159791 0.00903605363737407
# 1 2 0.00111384952316242 0.00248768667886352 0.00749578480948909
def test_the_competing_cause_and_values_between_failures_equal_r_timepoints() -> None:
    frame = _data()
    swapped = np.asarray(frame["cause"].map({0: 0, 1: 2, 2: 1}), dtype=np.int64)
    fit = _aalen_johansen(frame["time"].to_numpy(float), swapped)
    at = np.searchsorted(fit.times, [3, 7, 14], side="right") - 1
    np.testing.assert_allclose(
        fit.estimate[at], [0.0333333333333333, 0.0714488636363636, 0.205974264705882], rtol=1e-12
    )
    np.testing.assert_allclose(
        fit.variance[at],
        [0.00111384952316242, 0.00248768667886352, 0.00749578480948909],
        rtol=1e-12,
    )


def test_median_of_a_cumulative_incidence_is_when_it_reaches_one_half() -> None:
    summary = cumulative_incidence(_data(), "time", "cause", "group").summary
    # R_CIF_BY_GROUP: A reaches 0.643 at 15 (0.479 before); B 0.581 at 18; C never (0.490)
    assert summary["median"].tolist()[:2] == [15.0, 18.0]
    assert math.isnan(summary["median"].iloc[2])
    assert summary[["median_lower", "median_upper"]].isna().all(axis=None)
    assert summary["events"].tolist() == [6, 5, 3]


def test_lifelines_aalen_johansen_agrees_only_when_no_censoring_ties_a_failure() -> None:
    """Why lifelines' AalenJohansenFitter is not used (docs/survival.md).

    It breaks ties between failures of different causes by moving each failure at random by up
    to 1e-4. Among failures that changes nothing at the end of the tie block, but a failure
    moved past a censoring at the same time loses that subject from its risk set, so the
    estimate moves away from R's (which counts failures before censorings). With censorings
    moved half a day later (R's convention made explicit), the seeded fit equals ours, which
    equals R's above. Its variance (a delta method) is smaller than cmprsk's throughout.
    """
    frame = _data()
    ours = _aalen_johansen(frame["time"].to_numpy(float), frame["cause"].to_numpy())
    expected = ours.estimate[np.searchsorted(ours.times, [3, 4, 5])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tied = AalenJohansenFitter(seed=1).fit(frame["time"], frame["cause"], event_of_interest=1)
        untied_times = frame["time"] + np.where(frame["cause"] == 0, 0.5, 0.0)
        untied = AalenJohansenFitter(seed=1).fit(untied_times, frame["cause"], event_of_interest=1)

    def block_ends(fitter: AalenJohansenFitter, times: list[float]) -> npt.NDArray[np.float64]:
        estimate = fitter.cumulative_density_.iloc[:, 0]
        position = np.searchsorted(estimate.index.to_numpy(), np.asarray(times) + 0.25) - 1
        return np.asarray(estimate.to_numpy()[position], dtype=np.float64)

    assert np.abs(block_ends(tied, [3, 4, 5]) - expected).max() > 1e-3
    all_times = ours.times[ours.times == np.floor(ours.times)]
    np.testing.assert_allclose(
        block_ends(untied, list(all_times)),
        ours.estimate[np.searchsorted(ours.times, all_times)],
        rtol=1e-12,
    )
    variance = untied.variance_.to_numpy()
    at = np.searchsorted(untied.variance_.index.to_numpy(), R_CIF["time"] + 0.25) - 1
    assert (variance[at] < R_CIF["variance"].to_numpy()).all()


# ---- shape, defaults and validation ------------------------------------------------------


def test_curves_start_at_time_zero_and_keep_failures_at_time_zero() -> None:
    frame = pd.DataFrame({"t": [0, 0, 1, 2], "e": [1, 0, 1, 0], "c": [1, 2, 1, 0]})
    km = kaplan_meier(frame, "t", "e").curves
    np.testing.assert_allclose(
        km[["time", "estimate"]].to_numpy(dtype=float),
        np.array([[0, 1], [0, 0.75], [1, 0.375], [2, 0.375]]),
    )
    # failures of both causes at time 0 among 4: F(0) = 1/4, S(0) = 1/2; F(1) = 1/4 + 1/2 * 1/2
    cif = cumulative_incidence(frame, "t", "c").curves
    np.testing.assert_allclose(
        cif[["time", "estimate"]].to_numpy(dtype=float),
        np.array([[0, 0], [0, 0.25], [1, 0.5], [2, 0.5]]),
    )


def test_a_curve_that_reaches_zero_has_no_band_there() -> None:
    frame = pd.DataFrame({"t": [1, 2, 3], "e": [1, 1, 1]})
    last = kaplan_meier(frame, "t", "e").curves.iloc[-1]
    assert last["estimate"] == 0.0
    assert math.isnan(last["lower"]) and math.isnan(last["upper"])


def test_default_times_and_an_empty_frame() -> None:
    fit = kaplan_meier(_data(), "time", "event")
    assert (
        fit.at_risk["time"].tolist() == default_times(30.0).tolist() == [0, 5, 10, 15, 20, 25, 30]
    )
    empty = kaplan_meier(_data().iloc[:0], "time", "event", "group")
    assert empty.curves.empty and empty.at_risk.empty and empty.summary.empty
    assert list(empty.curves.columns) == ["group", "time", "estimate", "lower", "upper"]
    assert list(empty.summary.columns) == [
        "group",
        "subjects",
        "events",
        "median",
        "median_lower",
        "median_upper",
    ]
    comparison = compare_groups(_data().iloc[:0], "time", "event", "group")
    assert math.isnan(comparison.logrank_p) and comparison.hazard_ratios.empty


def test_group_values_become_strings_and_events_may_be_booleans() -> None:
    frame = pd.DataFrame(
        {"t": [1.0, 2.5, 3.0, 4.0], "e": [True, False, True, True], "g": [2, 10, 2, 10]}
    )
    fit = kaplan_meier(frame, "t", "e", "g")
    assert fit.summary["group"].tolist() == ["10", "2"]
    assert fit.summary["events"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("change", "call", "message"),
    [
        (lambda f: f.drop(columns="time"), kaplan_meier, "column 'time' is not in the frame"),
        (lambda f: f.drop(columns="group"), compare_groups, "column 'group' is not in the frame"),
        (
            lambda f: f.assign(time=f["time"].where(f.index != 3)),
            kaplan_meier,
            r"column 'time': 1 missing duration\(s\) \(rows 3\); pass only evaluable rows",
        ),
        (
            lambda f: f.assign(time=f["time"] - 3),
            cumulative_incidence,
            r"column 'time': 2 negative duration\(s\) \(rows 0, 12\); durations count",
        ),
        (
            lambda f: f.assign(time=np.where(f.index == 0, np.inf, f["time"])),
            kaplan_meier,
            "column 'time': durations must be finite",
        ),
        (
            lambda f: f.assign(time=f["time"].astype(str)),
            kaplan_meier,
            "column 'time': durations must be numbers",
        ),
        (
            lambda f: f.assign(event=f["cause"]),
            kaplan_meier,
            r"column 'event': event codes must be one of 0, 1; found 2 \(rows 1, 8, 15, \.\.\.\)",
        ),
        (
            lambda f: f.assign(cause=f["cause"].replace(2, 3)),
            cumulative_incidence,
            "column 'cause': event codes must be one of 0, 1, 2; found 3",
        ),
        (
            lambda f: f.assign(event=f["event"] + 0.5),
            compare_groups,
            "column 'event': event codes must be one of 0, 1; found 0.5, 1.5",
        ),
        (
            lambda f: f.assign(event=f["event"].where(f.index > 0)),
            compare_groups,
            r"column 'event': 1 missing event code\(s\) \(rows 0\)",
        ),
        (
            lambda f: f.assign(group=f["group"].where(f.index > 1)),
            kaplan_meier,
            r"column 'group': 2 missing group value\(s\) \(rows 0, 1\)",
        ),
    ],
)
def test_bad_inputs_are_refused_naming_the_column(
    change: Callable[[pd.DataFrame], pd.DataFrame], call: Callable[..., object], message: str
) -> None:
    frame = change(_data())
    event = "cause" if call is cumulative_incidence else "event"
    with pytest.raises(ValueError, match=message):
        call(frame, "time", event, "group")


def test_bad_alpha_and_times_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        kaplan_meier(_data(), "time", "event", alpha=1.5)
    with pytest.raises(ValueError, match="times"):
        cumulative_incidence(_data(), "time", "cause", times=[-1, 5])
    with pytest.raises(TypeError, match="DataFrame"):
        kaplan_meier(_data().to_dict(), "time", "event")  # type: ignore[arg-type]


def test_a_wider_alpha_gives_a_narrower_band() -> None:
    wide = kaplan_meier(_data(), "time", "event", alpha=0.05).curves
    narrow = kaplan_meier(_data(), "time", "event", alpha=0.5).curves
    inside = (narrow["lower"] >= wide["lower"]) & (narrow["upper"] <= wide["upper"])
    assert (
        inside.all()
        and (narrow["upper"] - narrow["lower"]).sum() < (wide["upper"] - wide["lower"]).sum()
    )


@pytest.mark.slow
def test_twenty_thousand_subjects_in_seven_groups_take_well_under_300_ms() -> None:
    """Timing (docs/survival.md): ``python -m pytest -q -s -m slow tests/pv_monitor/survival``."""
    rng = np.random.default_rng(1)
    n = 20_000
    group = rng.integers(0, 7, n)
    duration = np.minimum(rng.exponential(300 * (1 + group / 5)), rng.uniform(0, 1500, n))
    frame = pd.DataFrame(
        {
            "days": np.round(duration),
            "event": ((duration < 1400) & (rng.uniform(size=n) < 0.7)).astype(int),
            "product": np.array(list("ABCDEFG"))[group],
        }
    )
    frame["code"] = frame["event"] * rng.integers(1, 3, n)
    best = {"kaplan_meier + compare_groups": math.inf, "cumulative_incidence": math.inf}
    for _ in range(5):
        start = time.perf_counter()
        kaplan_meier(frame, "days", "event", "product")
        compare_groups(frame, "days", "event", "product")
        middle = time.perf_counter()
        cumulative_incidence(frame, "days", "code", "product")
        end = time.perf_counter()
        best["kaplan_meier + compare_groups"] = min(
            best["kaplan_meier + compare_groups"], middle - start
        )
        best["cumulative_incidence"] = min(best["cumulative_incidence"], end - middle)
    print({k: f"{1000 * v:.0f} ms" for k, v in best.items()})
    assert best["kaplan_meier + compare_groups"] < 0.3
