"""Assemble the periodic signal report from its inputs: tables, monitoring and figures.

:func:`build_report` is pure: it takes the frames read at the data-lock point and returns a
:class:`~pv_monitor.report.render.Report`. Its sequential monitoring is deterministic (the CUSUM
control limit is simulated with a fixed seed), so the same inputs always give the same report.

Sequential monitoring (pharmacovigilance.md §2.2-2.3), per product with a pivotal-trial rate of
grade >= 3 CRS (``crs_grade3plus``) or neurological events (``neuro_grade3plus``, compared with
grade >= 3 ICANS): patients in infusion order, outcome = grade >= 3 in days 0-28;

* a Bernoulli CUSUM with in-control rate p0 = the reference rate, tuned to detect a doubling of
  the odds (p1 = 2 p0 / (1 + p0)), control limit h chosen by simulation for an in-control
  average run length of :data:`CUSUM_ARL0` patients;
* when an accepted trained model's day-0 predictions are stored, a risk-adjusted CUSUM
  (Steiner 2000) with each patient's predicted risk in place of p0 (columns ``ra_*``);
* a beta-binomial monitor whose prior is centred on the reference rate with the weight of
  :data:`BAYES_PRIOR_PATIENTS` patients (Beta(w p0, w (1 - p0))): the posterior probability that
  the rate exceeds the reference rate, flagged when above :data:`BAYES_CERTAINTY` (looks from
  :data:`BAYES_MIN_N` patients on). A uniform Beta(1, 1) prior is not used: for reference rates
  of a few per cent it already puts ~97 % of its mass above the reference, so the monitor would
  flag a product after its first event.

These are monitoring defaults of this project, chosen for a programme of a few hundred patients;
a protocol's declared rule replaces them (pharmacovigilance.md §2.3: "monitor against the
protocol's declared rule").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pv_monitor.reference.products import find_product
from pv_monitor.reference.trials import load_pivotal_rates
from pv_monitor.report import tables
from pv_monitor.report.render import Report, ReportFigure, ReportTable
from pv_monitor.report.tables import ReportInputs
from pv_monitor.signals.bayes import (
    BetaBinomialRule,
    operating_characteristics,
    posterior_probability_exceeds,
)
from pv_monitor.signals.cusum import (
    CusumThreshold,
    bernoulli_cusum,
    cusum_operating_characteristics,
    risk_adjusted_cusum,
    risk_adjusted_threshold_for_arl0,
    threshold_for_arl0,
)
from pv_monitor.signals.disproportionality import RESULT_COLUMNS, Thresholds, disproportionality
from pv_monitor.survival.estimates import kaplan_meier

CUSUM_ARL0 = 500.0
"""In-control average run length (patients) of the report's CUSUM charts: about one false alarm
per 500 patients monitored [project default]."""
CUSUM_ODDS_RATIO = 2.0
"""The CUSUM is tuned to detect a doubling of the odds of the event (Steiner 2000's usual
R_A = 2)."""
CUSUM_SIMULATIONS = 2_000
CUSUM_SEED = 20_261_122
BAYES_CERTAINTY = 0.90
BAYES_PRIOR_PATIENTS = 2.0
BAYES_MIN_N = 10
MONITORED = (("CRS", "crs_grade3plus"), ("ICANS", "neuro_grade3plus"))
DISPROPORTIONALITY_ROWS = 200
"""Rows of the disproportionality table in the report (the combinations meeting any rule, most
disproportionate first); the workbook holds the same rows."""


@dataclass(frozen=True)
class MonitoredChart:
    """One CUSUM chart of the sequential monitoring: what to plot and its settings."""

    syndrome: str
    product: str
    p0: float
    h: float
    statistic: tuple[float, ...]
    """S_t after each patient, in infusion order."""


@dataclass(frozen=True)
class ReportRequest:
    """What the safety officer asked for."""

    interval_start: date
    data_lock_point: date
    product: str | None = None


def _reference_rates(metric: str) -> pd.DataFrame:
    rates = load_pivotal_rates()
    rows = rates[(rates["metric"] == metric) & (rates["unit"] == "proportion")]
    return rows.drop_duplicates("product")  # the first (label) figure of each product


def _grade3_outcomes(inputs: ReportInputs, syndrome: str) -> pd.DataFrame:
    ordered = inputs.infusions.sort_values(["infusion_date", "subject_id"])
    peaks = tables.peak_grades(ordered, inputs.episodes, syndrome.lower())
    return ordered.assign(outcome=(peaks >= tables.GRADE3).astype(int).to_numpy())


def sequential_monitoring(inputs: ReportInputs) -> tuple[pd.DataFrame, list[MonitoredChart]]:
    """CUSUM and beta-binomial monitoring of grade >= 3 CRS and ICANS per product."""
    rows: list[dict[str, object]] = []
    charts = []
    for syndrome, metric in MONITORED:
        outcomes = _grade3_outcomes(inputs, syndrome)
        references = _reference_rates(metric)
        for product, group in outcomes.groupby("product"):
            known = find_product(str(product))
            match = references[
                references["product"].map(lambda p: find_product(str(p))) == known
            ] if known else references.iloc[0:0]  # fmt: skip
            y = group["outcome"].to_numpy()
            base: dict[str, object] = {"syndrome": syndrome, "product": product, "patients": len(y),
                    "events": int(y.sum())}  # fmt: skip
            if match.empty:
                rows.append(base | {"note": "no reference rate: not monitored"})
                continue
            p0 = float(match["value"].iloc[0])
            p1 = CUSUM_ODDS_RATIO * p0 / (1 + (CUSUM_ODDS_RATIO - 1) * p0)
            limit = _control_limit(p0, p1)
            chart = bernoulli_cusum(y, p0, p1, limit)
            rule = BetaBinomialRule(p_star=p0, certainty=BAYES_CERTAINTY,
                                    a=BAYES_PRIOR_PATIENTS * p0,
                                    b=BAYES_PRIOR_PATIENTS * (1 - p0),
                                    min_evaluable_n=BAYES_MIN_N)  # fmt: skip
            looks = np.arange(1, len(y) + 1)
            posterior = posterior_probability_exceeds(rule, np.cumsum(y), looks)
            crossed = (posterior > BAYES_CERTAINTY) & (looks >= BAYES_MIN_N)
            last_value = float(chart.values[-1]) if len(y) else 0.0  # noqa: PD011 (numpy array)
            rows.append(
                base
                | _risk_adjusted(group, inputs.model_risks, syndrome)
                | _operating_characteristics(p0, p1, limit.h, rule, len(y))
                | {
                    "reference_rate": p0,
                    "reference_trial": str(match["trial"].iloc[0]),
                    "reference_scale": str(match["scale"].iloc[0]),
                    "cusum_p1": p1,
                    "cusum_h": limit.h,
                    "cusum_arl0": CUSUM_ARL0,
                    "cusum_last": last_value,
                    "cusum_alarms": len(chart.alarms),
                    "cusum_first_alarm_patient": int(chart.alarms[0]) + 1
                    if len(chart.alarms)
                    else pd.NA,
                    "posterior_p_above_reference": float(posterior[-1]) if len(y) else np.nan,
                    "bayes_first_crossing_patient": int(looks[crossed][0])
                    if crossed.any()
                    else pd.NA,
                    "note": "",
                }
            )
            statistic = tuple(float(v) for v in chart.values)  # noqa: PD011 (numpy array)
            charts.append(MonitoredChart(syndrome, str(product), p0, limit.h, statistic))
    return pd.DataFrame(rows), charts


@cache
def _control_limit(p0: float, p1: float) -> CusumThreshold:
    """h for ARL0 by simulation; a pure function of its settings (fixed seed), so computed once
    per process for each product's rates (the Signals page asks again on every look)."""
    return threshold_for_arl0(p0, p1, CUSUM_ARL0, n_simulations=CUSUM_SIMULATIONS, seed=CUSUM_SEED)


