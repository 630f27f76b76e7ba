"""The report's sequential monitoring on a hand-made cohort: the charts are the CUSUMs of the
patients in infusion order against the product's reference rate, and the risk-adjusted chart
uses the stored model predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pv_monitor.report.build import (
    BAYES_CERTAINTY,
    BAYES_MIN_N,
    BAYES_PRIOR_PATIENTS,
    CUSUM_ARL0,
    CUSUM_ODDS_RATIO,
    CUSUM_SEED,
    CUSUM_SIMULATIONS,
    sequential_monitoring,
)
from pv_monitor.report.tables import ReportInputs
from pv_monitor.signals.bayes import BetaBinomialRule, operating_characteristics
from pv_monitor.signals.cusum import (
    bernoulli_cusum,
    risk_adjusted_cusum,
    risk_adjusted_threshold_for_arl0,
    threshold_for_arl0,
)

N = 40
EMPTY = pd.DataFrame()


def _inputs(model_risks: pd.DataFrame | None) -> ReportInputs:
    rng = np.random.default_rng(3)
    dates = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.permutation(N), unit="D")
    infusions = pd.DataFrame(
        {
            "subject_id": np.arange(1, N + 1),
            "infusion_id": np.arange(101, 101 + N),
            "infusion_date": dates,
            "product": "Yescarta",
        }
    )
    severe = infusions["infusion_id"].iloc[[2, 5, 6, 7, 20, 31]]
    episodes = pd.DataFrame(
        {
            "infusion_id": [*list(severe), infusions["infusion_id"].iloc[9]],
            "syndrome": "crs",
            "episode_number": 1,
            "onset_day": [1, 2, 3, 1, 5, 2, 35],  # the last starts after day 28: not counted
            "peak_grade": [3, 4, 3, 3, 3, 5, 4],
            "duration_days": 5,
        }
    )
    return ReportInputs(infusions, episodes, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, model_risks)


def test_cusum_is_the_reference_chart_in_infusion_order() -> None:
    inputs = _inputs(None)
    table, charts = sequential_monitoring(inputs)
    crs = table[table["syndrome"] == "CRS"].iloc[0]
    ordered = inputs.infusions.sort_values("infusion_date")
    severe = {103, 106, 107, 108, 121, 132}
    y = ordered["infusion_id"].isin(severe).astype(int).to_numpy()
    p0 = 0.13  # ZUMA-1 label Study 1, grade >= 3 CRS (pivotal_trial_rates_v1)
    p1 = CUSUM_ODDS_RATIO * p0 / (1 + (CUSUM_ODDS_RATIO - 1) * p0)
    limit = threshold_for_arl0(p0, p1, CUSUM_ARL0, n_simulations=CUSUM_SIMULATIONS, seed=CUSUM_SEED)
    expected = bernoulli_cusum(y, p0, p1, limit)
    assert (crs["patients"], crs["events"], crs["reference_rate"]) == (N, 6, p0)
    assert crs["cusum_h"] == limit.h
    assert crs["cusum_alarms"] == len(expected.alarms)
    chart = next(c for c in charts if c.syndrome == "CRS")
    assert np.allclose(chart.statistic, expected.values)
    assert crs["ra_patients"] == 0  # no model predictions stored
    a, b = BAYES_PRIOR_PATIENTS * p0, BAYES_PRIOR_PATIENTS * (1 - p0)
    rule = BetaBinomialRule(
        p_star=p0, certainty=BAYES_CERTAINTY, a=a, b=b, min_evaluable_n=BAYES_MIN_N
    )
    flags = operating_characteristics(rule, N, [p0, p1])["probability_stop"].tolist()
    assert [crs["bayes_p_flag_at_p0"], crs["bayes_p_flag_at_p1"]] == flags
    assert crs["cusum_arl_at_p0"] > 3 * crs["cusum_arl_at_p1"]  # alarms come sooner at p1


def test_risk_adjusted_chart_uses_the_stored_predictions() -> None:
    risks = pd.DataFrame(
        {
            "infusion_id": np.arange(101, 101 + N - 10),  # ten patients without a prediction
            "score": "crs_grade3_by_day0",
            "value": np.linspace(0.05, 0.4, N - 10),
        }
    )
    inputs = _inputs(risks)
    table, _ = sequential_monitoring(inputs)
    crs = table[table["syndrome"] == "CRS"].iloc[0]
    ordered = inputs.infusions.sort_values("infusion_date")
    charted = ordered.merge(risks, on="infusion_id")
    y = charted["infusion_id"].isin({103, 106, 107, 108, 121, 132}).astype(int).to_numpy()
    p = charted["value"].to_numpy()
    limit = risk_adjusted_threshold_for_arl0(
        p, CUSUM_ODDS_RATIO, CUSUM_ARL0, n_simulations=CUSUM_SIMULATIONS, seed=CUSUM_SEED
    )
    expected = risk_adjusted_cusum(y, p, CUSUM_ODDS_RATIO, limit)
    assert crs["ra_patients"] == N - 10
    assert crs["ra_expected_events"] == p.sum()
    assert (crs["ra_cusum_h"], crs["ra_cusum_alarms"]) == (limit.h, len(expected.alarms))
