"""The tables of the periodic signal report: pure functions of the report's input frames.

Each function takes frames of :class:`ReportInputs` (read by ``pv_monitor.store.report_io``) and
returns one table whose columns say whether they count **patients** or **events**
(pharmacovigilance.md §1.3 and §8: "state in each table whether counts are patients or events").
"Interval" means data-lock interval ``[interval_start, data_lock_point]``; "cumulative" means
everything up to the data-lock point.

Definitions (also in ``docs/signals.md``):

* **Exposure**: infused subjects, by their first infusion date.
* **CRS and ICANS incidence**: patients whose first infusion was followed by an episode with
  onset on days 0-28 (``ACUTE_WINDOW_DAYS``), by highest ASTCT grade in that window:
  cumulative incidence in a fixed post-infusion window, as pharmacovigilance.md §2.4 asks for
  acute toxicities, never an exposure-adjusted rate.
* **Serious adverse events**: reported adverse events flagged serious, counted as patients and as
  events, by system organ class and preferred term. The preferred term is the coded term when
  the export gives one, else the reported term as given; the system organ class comes from a
  licensed MedDRA hierarchy when one is configured (:mod:`pv_monitor.reference.meddra`), else
  it reads "not coded".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pv_monitor.reference.infections import is_infection
from pv_monitor.signals.incidence import compare_with_reference

ACUTE_WINDOW_DAYS = 28
"""CRS and ICANS incidence window, days 0-28 after infusion (pharmacovigilance.md §2.4: acute
toxicities as cumulative incidence in fixed post-infusion windows; CRS and ICANS onset medians
are days 2-6 in the pivotal trials, clinical.md §7.2)."""
AGE_BANDS = ((0, 18, "<18"), (18, 65, "18-64"), (65, 75, "65-74"), (75, 200, ">=75"))
"""Age bands of the exposure table. pharmacovigilance.md §1.3 asks for exposure by age band
without naming bands; these (children, adults, older adults in two bands) are a project choice."""
NOT_CODED = "not coded (no MedDRA file configured)"
GRADE3 = 3


@dataclass(frozen=True)
class ReportInputs:
    """The frames one report is computed from (all cut at the data-lock point)."""

    infusions: pd.DataFrame
    episodes: pd.DataFrame
    icaht: pd.DataFrame
    iec_hs: pd.DataFrame
    treatments: pd.DataFrame
    adverse_events: pd.DataFrame
    assessments: pd.DataFrame
    deaths: pd.DataFrame
    model_risks: pd.DataFrame | None = None
    """Day-0 predicted risks of grade >= 3 CRS/ICANS from an accepted trained model
    (``infusion_id, score, value``; scores ``crs_grade3_by_day0``, ``icans_grade3_by_day0``)."""


def _interval_mask(days: pd.Series, start: date) -> pd.Series:
    return pd.to_datetime(days) >= pd.Timestamp(start)


def age_band(age: pd.Series) -> pd.Series:
    """Age bands of :data:`AGE_BANDS`; "not recorded" when the age is missing.

    Examples
    --------
    >>> age_band(pd.Series([10, 18, 64.9, 70, None])).tolist()
    ['<18', '18-64', '18-64', '65-74', 'not recorded']
    """
    labels = pd.Series("not recorded", index=age.index, dtype=object)
    for low, high, label in AGE_BANDS:
        labels[(age >= low) & (age < high)] = label
    return labels


def exposure(infusions: pd.DataFrame, interval_start: date) -> pd.DataFrame:
    """Infused patients by product, diagnosis, age band and sex: cumulative and in the interval.

    Examples
    --------
    >>> infusions = pd.DataFrame({"product": ["Kymriah", "Kymriah", "Yescarta"],
    ...     "diagnosis": ["B-ALL", "LBCL", "LBCL"], "age_years": [12, 60, 70],
    ...     "sex": ["F", "M", "M"],
    ...     "infusion_date": pd.to_datetime(["2025-01-01", "2026-02-01", "2026-03-01"])})
    >>> exposure(infusions, date(2026, 1, 1)).query("dimension == 'product'")
      dimension  category  patients_cumulative  patients_interval
    0   product   Kymriah                    2                  1
    1   product  Yescarta                    1                  1
    """
    frame = infusions.assign(
        age_band=age_band(infusions["age_years"]),
        in_interval=_interval_mask(infusions["infusion_date"], interval_start),
    )
    parts = []
    for dimension in ("product", "diagnosis", "age_band", "sex"):
        counts = frame.groupby(dimension).agg(
            patients_cumulative=("in_interval", "size"), patients_interval=("in_interval", "sum")
        )
        parts.append(
            counts.reset_index(names="category").assign(dimension=dimension.replace("_", " "))
        )
    total = pd.DataFrame(
        {
            "dimension": ["all"],
            "category": ["all products"],
            "patients_cumulative": [len(frame)],
            "patients_interval": [int(frame["in_interval"].sum())],
        }
    )
    table = pd.concat([*parts, total], ignore_index=True)
    table["patients_interval"] = table["patients_interval"].astype(int)
    return table[["dimension", "category", "patients_cumulative", "patients_interval"]]


def serious_adverse_events(
    adverse_events: pd.DataFrame,
    interval_start: date,
    hierarchy: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Serious adverse events by system organ class and preferred term: patients and events.

    ``hierarchy`` (columns ``pt_name``, ``soc_name``, ``soc_order``) comes from a licensed MedDRA
    file (:func:`pv_monitor.reference.meddra.load_hierarchy`); without it every term's SOC is
    :data:`NOT_CODED`. Rows follow the SOC order (internationally agreed order when MedDRA
    gives it), then the preferred term. Events with no onset date count as cumulative only.

    Examples
    --------
    >>> aes = pd.DataFrame({"subject_id": [1, 1, 2, 3], "serious": [True, True, True, False],
    ...     "term": ["Sepsis", "Sepsis", "Sepsis", "Rash"], "decoded_term": [None] * 4,
    ...     "onset_date": pd.to_datetime(["2025-05-01", "2026-02-01", "2026-03-01", None])})
    >>> table = serious_adverse_events(aes, date(2026, 1, 1))
    >>> table.iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'soc': 'not coded (no MedDRA file configured)', 'preferred_term': 'Sepsis',
     'patients_cumulative': 2, 'events_cumulative': 3, 'patients_interval': 2,
     'events_interval': 2}
    """
    serious = adverse_events[adverse_events["serious"].fillna(False).astype(bool)]
    frame = serious.assign(
        preferred_term=serious["decoded_term"].fillna(serious["term"]),
        in_interval=_interval_mask(serious["onset_date"], interval_start),
    )
    if hierarchy is not None:
        soc = hierarchy.drop_duplicates("pt_name").set_index("pt_name")
        frame = frame.assign(
            soc=frame["preferred_term"].map(soc["soc_name"]).fillna("not found in MedDRA"),
            soc_order=frame["preferred_term"].map(soc["soc_order"]).fillna(999),
        )
    else:
        frame = frame.assign(soc=NOT_CODED, soc_order=0)
    interval = frame[frame["in_interval"]]
    keys = ["soc_order", "soc", "preferred_term"]
    cumulative = frame.groupby(keys).agg(
        patients_cumulative=("subject_id", "nunique"), events_cumulative=("subject_id", "size")
    )
    recent = interval.groupby(keys).agg(
        patients_interval=("subject_id", "nunique"), events_interval=("subject_id", "size")
    )
    table = cumulative.join(recent).fillna(0).astype(int).reset_index()
    return table.sort_values(keys).drop(columns="soc_order").reset_index(drop=True)


