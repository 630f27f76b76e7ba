"""Incidence in trial and registry cohorts with exact intervals, against pivotal-trial rates.

Within-programme monitoring (pharmacovigilance.md §2.1, last note): in one sponsor's trials or a
registry the counts are too small and the comparators too different for disproportionality, so
a safety officer compares each product's observed incidence with the pivotal-trial rate of the
same metric (``pv_monitor/reference/pivotal_trial_rates_v1.csv``, clinical.md §7.2). This module
gives the pieces; its family label is :data:`FAMILY` ("rate vs expected"; pharmacovigilance.md
§8 asks every output to name its method family).

* :func:`clopper_pearson`: the exact ("Clopper-Pearson") interval of a binomial proportion,
  written with beta quantiles (Clopper CJ, Pearson ES. Biometrika 1934;26:404-413; the beta form
  as in Brown LD, Cai TT, DasGupta A. Stat Sci 2001;16:101-133, §4.2.1). The same numbers as
  R ``binom.test(x, n)$conf.int``.
* :func:`exact_poisson_rate`: an events-per-person-time rate with the exact Poisson interval in
  its chi-square form (pharmacovigilance.md §2.4; Garwood F. Biometrika 1936;28:437-442), the
  same numbers as R ``poisson.test(x, T)$conf.int``. For late, roughly constant-hazard events
  only (infections, secondary malignancies): acute CRS and ICANS cluster in the first weeks
  after one infusion and must be reported as cumulative incidence in a fixed window
  (pharmacovigilance.md §2.4, "Caveat for CAR-T").
* :func:`compare_with_reference`: observed proportion per product and metric with its exact
  interval, beside each matching reference figure (trial, population, n, grading scale,
  evidence tag, source), a two-sided exact binomial test of the observed count against the
  reference rate (``scipy.stats.binomtest``, the same p-value as R ``binom.test(x, n, p)``) and
  a plain-words assessment.

The reference rate is treated as a fixed number: its own sampling error (a trial of 55 to 269
patients) is not in the interval or the test, so a borderline "above" deserves a look at the
reference's n. Scales differ between trials (Lee 2014, Penn, ASTCT 2019, CTCAE neurologic
events); the comparison carries both scales and says when they differ, because a rate graded on
another scale is not the same quantity (clinical.md §3.3: there is no lossless mapping).

Examples
--------
>>> ci = clopper_pearson(3, 10)
>>> round(float(ci.lower), 4), round(float(ci.upper), 4)
(0.0667, 0.6525)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from pv_monitor.reference.products import find_product
from pv_monitor.reference.trials import PIVOTAL_RATES_VERSION, load_pivotal_rates

FloatArray = npt.NDArray[np.float64]

FAMILY = "rate vs expected"
"""Method family of every comparison (pharmacovigilance.md §2.1 note, §8)."""
METHOD = "exact binomial: Clopper-Pearson interval, two-sided binomial test vs reference rate"

ABOVE = "above reference: CI lower bound above reference rate"
CONSISTENT = "consistent with reference: reference rate inside CI"
BELOW = "below reference: CI upper bound below reference rate"
NO_REFERENCE = "no reference"
N_MISSING = "not computable: events or n missing"
N_ZERO = "not computable: n is 0"
ASSESSMENTS = (ABOVE, CONSISTENT, BELOW, NO_REFERENCE, N_MISSING, N_ZERO)
"""Every value the ``assessment`` column of :func:`compare_with_reference` takes."""

OBSERVED_COLUMNS = ("product", "metric", "events", "n")
"""Required columns of the observed frame; ``indication`` and ``scale`` are optional."""
REFERENCE_COLUMNS = ("trial", "population", "product", "indication", "n", "metric", "value")
"""Required columns of a reference table (``unit, scale, evidence, source, note`` optional)."""
COMPARISON_COLUMNS = (
    "product",
    "indication",
    "metric",
    "events",
    "n",
    "proportion",
    "ci_lower",
    "ci_upper",
    "ci_level",
    "observed_scale",
    "reference_trial",
    "reference_population",
    "reference_indication",
    "reference_n",
    "reference_value",
    "reference_scale",
    "reference_evidence",
    "reference_source",
    "reference_note",
    "reference_table",
    "scales_differ",
    "scale_note",
    "p_value",
    "assessment",
    "family",
    "method",
)


class ProportionInterval(NamedTuple):
    """A proportion with its exact interval; arrays of the broadcast shape of the inputs."""

    proportion: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float


class RateInterval(NamedTuple):
    """A rate per unit of person-time with its exact Poisson interval."""

    rate: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float


def _counts(values: npt.ArrayLike, name: str) -> FloatArray:
    """Non-negative whole numbers as floats; NaN stays NaN (missing)."""
    array = np.asarray(values, dtype=np.float64)
    known = array[~np.isnan(array)]
    if np.any(known < 0) or np.any(known != np.floor(known)) or np.any(np.isinf(known)):
        raise ValueError(f"{name} must be non-negative whole numbers (or NaN when missing)")
    return array


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (exclusive), got {level}")
    return float(level)


def clopper_pearson(
    events: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95
) -> ProportionInterval:
    """Exact (Clopper-Pearson) interval of a binomial proportion, vectorised.

    With alpha = 1 - level, the limits are the beta quantiles (Clopper & Pearson 1934; Brown,
    Cai & DasGupta 2001, §4.2.1)::

        lower = Beta^-1(alpha/2; x, n - x + 1)    (0 when x = 0)
        upper = Beta^-1(1 - alpha/2; x + 1, n - x)  (1 when x = n)

    Parameters
    ----------
    events, n : array_like
        Numbers of patients with the event and evaluable patients; broadcast together. NaN
        means missing and gives NaN, as does n = 0 (nothing to estimate); never 0.
    level : float
        Confidence level, 0.95 by default.

    Returns
    -------
    ProportionInterval
        ``proportion`` (x / n), ``lower``, ``upper`` as float arrays (0-d for scalar input),
        and ``level``.

    Raises
    ------
    ValueError
        Negative or fractional counts, or more events than patients.

    Examples
    --------
    R 4.2.2: ``binom.test(0, 10)$conf.int`` is 0 0.3084971; ``binom.test(10, 10)`` 0.6915029 1.

    >>> ci = clopper_pearson([0, 3, 10], 10)
    >>> ci.lower.round(4).tolist(), ci.upper.round(4).tolist()
    ([0.0, 0.0667, 0.6915], [0.3085, 0.6525, 1.0])
    >>> bool(np.isnan(clopper_pearson(2, float("nan")).lower))
    True
    """
    alpha = 1.0 - _check_level(level)
    x, size = np.broadcast_arrays(_counts(events, "events"), _counts(n, "n"))
    if np.any(x > size):
        raise ValueError("events must not exceed n")
    computable = ~np.isnan(x) & ~np.isnan(size) & (size > 0)
    xs = np.where(computable, x, 0.0)
    ns = np.where(computable, size, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(xs == 0, 0.0, stats.beta.ppf(alpha / 2, xs, ns - xs + 1))
        upper = np.where(xs == ns, 1.0, stats.beta.ppf(1 - alpha / 2, xs + 1, ns - xs))
    nan = np.float64(np.nan)
    return ProportionInterval(
        proportion=np.asarray(np.where(computable, xs / ns, nan), dtype=np.float64),
        lower=np.asarray(np.where(computable, lower, nan), dtype=np.float64),
        upper=np.asarray(np.where(computable, upper, nan), dtype=np.float64),
        level=float(level),
    )


def exact_poisson_rate(
    events: npt.ArrayLike, person_time: npt.ArrayLike, level: float = 0.95
) -> RateInterval:
    """Events per unit of person-time with the exact Poisson interval, vectorised.

    Chi-square form (pharmacovigilance.md §2.4; Garwood 1936), with alpha = 1 - level::

        lower = chi2_{alpha/2, 2x} / (2T)   (0 when x = 0)
        upper = chi2_{1-alpha/2, 2(x+1)} / (2T)

    The rate is in events per unit of ``person_time`` (per patient-year when T is in years;
    multiply by 100 for "per 100 patient-years"). Whether x counts patients with a first event
    (EAIR, person-time to the first event) or all events (EAER, all exposure) is the caller's
    definition and must be stated with the result (pharmacovigilance.md §2.4). Use only for
    late, roughly constant-hazard events; acute CRS and ICANS are cumulative incidences in a
    fixed window (:func:`clopper_pearson`).

    Parameters
    ----------
    events : array_like
        Event counts (whole numbers; NaN = missing).
    person_time : array_like
        Person-time at risk, > 0 (NaN = missing; 0 gives NaN).
    level : float
        Confidence level, 0.95 by default.

    Returns
    -------
    RateInterval
        ``rate``, ``lower``, ``upper`` float arrays and ``level``.

    Examples
    --------
    9 events in 40 patient-years (pharmacovigilance.md §2.4; R ``poisson.test(9, 40)``
    gives 0.1028843 0.4271201):

    >>> r = exact_poisson_rate(9, 40)
    >>> round(float(r.rate), 3), round(float(r.lower), 3), round(float(r.upper), 3)
    (0.225, 0.103, 0.427)
    """
    alpha = 1.0 - _check_level(level)
    x, time = np.broadcast_arrays(
        _counts(events, "events"), np.asarray(person_time, dtype=np.float64)
    )
    known_time = time[~np.isnan(time)]
    if np.any(known_time < 0) or np.any(np.isinf(known_time)):
        raise ValueError("person_time must be finite and non-negative (or NaN when missing)")
    computable = ~np.isnan(x) & ~np.isnan(time) & (time > 0)
    xs = np.where(computable, x, 0.0)
    ts = np.where(computable, time, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(xs == 0, 0.0, stats.chi2.ppf(alpha / 2, 2 * xs) / (2 * ts))
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * (xs + 1)) / (2 * ts)
    nan = np.float64(np.nan)
    return RateInterval(
        rate=np.asarray(np.where(computable, xs / ts, nan), dtype=np.float64),
        lower=np.asarray(np.where(computable, lower, nan), dtype=np.float64),
        upper=np.asarray(np.where(computable, upper, nan), dtype=np.float64),
        level=float(level),
    )


def _product_key(name: object) -> object:
    """One spelling per product: the approved product's short name, else the trimmed name."""
    if not isinstance(name, str):
        return pd.NA
    product = find_product(name)
    return product.short_name if product is not None else name.strip().casefold()