@cache
def _cusum_run_lengths(p0: float, p1: float, h: float) -> tuple[float, float]:
    """Simulated ARL at p0 and at p1 (fixed seed), once per process for each chart's settings."""
    arl = cusum_operating_characteristics(
        p0, p1, h, n_simulations=CUSUM_SIMULATIONS, seed=CUSUM_SEED + 1
    )["arl"]
    return float(arl.iloc[0]), float(arl.iloc[1])


def _operating_characteristics(
    p0: float, p1: float, h: float, rule: BetaBinomialRule, patients: int
) -> dict[str, object]:
    """What each monitor does when nothing is wrong and when the odds have doubled
    (pharmacovigilance.md §2.3: "any implemented rule must ship with its operating
    characteristics"): the CUSUM's simulated average run lengths at p0 and p1 (patients until a
    false or a true alarm), and the beta-binomial monitor's exact probability of flagging by the
    number of patients monitored so far."""
    arl_p0, arl_p1 = _cusum_run_lengths(p0, p1, h)
    flags = (
        operating_characteristics(rule, patients, [p0, p1])["probability_stop"].tolist()
        if patients
        else [np.nan, np.nan]
    )
    return {
        "cusum_arl_at_p0": arl_p0,
        "cusum_arl_at_p1": arl_p1,
        "bayes_p_flag_at_p0": float(flags[0]),
        "bayes_p_flag_at_p1": float(flags[1]),
    }