def sae_line_listing(
    infusions: pd.DataFrame, adverse_events: pd.DataFrame, interval_start: date
) -> pd.DataFrame:
    """Line listing of serious adverse events with onset in the interval (DSUR §7.2): one row per
    event, with the pseudonymous case (subject) key, product, terms, onset, study day, reported
    grade and outcome. Causality is not captured by the exports pv-monitor loads, so the
    listing holds every serious event, not only serious adverse reactions.

    Examples
    --------
    >>> infusions = pd.DataFrame({"subject_id": [1], "subject_key": ["S01-001"],
    ...     "product": ["Kymriah"], "infusion_date": pd.to_datetime(["2026-01-10"])})
    >>> aes = pd.DataFrame({"subject_id": [1, 1], "serious": [True, True],
    ...     "term": ["Sepsis", "Pneumonia"], "decoded_term": [None, None],
    ...     "onset_date": pd.to_datetime(["2025-12-01", "2026-02-01"]),
    ...     "reported_grade": [3, 4], "outcome": ["recovered", "fatal"]})
    >>> sae_line_listing(infusions, aes, date(2026, 1, 1))[["case", "reported_term", "study_day"]]
          case reported_term  study_day
    0  S01-001     Pneumonia         22
    """
    serious = adverse_events[adverse_events["serious"].fillna(False).astype(bool)]
    onset = pd.to_datetime(serious["onset_date"])
    frame = serious[onset >= pd.Timestamp(interval_start)].merge(
        infusions[["subject_id", "subject_key", "product", "infusion_date"]], on="subject_id"
    )
    study_day = (
        pd.to_datetime(frame["onset_date"]) - pd.to_datetime(frame["infusion_date"])
    ).dt.days
    listing = pd.DataFrame(
        {
            "case": frame["subject_key"],
            "product": frame["product"],
            "preferred_term": frame["decoded_term"].fillna(frame["term"]),
            "reported_term": frame["term"],
            "onset_date": pd.to_datetime(frame["onset_date"]).dt.date,
            "study_day": study_day,
            "reported_grade": frame["reported_grade"],
            "outcome": frame["outcome"].fillna("not reported"),
        }
    )
    return listing.sort_values(["onset_date", "case", "reported_term"]).reset_index(drop=True)