def _text(value: object) -> str | None:
    """A text cell, or None when it is missing (None, NA or NaN)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _scale_note(observed: str | None, reference: str | None) -> tuple[object, str]:
    """Whether the scales differ (True, False or NA) and the plain-words note."""
    if reference is None:
        return pd.NA, "reference scale not recorded"
    if observed is None:
        return pd.NA, f"reference graded on {reference}; observed scale not given"
    if observed == reference:
        return False, f"same scale ({reference})"
    return True, f"scales differ: observed {observed}, reference {reference}"


def _assessment(proportion_known: bool, n: float, lower: float, upper: float, ref: float) -> str:
    if not proportion_known:
        return N_ZERO if n == 0 else N_MISSING
    if lower > ref:
        return ABOVE
    if upper < ref:
        return BELOW
    return CONSISTENT


def compare_with_reference(
    observed: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Observed incidence per product and metric against the pivotal-trial rates.

    Each observed row is matched with every reference figure of the same ``metric`` (the
    reference table's vocabulary: ``crs_any``, ``crs_grade3plus``, ``neuro_any``,
    ``neuro_grade3plus``, ``infection_grade3plus``,
    ``prolonged_cytopenia_grade3plus_day30``, ``severe_icaht``, ...) and the same product
    (brand, generic and short names are one product, :func:`pv_monitor.reference.find_product`).
    When the observed frame has an ``indication`` column, a reference figure must also be for
    that indication, and figures without a product (the ICAHT validation cohort) match on
    indication alone. A product with several figures (ZUMA-1 label and NEJM populations; JULIET
    and ELIANA) gets one row per figure, each naming its trial and population. Only
    proportions are compared (``unit == "proportion"``; onset and duration days are not).

    Parameters
    ----------
    observed : DataFrame
        ``product, metric, events, n`` (one row per product and metric; ``events`` patients
        with the event among ``n`` evaluable patients in the metric's window), optionally
        ``indication`` and ``scale`` (the grading scale of the observed grades, e.g.
        ``astct_2019``). NaN events or n mean missing and are reported as such, never as 0.
    reference : DataFrame, optional
        A rate table with the columns of :func:`pv_monitor.reference.load_pivotal_rates`;
        the v1 pivotal-trial table by default.
    level : float
        Confidence level of the exact interval, 0.95 by default.

    Returns
    -------
    DataFrame
        :data:`COMPARISON_COLUMNS`: the observed counts, ``proportion`` with its exact
        ``ci_lower``/``ci_upper`` (:func:`clopper_pearson`), the reference figure
        (``reference_trial, reference_population, reference_indication, reference_n,
        reference_value, reference_scale, reference_evidence, reference_source,
        reference_note``; NA when there is none), ``reference_table`` (which table),
        ``scales_differ`` and a ``scale_note`` in words, the two-sided exact binomial
        ``p_value`` of the observed count under the reference rate, the ``assessment`` (one
        of :data:`ASSESSMENTS`), the method ``family`` and ``method``. Rows follow the
        observed order, then the reference table's order.

    Raises
    ------
    ValueError
        A required column is missing, counts are negative or fractional, or events exceed n.

    Examples
    --------
    >>> observed = pd.DataFrame({"product": ["Yescarta", "Yescarta", "Aucatzyl"],
    ...                          "metric": ["crs_grade3plus", "iec_hs", "crs_grade3plus"],
    ...                          "events": [30, 2, 1], "n": [108, 108, None],
    ...                          "scale": "astct_2019"})
    >>> table = compare_with_reference(observed)
    >>> for row in table.itertuples():
    ...     print(row.reference_trial, "|", row.reference_population, "|", row.assessment)
    ZUMA-1 | label Study 1 | above reference: CI lower bound above reference rate
    ZUMA-1 | NEJM phase 2 | above reference: CI lower bound above reference rate
    <NA> | <NA> | no reference
    FELIX | phase 2 | not computable: events or n missing
    >>> table.loc[0, "scale_note"]
    'scales differ: observed astct_2019, reference lee_2014'
    >>> f"{table.loc[0, 'p_value']:.6e}"  # R: binom.test(30, 108, p = 0.13)$p.value
    '4.001891e-05'
    """
    missing = [c for c in OBSERVED_COLUMNS if c not in observed.columns]
    if missing:
        raise ValueError(f"observed frame lacks columns {missing}")
    if reference is None:
        reference = load_pivotal_rates()
        table_name = f"pivotal_trial_rates_{PIVOTAL_RATES_VERSION}"
    else:
        table_name = "caller-supplied"
    missing = [c for c in REFERENCE_COLUMNS if c not in reference.columns]
    if missing:
        raise ValueError(f"reference table lacks columns {missing}")
    if "unit" in reference.columns:
        reference = reference[reference["unit"] == "proportion"]
    ref = reference.reset_index(drop=True)
    ref_products = ref["product"].map(_product_key)
    reference_metrics = set(ref["metric"])

    events = _counts(observed["events"].to_numpy(dtype=np.float64, na_value=np.nan), "events")
    sizes = _counts(observed["n"].to_numpy(dtype=np.float64, na_value=np.nan), "n")
    ci = clopper_pearson(events, sizes, level)
    has_indication = "indication" in observed.columns
    has_scale = "scale" in observed.columns

    rows: list[dict[str, object]] = []
    for i, record in enumerate(observed.to_dict("records")):
        product = _product_key(record["product"])
        indication = _text(record["indication"]) if has_indication else None
        observed_scale = _text(record["scale"]) if has_scale else None
        same_product = (ref_products == product).fillna(False)
        if indication is not None:
            same_indication = ref["indication"].isna() | (ref["indication"] == indication)
            no_product = ref["product"].isna() & (ref["indication"] == indication)
            matches = ref[(ref["metric"] == record["metric"])
                          & ((same_product & same_indication) | no_product)]  # fmt: skip
        else:
            matches = ref[(ref["metric"] == record["metric"]) & same_product]
        base: dict[str, object] = {
            "product": record["product"],
            "indication": indication if indication is not None else pd.NA,
            "metric": record["metric"],
            "events": events[i],
            "n": sizes[i],
            "proportion": float(ci.proportion[i]),
            "ci_lower": float(ci.lower[i]),
            "ci_upper": float(ci.upper[i]),
            "ci_level": ci.level,
            "observed_scale": observed_scale if observed_scale is not None else pd.NA,
            "reference_table": table_name,
            "family": FAMILY,
            "method": METHOD,
        }
        known = not np.isnan(ci.proportion[i])
        if matches.empty:
            why = (
                "no reference figure for this product and metric"
                if record["metric"] in reference_metrics
                else "metric not in the reference table's vocabulary"
            )
            rows.append(
                base
                | {"reference_note": why, "scales_differ": pd.NA, "scale_note": pd.NA}
                | {"p_value": np.nan, "assessment": NO_REFERENCE}
            )
            continue
        for ref_row in matches.to_dict("records"):
            value = float(ref_row["value"])
            reference_scale = _text(ref_row.get("scale"))
            differ, note = _scale_note(observed_scale, reference_scale)
            p_value = (
                float(stats.binomtest(int(events[i]), int(sizes[i]), value).pvalue)
                if known
                else np.nan
            )
            rows.append(
                base
                | {
                    "reference_trial": ref_row["trial"],
                    "reference_population": ref_row["population"],
                    "reference_indication": ref_row["indication"],
                    "reference_n": ref_row["n"],
                    "reference_value": value,
                    "reference_scale": reference_scale if reference_scale else pd.NA,
                    "reference_evidence": ref_row.get("evidence", pd.NA),
                    "reference_source": ref_row.get("source", pd.NA),
                    "reference_note": ref_row.get("note", pd.NA),
                    "scales_differ": differ,
                    "scale_note": note,
                    "p_value": p_value,
                    "assessment": _assessment(
                        known, sizes[i], float(ci.lower[i]), float(ci.upper[i]), value
                    ),
                }
            )
    result = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    for column in ("events", "n", "reference_n"):
        result[column] = result[column].astype("Float64").round().astype("Int64")
    for column in COMPARISON_COLUMNS:
        if result[column].dtype == object and column != "scales_differ":
            result[column] = result[column].astype("string")
    result["scales_differ"] = result["scales_differ"].astype("boolean")
    return result