def _risk_adjusted(
    group: pd.DataFrame, model_risks: pd.DataFrame | None, syndrome: str
) -> dict[str, object]:
    """Risk-adjusted CUSUM (Steiner 2000) over the product's patients that have a day-0
    prediction of an accepted model: each patient's own predicted risk replaces p0, so a signal
    reflects outcomes worse than predicted, not a sicker patient mix. h is simulated for the
    same ARL0 by resampling these patients' risks. Patients without a prediction are left out
    of this chart (``ra_patients`` says how many were charted)."""
    score = f"{syndrome.lower()}_grade3_by_day0"
    if model_risks is None or model_risks.empty:
        return {"ra_patients": 0}
    risks = model_risks[model_risks["score"] == score].set_index("infusion_id")["value"]
    charted = group.assign(risk=group["infusion_id"].map(risks)).dropna(subset=["risk"])
    if charted.empty:
        return {"ra_patients": 0}
    p = charted["risk"].clip(1e-6, 1 - 1e-6).to_numpy()
    limit = risk_adjusted_threshold_for_arl0(
        p, CUSUM_ODDS_RATIO, CUSUM_ARL0, n_simulations=CUSUM_SIMULATIONS, seed=CUSUM_SEED
    )
    chart = risk_adjusted_cusum(charted["outcome"].to_numpy(), p, CUSUM_ODDS_RATIO, limit)
    return {
        "ra_patients": len(charted),
        "ra_expected_events": float(p.sum()),
        "ra_cusum_h": limit.h,
        "ra_cusum_alarms": len(chart.alarms),
    }


def _cusum_figure(chart: MonitoredChart) -> ReportFigure:
    syndrome, product, values, h, p0 = (
        chart.syndrome,
        chart.product,
        chart.statistic,
        chart.h,
        chart.p0,
    )
    figure = Figure(figsize=(7.0, 2.6))
    axes = figure.add_subplot()
    axes.step(np.arange(1, len(values) + 1), values, where="post", color="#1f4e79")
    axes.axhline(h, color="#b22222", linestyle="--", label=f"h = {h:.2f}")
    axes.set_xlabel("patients in infusion order")
    axes.set_ylabel("CUSUM S")
    axes.set_title(f"{product}: grade >= 3 {syndrome}, p0 = {p0:.2f}")
    axes.legend(loc="upper left", frameon=False)
    key = f"cusum_{syndrome.lower()}_{product.lower().replace(' ', '_')}"
    caption = (
        f"Bernoulli CUSUM (reset to 0 after an alarm), tuned to an odds ratio of "
        f"{CUSUM_ODDS_RATIO:g} over p0 = {p0:.3f}; h = {h:.3f} simulated for ARL0 = "
        f"{CUSUM_ARL0:g} patients ({CUSUM_SIMULATIONS} runs, seed {CUSUM_SEED})."
    )
    return ReportFigure(key, f"CUSUM: {product}, grade >= 3 {syndrome}", caption, figure)