def peak_grades(infusions: pd.DataFrame, episodes: pd.DataFrame, syndrome: str) -> pd.Series:
    """Highest grade per infusion of ``syndrome`` episodes with onset in the acute window
    (0 when none), aligned with ``infusions``.

    Examples
    --------
    >>> infusions = pd.DataFrame({"infusion_id": [1, 2, 3]})
    >>> episodes = pd.DataFrame({"infusion_id": [1, 1, 2], "syndrome": "crs",
    ...                          "onset_day": [2, 30, 5], "peak_grade": [1, 4, 2]})
    >>> peak_grades(infusions, episodes, "crs").tolist()
    [1, 2, 0]
    """
    rows = episodes[
        (episodes["syndrome"] == syndrome)
        & (episodes["onset_day"] >= 0)
        & (episodes["onset_day"] <= ACUTE_WINDOW_DAYS)
    ]
    peaks = rows.groupby("infusion_id")["peak_grade"].max()
    return infusions["infusion_id"].map(peaks).fillna(0).astype(int)


def toxicity_incidence(infusions: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """CRS and ICANS incidence (days 0-28) by product and highest grade: patients.

    One row per product and syndrome (and an "all products" row): ``n`` infused patients and
    the patients whose highest grade in the window was 1, 2, 3, 4 or 5, any grade and grade >= 3.

    Examples
    --------
    >>> infusions = pd.DataFrame({"infusion_id": [1, 2, 3], "product": ["Yescarta"] * 3})
    >>> episodes = pd.DataFrame({"infusion_id": [1, 1, 2], "syndrome": ["crs", "crs", "icans"],
    ...     "onset_day": [1, 9, 40], "peak_grade": [1, 3, 2]})
    >>> toxicity_incidence(infusions, episodes).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'product': 'Yescarta', 'syndrome': 'CRS', 'n': 3, 'grade_1': 0, 'grade_2': 0,
     'grade_3': 1, 'grade_4': 0, 'grade_5': 0, 'any_grade': 1, 'grade_3_plus': 1}
    """
    rows = []
    for syndrome in ("crs", "icans"):
        peaks = peak_grades(infusions, episodes, syndrome)
        frame = pd.DataFrame({"product": infusions["product"], "grade": peaks})
        for product, group in [*frame.groupby("product"), ("all products", frame)]:
            counts = {f"grade_{g}": int((group["grade"] == g).sum()) for g in range(1, 6)}
            rows.append(
                {"product": product, "syndrome": syndrome.upper(), "n": len(group)}
                | counts
                | {
                    "any_grade": int((group["grade"] >= 1).sum()),
                    "grade_3_plus": int((group["grade"] >= GRADE3).sum()),
                }
            )
    return pd.DataFrame(rows)


def incidence_against_reference(incidence: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Observed proportions with exact intervals against the pivotal-trial reference rates.

    ``incidence`` is :func:`toxicity_incidence`; ``extra`` holds further observed rows
    (``product, metric, events, n``) such as severe ICAHT. ICANS is compared with the trials'
    neurological-event rates (``neuro_*``), which were graded on other scales: the comparison
    names both scales (:func:`pv_monitor.signals.incidence.compare_with_reference`).
    """
    per_product = incidence[incidence["product"] != "all products"]
    metric = {"CRS": "crs", "ICANS": "neuro"}
    observed = pd.concat(
        [
            pd.DataFrame(
                {
                    "product": per_product["product"],
                    "metric": per_product["syndrome"].map(metric) + suffix,
                    "events": per_product[column],
                    "n": per_product["n"],
                }
            )
            for suffix, column in (("_any", "any_grade"), ("_grade3plus", "grade_3_plus"))
        ]
        + [extra],
        ignore_index=True,
    ).assign(scale="astct_2019")
    table = compare_with_reference(observed)
    columns = [
        "product",
        "metric",
        "events",
        "n",
        "proportion",
        "ci_lower",
        "ci_upper",
        "reference_trial",
        "reference_population",
        "reference_value",
        "reference_scale",
        "scale_note",
        "p_value",
        "assessment",
    ]
    return table[columns]


def programme_incidence(
    infusions: pd.DataFrame,
    adverse_events: pd.DataFrame,
    deaths: pd.DataFrame,
    cytopenia: pd.DataFrame,
    hierarchy: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Observed incidence rows (``product, metric, events, n``: patients) beyond CRS and ICANS,
    for :func:`incidence_against_reference`:

    * ``severe_icaht``: early ICAHT grade >= 3 among patients with an ICAHT grade;
    * ``iec_hs_screen_positive``: IEC-HS screen positive among patients screened;
    * ``infection_grade3plus``: a reported infection of grade >= 3 on or after the infusion day
      (infection by MedDRA SOC when configured, else by ``infection_terms_v1``);
    * ``death``: death from any cause by the lock, among infused patients.

    Examples
    --------
    >>> infusions = pd.DataFrame({"subject_id": [1, 2], "product": ["Kymriah"] * 2,
    ...     "infusion_date": pd.to_datetime(["2026-01-10", "2026-01-10"])})
    >>> aes = pd.DataFrame({"subject_id": [1, 2], "term": ["Sepsis", "Rash"],
    ...     "decoded_term": [None, None], "reported_grade": [3, 3],
    ...     "onset_date": pd.to_datetime(["2026-02-01", "2026-02-01"])})
    >>> cytopenia = pd.DataFrame({"product": ["Kymriah"], "n": [2], "icaht_graded": [2],
    ...     "early_icaht_grade3plus": [1], "iec_hs_screened": [0], "iec_hs_screen_positive": [0]})
    >>> deaths = pd.DataFrame({"subject_id": [2], "death_date": [None], "cause": [None]})
    >>> programme_incidence(infusions, aes, deaths, cytopenia).to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'product': 'Kymriah', 'metric': 'severe_icaht', 'events': 1, 'n': 2},
     {'product': 'Kymriah', 'metric': 'iec_hs_screen_positive', 'events': 0, 'n': 0},
     {'product': 'Kymriah', 'metric': 'infection_grade3plus', 'events': 1, 'n': 2},
     {'product': 'Kymriah', 'metric': 'death', 'events': 1, 'n': 2}]
    """
    events = adverse_events.merge(infusions[["subject_id", "infusion_date"]], on="subject_id")
    terms = events["decoded_term"].fillna(events["term"])
    after = pd.to_datetime(events["onset_date"]) >= pd.to_datetime(events["infusion_date"])
    severe = is_infection(terms, hierarchy) & (events["reported_grade"] >= GRADE3) & after
    infected = set(events.loc[severe, "subject_id"])
    dead = set(deaths["subject_id"])
    rows = []
    for product, group in infusions.groupby("product"):
        per = cytopenia[cytopenia["product"] == product].iloc[0]
        subjects = group["subject_id"]
        rows += [
            {"product": product, "metric": "severe_icaht",
             "events": int(per["early_icaht_grade3plus"]), "n": int(per["icaht_graded"])},
            {"product": product, "metric": "iec_hs_screen_positive",
             "events": int(per["iec_hs_screen_positive"]), "n": int(per["iec_hs_screened"])},
            {"product": product, "metric": "infection_grade3plus",
             "events": int(subjects.isin(infected).sum()), "n": len(group)},
            {"product": product, "metric": "death",
             "events": int(subjects.isin(dead).sum()), "n": len(group)},
        ]  # fmt: skip
    return pd.DataFrame(rows, columns=["product", "metric", "events", "n"])


def onset_and_duration(infusions: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Days to onset and duration of the first CRS and ICANS episode, by product: patients.

    Medians with minimum and maximum; an episode still open at the lock has no duration and is
    counted in ``ongoing``.
    """
    first = episodes[episodes["episode_number"] == 1].merge(
        infusions[["infusion_id", "product"]], on="infusion_id"
    )
    rows = []
    for (syndrome, product), group in first.groupby(["syndrome", "product"]):
        duration = group["duration_days"].dropna()
        rows.append(
            {
                "syndrome": str(syndrome).upper(),
                "product": product,
                "patients": len(group),
                "onset_day_median": float(group["onset_day"].median()),
                "onset_day_min": int(group["onset_day"].min()),
                "onset_day_max": int(group["onset_day"].max()),
                "duration_days_median": float(duration.median()) if len(duration) else np.nan,
                "duration_days_min": int(duration.min()) if len(duration) else pd.NA,
                "duration_days_max": int(duration.max()) if len(duration) else pd.NA,
                "ongoing": int(group["duration_days"].isna().sum()),
            }
        )
    return pd.DataFrame(rows)


def treatment_use(infusions: pd.DataFrame, treatments: pd.DataFrame) -> pd.DataFrame:
    """Patients given tocilizumab, corticosteroids or anakinra on or after the infusion day.

    Examples
    --------
    >>> infusions = pd.DataFrame({"subject_id": [1, 2], "product": ["Kymriah"] * 2,
    ...     "infusion_date": pd.to_datetime(["2026-01-10", "2026-01-10"])})
    >>> treatments = pd.DataFrame({"subject_id": [1, 1, 2], "drug_class":
    ...     ["il6_blockade", "corticosteroid", "corticosteroid"], "first_given":
    ...     pd.to_datetime(["2026-01-12", "2026-01-13", "2026-01-01"])})
    >>> treatment_use(infusions, treatments).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'product': 'Kymriah', 'n': 2, 'tocilizumab_patients': 1, 'corticosteroid_patients': 1,
     'anakinra_patients': 0}
    """
    given = treatments.merge(infusions[["subject_id", "infusion_date"]], on="subject_id")
    given = given[pd.to_datetime(given["first_given"]) >= pd.to_datetime(given["infusion_date"])]
    columns = {
        "il6_blockade": "tocilizumab_patients",
        "corticosteroid": "corticosteroid_patients",
        "il1_blockade": "anakinra_patients",
    }
    rows = []
    for product, group in [*infusions.groupby("product"), ("all products", infusions)]:
        subjects = given[given["subject_id"].isin(group["subject_id"])]
        row: dict[str, object] = {"product": product, "n": len(group)}
        for drug_class, column in columns.items():
            row[column] = int(
                subjects.loc[subjects["drug_class"] == drug_class, "subject_id"].nunique()
            )
        rows.append(row)
    return pd.DataFrame(rows)


def cytopenia_and_hlh(
    infusions: pd.DataFrame, icaht: pd.DataFrame, iec_hs: pd.DataFrame
) -> pd.DataFrame:
    """ICAHT grade >= 3 (early and late, EHA/EBMT 2023) and IEC-HS screen positives: patients.

    ``graded`` counts patients with any ICAHT grade (ungraded patients are not counted as
    grade 0); ``iec_hs_screened`` those the IEC-HS screen could assess.
    """
    grades = icaht.assign(
        phase=np.where(icaht["criteria_version"].str.contains(":late"), "late", "early")
    )
    worst = grades.pivot_table(index="infusion_id", columns="phase", values="grade", aggfunc="max")
    screen = iec_hs.groupby("infusion_id")["category"].agg(
        lambda c: "positive" if (c == "positive").any() else "negative"
    )
    frame = infusions[["infusion_id", "product"]].assign(
        early=infusions["infusion_id"].map(worst["early"]) if "early" in worst else np.nan,
        late=infusions["infusion_id"].map(worst["late"]) if "late" in worst else np.nan,
        screen=infusions["infusion_id"].map(screen),
    )
    rows = []
    for product, group in [*frame.groupby("product"), ("all products", frame)]:
        rows.append(
            {
                "product": product,
                "n": len(group),
                "icaht_graded": int((group["early"].notna() | group["late"].notna()).sum()),
                "early_icaht_grade3plus": int((group["early"] >= GRADE3).sum()),
                "late_icaht_grade3plus": int((group["late"] >= GRADE3).sum()),
                "iec_hs_screened": int(group["screen"].notna().sum()),
                "iec_hs_screen_positive": int((group["screen"] == "positive").sum()),
            }
        )
    return pd.DataFrame(rows)


def relapse_phenotypes(infusions: pd.DataFrame, assessments: pd.DataFrame) -> pd.DataFrame:
    """Patients relapsing after infusion by product and antigen phenotype of the relapse.

    The phenotype is the first antigen status recorded after the infusion (positive, dim,
    negative, lineage switch); a relapse with none recorded is "not recorded".
    """
    after = assessments.merge(
        infusions[["subject_id", "product", "infusion_date"]], on="subject_id"
    )
    after = after[pd.to_datetime(after["assessed_on"]) > pd.to_datetime(after["infusion_date"])]
    any_relapse = after.groupby("subject_id")["is_relapse"].any()
    relapsed = any_relapse[any_relapse].index
    status = after.dropna(subset=["antigen_status"]).groupby("subject_id")["antigen_status"].first()
    frame = infusions[infusions["subject_id"].isin(relapsed)][["subject_id", "product"]]
    frame = frame.assign(phenotype=frame["subject_id"].map(status).fillna("not recorded"))
    table = frame.groupby(["product", "phenotype"]).size().rename("patients").reset_index()
    return table.sort_values(["product", "phenotype"]).reset_index(drop=True)


def deaths(infusions: pd.DataFrame, deaths: pd.DataFrame, interval_start: date) -> pd.DataFrame:
    """Deaths by product and cause as reported: patients, cumulative and in the interval."""
    frame = deaths.merge(infusions[["subject_id", "product"]], on="subject_id").assign(
        cause=lambda d: d["cause"].fillna("not reported"),
        in_interval=lambda d: _interval_mask(d["death_date"], interval_start),
    )
    table = frame.groupby(["product", "cause"]).agg(
        patients_cumulative=("subject_id", "nunique"), patients_interval=("in_interval", "sum")
    )
    table["patients_interval"] = table["patients_interval"].astype(int)
    return table.reset_index().sort_values(["product", "cause"]).reset_index(drop=True)


def censor_at_lock(
    cohort: pd.DataFrame, infusions: pd.DataFrame, data_lock_point: date
) -> pd.DataFrame:
    """Survival rows of the report's cohort, with follow-up cut at the data-lock point.

    ``cohort`` is ``pv_monitor.store.survival_io.survival_inputs``; a subject outside the
    report's cohort is dropped, and a duration running past the lock becomes a censoring at
    the lock (event 0), so later data never enter the report.
    """
    day0 = infusions.set_index("infusion_id")["infusion_date"]
    frame = cohort[cohort["infusion_id"].isin(day0.index)].copy()
    horizon = (
        pd.Timestamp(data_lock_point) - pd.to_datetime(frame["infusion_id"].map(day0))
    ).dt.days.to_numpy(dtype=float)
    for duration, event in (("os_days", "os_event"), ("pfs_days", "pfs_event")):
        late = frame[duration].to_numpy() > horizon
        frame.loc[late, duration] = horizon[late]
        frame.loc[late, event] = 0
    return frame.reset_index(drop=True)


__all__ = [
    "ACUTE_WINDOW_DAYS",
    "AGE_BANDS",
    "ReportInputs",
    "age_band",
    "censor_at_lock",
    "cytopenia_and_hlh",
    "deaths",
    "exposure",
    "incidence_against_reference",
    "onset_and_duration",
    "peak_grades",
    "programme_incidence",
    "relapse_phenotypes",
    "sae_line_listing",
    "serious_adverse_events",
    "toxicity_incidence",
    "treatment_use",
]