def survival_figure(cohort: pd.DataFrame) -> tuple[pd.DataFrame, ReportFigure | None]:
    """Kaplan-Meier overall survival by product, with the median per product."""
    usable = cohort.dropna(subset=["os_days"])
    if usable.empty:
        return pd.DataFrame(columns=["product", "patients", "deaths", "median_os_days"]), None
    curves = kaplan_meier(usable, "os_days", "os_event", group="product")
    figure = Figure(figsize=(7.0, 3.6))
    axes = figure.add_subplot()
    for name, curve in curves.curves.groupby("group", sort=True):
        axes.step(curve["time"], curve["estimate"], where="post", label=str(name))
    axes.set_xlabel("days since infusion")
    axes.set_ylabel("overall survival")
    axes.set_ylim(0, 1.02)
    axes.legend(loc="lower left", fontsize=7, frameon=False)
    summary = curves.summary.rename(columns={"group": "product"})
    caption = "Kaplan-Meier estimate of overall survival from the first infusion, by product; "
    caption += "follow-up censored at the data-lock point."
    return summary, ReportFigure("overall_survival", "Overall survival", caption, figure)


def build_report(
    request: ReportRequest,
    inputs: ReportInputs,
    *,
    cohort: pd.DataFrame,
    spontaneous_counts: pd.DataFrame,
    signal_overview: pd.DataFrame,
    database_sha256: str,
    software_version: str,
    hierarchy: pd.DataFrame | None = None,
    meddra_version: str | None = None,
) -> Report:
    """The periodic signal report for ``request`` from the frames read at its lock."""
    start, lock = request.interval_start, request.data_lock_point
    infusions = inputs.infusions
    incidence = tables.toxicity_incidence(infusions, inputs.episodes)
    cytopenia = tables.cytopenia_and_hlh(infusions, inputs.icaht, inputs.iec_hs)
    observed = tables.programme_incidence(
        infusions, inputs.adverse_events, inputs.deaths, cytopenia, hierarchy
    )
    monitoring, charts = sequential_monitoring(inputs)
    cusum_figures = [_cusum_figure(chart) for chart in charts]
    survival, os_figure = survival_figure(tables.censor_at_lock(cohort, infusions, lock))
    spontaneous = disproportionality_hits(spontaneous_counts, product=request.product)
    spontaneous = spontaneous.head(DISPROPORTIONALITY_ROWS).drop(
        columns="thresholds", errors="ignore"
    )
    header = {
        "Data-lock point": lock.isoformat(),
        "Interval": f"{start.isoformat()} to {lock.isoformat()}",
        "Product": request.product or "all products",
        "Database content hash (SHA-256)": database_sha256,
        "Software": f"pv-monitor {software_version}",
        "MedDRA": meddra_version or "not configured: reported terms as given, SOC not coded",
        "Patients infused (cumulative)": str(len(infusions)),
        "Status": "Statistical findings are potential signals until validated by a person "
        "(CIOMS VIII, GVP IX).",
    }
    report_tables = [
        ReportTable("exposure", "Exposure: infused patients", "patients",
                    "First infusion on or before the lock; enrolled but not infused excluded.",
                    tables.exposure(infusions, start)),
        ReportTable("sae_soc_pt", "Serious adverse events by SOC and PT", "patients and events",
                    "Reported adverse events flagged serious, onset on or before the lock.",
                    tables.serious_adverse_events(inputs.adverse_events, start, hierarchy)),
        ReportTable("sae_listing", "Line listing of serious adverse events in the interval",
                    "events", "One row per serious event with onset in the interval; the case is "
                    "the pseudonymous subject key; causality is not captured by the exports.",
                    tables.sae_line_listing(infusions, inputs.adverse_events, start)),
        ReportTable("crs_icans_grades", "CRS and ICANS incidence by grade (days 0-28)", "patients",
                    "Highest ASTCT 2019 grade of episodes starting days 0-28 after the first "
                    "infusion (derived from raw observations).", incidence),
        ReportTable("incidence_vs_reference", "Incidence against pivotal-trial rates",
                    "patients", "Exact (Clopper-Pearson) 95% intervals; reference rates from "
                    "pivotal_trial_rates_v1 with their trial and grading scale; ICANS compared "
                    "with the trials' neurological-event rates; infections (grade >= 3) by "
                    "MedDRA SOC when configured, else infection_terms_v1; death from any cause "
                    "by the lock.",
                    tables.incidence_against_reference(incidence, observed)),
        ReportTable("onset_duration", "Time to onset and duration (first episode)", "patients",
                    "Study days from infusion (day 0); open episodes have no duration.",
                    tables.onset_and_duration(infusions, inputs.episodes)),
        ReportTable("treatments", "Tocilizumab, corticosteroid and anakinra use", "patients",
                    "Patients with an administration on or after the infusion day.",
                    tables.treatment_use(infusions, inputs.treatments)),
        ReportTable("icaht_iec_hs", "ICAHT and IEC-HS", "patients",
                    "ICAHT graded by EHA/EBMT 2023 (early: days 0-30, late: after day 30); "
                    "IEC-HS by the screening criteria of clinical.md (Hines 2023).", cytopenia),
        ReportTable("relapse_phenotype", "Relapses by antigen phenotype", "patients",
                    "First antigen status recorded after the infusion.",
                    tables.relapse_phenotypes(infusions, inputs.assessments)),
        ReportTable("deaths", "Deaths and causes", "patients", "Causes as reported.",
                    tables.deaths(infusions, inputs.deaths, start)),
        ReportTable("survival", "Overall survival by product", "patients",
                    "Kaplan-Meier; follow-up censored at the data-lock point.", survival),
        ReportTable("sequential", "Sequential monitoring of grade >= 3 CRS and ICANS", "patients",
                    f"Bernoulli CUSUM (odds ratio {CUSUM_ODDS_RATIO:g}, ARL0 {CUSUM_ARL0:g}) "
                    f"and beta-binomial monitor (prior centred on the reference rate, weight "
                    f"{BAYES_PRIOR_PATIENTS:g} patients; flag when P(rate > reference) "
                    f"> {BAYES_CERTAINTY:g} from {BAYES_MIN_N} patients).", monitoring),
        ReportTable("disproportionality", "Disproportionality on spontaneous reports",
                    "product-event combinations (unique reports)",
                    f"Combinations meeting any rule ({thresholds_text(Thresholds())}), highest "
                    f"EB05 first (at most {DISPROPORTIONALITY_ROWS}).", spontaneous),
        ReportTable("signals", "Signal overview (new, ongoing, closed)", "signals",
                    "Status at the data-lock point, rebuilt from the signal decisions.",
                    signal_overview),
    ]  # fmt: skip
    figures = ([os_figure] if os_figure else []) + cusum_figures
    title = "Periodic signal report" + (f": {request.product}" if request.product else "")
    return Report(title, header, report_tables, figures)


def disproportionality_hits(
    counts: pd.DataFrame,
    thresholds: Thresholds | None = None,
    product: str | None = None,
) -> pd.DataFrame:
    """Product-event combinations meeting any disproportionality rule, most disproportionate
    (highest EB05) first; with ``product``, only that product's rows (the statistics still use
    every report as background)."""
    if counts.empty:
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    table = disproportionality(counts, thresholds or Thresholds())
    flags = ["evans_signal", "ror_signal", "ic_signal", "eb05_signal"]
    hits = table[table[flags].any(axis=1)]
    if product is not None:
        wanted = find_product(product)
        hits = hits[hits["product"].map(lambda p: find_product(str(p)) == wanted)]
    return hits.sort_values(
        ["eb05", "product", "event"], ascending=[False, True, True]
    ).reset_index(drop=True)


def thresholds_text(thresholds: Thresholds) -> str:
    """The rule set in words, for every output that applies it (pharmacovigilance.md §8)."""
    t = thresholds
    return (
        f"Evans: PRR >= {t.prr_min:g}, chi-square >= {t.chi2_min:g}, a >= {t.evans_min_reports}; "
        f"ROR: lower 95% bound > {t.ror_lower_above:g}, a >= {t.ror_min_reports}; "
        f"IC025 > {t.ic025_above:g}; EB05 >= {t.eb05_min:g}"
    )


MONITORING_SETTINGS = {
    "cusum_odds_ratio": CUSUM_ODDS_RATIO,
    "cusum_arl0": CUSUM_ARL0,
    "cusum_simulations": CUSUM_SIMULATIONS,
    "cusum_seed": CUSUM_SEED,
    "bayes_certainty": BAYES_CERTAINTY,
    "bayes_prior_patients": BAYES_PRIOR_PATIENTS,
    "bayes_min_n": BAYES_MIN_N,
}
"""The monitoring settings, recorded with every analysis run that uses them."""

__all__ = [
    "MONITORING_SETTINGS",
    "MonitoredChart",
    "ReportRequest",
    "build_report",
    "disproportionality_hits",
    "sequential_monitoring",
    "survival_figure",
    "thresholds_text",
]
