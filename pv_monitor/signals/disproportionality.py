"""Disproportionality of product-event pairs in spontaneous reports: PRR, chi-square, ROR, IC
and the Gamma-Poisson Shrinker's EBGM (pharmacovigilance.md §2.1).

For a product D and an event E, counted in unique reports:

+-----------+-------+-------+
|           | E     | not E |
+===========+=======+=======+
| D         | a     | b     |
+-----------+-------+-------+
| not D     | c     | d     |
+-----------+-------+-------+

with ``a = n11`` the reports naming both, ``a + b`` the reports naming the product,
``a + c`` the reports naming the event, and ``N = a + b + c + d`` all reports.

Input: the counts table
-----------------------
One row per product-event pair, or per pair and stratum, with the columns of
:data:`COUNT_COLUMNS`:

* ``a``: unique reports naming both;
* ``product_reports``: unique reports naming the product;
* ``event_reports``: unique reports naming the event;
* ``total_reports``: all reports.

The margins are counted within the row's stratum when the table has a ``stratum`` column.
:func:`report_counts` builds the table from report-level rows, and
``pv_monitor.store.spontaneous_counts`` builds it from the store. Unique reports are counted the
way openEBGM's ``processRaw`` counts unique ids (Canida & Ihrie 2017): a report that names a
product on two drug lines, or an event twice, counts once.

Statistics, with their sources
------------------------------
* Expected count (DuMouchel 1999; pharmacovigilance.md §2.1):
  ``E = (a + b)(a + c) / N``.
* **PRR** (Evans, Waller & Davis 2001, [R14]): ``[a / (a + b)] / [c / (c + d)]``.
* **Chi-square with Yates's correction**, on one degree of freedom (as used with the PRR,
  [R15]): ``N (|ad - bc| - N/2)^2 / [(a + b)(c + d)(a + c)(b + d)]``. As in R's
  ``chisq.test(correct = TRUE)``, the correction never exceeds ``|ad - bc|``, so a table that
  matches its expected counts scores 0, not a positive value produced by over-correction.
* **ROR** with a 95 % confidence interval (Rothman, Lanes & Sacks 2004; [R15]):
  ``ad / bc``, ``exp(ln ROR +/- 1.959964 sqrt(1/a + 1/b + 1/c + 1/d))``.
* **IC**, the information component of the BCPNN (Bate et al. 1998, *Eur J Clin Pharmacol*
  54:315-321) in WHO-UMC's shrinkage form ([R16]): ``log2((a + 0.5) / (E + 0.5))``. Its 95 %
  credibility interval ``IC025``-``IC975`` comes from the quantiles of the gamma posterior
  ``Gamma(shape a + 0.5, rate E + 0.5)``: ``IC025 = log2(qgamma(0.025, a + 0.5, E + 0.5))``.
  This follows the gamma credibility intervals Norén et al. proposed to replace the
  large-sample normal approximation (*Stat Med* 2006;25:3740-3757, doi:10.1002/sim.2473), as
  UMC uses them (Norén, Hopstadius & Bate 2013, *Stat Methods Med Res* 22:57-69). The exact
  gamma quantile is computed (``scipy.special.gammaincinv``), as vigicaen's ``ic_tail`` and
  pvda's ``ci_for_ic`` do, not a closed-form approximation of it.
* **EBGM, EB05, EB95** from the Gamma-Poisson Shrinker (DuMouchel 1999, [R17]; see
  :mod:`pv_monitor.signals.gps`). The prior is fitted on every pair with ``a >= 1``, without
  data squashing, unless one is given.

Stratification
--------------
With a ``stratum`` column (for example sex or age band), the GPS uses the stratified
expected count ``gps_expected = sum over strata s of n_s(product) n_s(event) / n_s``, summed
over the strata in which both the product and the event have reports. This is openEBGM's
``processRaw(stratify = TRUE)``. The 2x2 statistics (PRR, chi-square, ROR, IC) use the crude
table, collapsed over strata. openEBGM does the same for the PRR ("PRR calculations ignore
stratification").

Zero cells
----------
No continuity correction is applied unless one is asked for. A ratio that would divide by
zero is **not computable**: its numeric column is NaN (never ``inf``), and a text column says
why, for example ``prr_note = "not computable: c = 0"``. In detail:

* PRR: not computable when ``a + b = 0``, ``c + d = 0`` or ``c = 0``.
* Chi-square: not computable when any margin (``a + b``, ``c + d``, ``a + c``, ``b + d``)
  is 0.
* ROR: not computable when ``b = 0`` or ``c = 0``. When ``a = 0`` or ``d = 0`` the ROR is 0,
  but its interval is not computable (``ln 0``); ``ror_note`` says so.
* IC and GPS: always computable. The shrinkage (+0.5 for the IC, the prior for the GPS) is
  part of the method, not a correction.

With ``continuity_correction = k > 0``, ``k`` is added to all four cells of the rows that
have a zero cell (Haldane 1956; Anscombe 1956), before the PRR and the ROR with its interval
are computed. The note then records it: ``"corrected: +0.5 in every cell (c = 0)"``.

A rule whose statistic is not computable does not flag the pair.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from pv_monitor.signals.gps import GpsPrior, fit_gps_prior, gps_scores

COUNT_COLUMNS = ("product", "event", "a", "product_reports", "event_reports", "total_reports")
"""Columns of the counts table, in order; ``stratum`` follows ``event`` when stratified."""
STRATUM = "stratum"
NOT_COMPUTABLE = "not computable"
Z_95 = 1.959963984540054
"""Standard normal 97.5th percentile, for the ROR's 95 % interval."""
IC_SHRINKAGE = 0.5
"""Added to observed and expected counts in the IC (Norén et al. 2006, 2013)."""

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Thresholds:
    """Signal-detection thresholds of the four rules. One object, recorded with every result.

    The defaults are the usual published thresholds (pharmacovigilance.md §2.1):

    * **Evans** (Evans, Waller & Davis 2001, [R14]): ``PRR >= 2``, ``chi2 >= 4`` and
      ``a >= 3``.
    * **ROR** ([R15]; the rule used in CAR-T FAERS studies [R36]): lower bound of the 95 %
      interval ``> 1``, with ``a >= 3``.
    * **IC** (WHO-UMC, [R16]): ``IC025 > 0``.
    * **EBGM** (DuMouchel 1999; the openEBGM vignette's QUANT_05 >= 2; [R15][R17]):
      ``EB05 >= 2``.

    Alternatives a protocol may declare instead include MHRA's ``EB05 >= 1.8, n >= 3,
    EBGM >= 2.5`` and EMA's ``PRR lower 95 % bound >= 1, n >= 5`` ([R18]). Those need rules
    this object does not hold yet. Comparisons keep the direction each source states: ``>=``
    for PRR, chi-square, counts and EB05, and ``>`` for the ROR lower bound and IC025.

    Attributes
    ----------
    name : str
        Name of the threshold set, recorded in every output row.
    prr_min, chi2_min : float
        Evans rule: ``PRR >= prr_min`` and ``chi2 >= chi2_min``.
    evans_min_reports : int
        Evans rule: ``a >= evans_min_reports``.
    ror_lower_above : float
        ROR rule: lower 95 % bound ``> ror_lower_above``.
    ror_min_reports : int
        ROR rule: ``a >= ror_min_reports``.
    ic025_above : float
        IC rule: ``IC025 > ic025_above``.
    eb05_min : float
        EBGM rule: ``EB05 >= eb05_min``.

    Examples
    --------
    >>> Thresholds().describe()
    'default: Evans PRR >= 2, chi2 >= 4, a >= 3; ROR lower95 > 1, a >= 3; IC025 > 0; EB05 >= 2'
    >>> Thresholds(name="MHRA-like", eb05_min=1.8).eb05_min
    1.8
    """

    name: str = "default"
    prr_min: float = 2.0
    chi2_min: float = 4.0
    evans_min_reports: int = 3
    ror_lower_above: float = 1.0
    ror_min_reports: int = 3
    ic025_above: float = 0.0
    eb05_min: float = 2.0

    def describe(self) -> str:
        """The threshold set as one line of text: its name and every value."""
        return (
            f"{self.name}: Evans PRR >= {self.prr_min:g}, chi2 >= {self.chi2_min:g}, "
            f"a >= {self.evans_min_reports}; ROR lower95 > {self.ror_lower_above:g}, "
            f"a >= {self.ror_min_reports}; IC025 > {self.ic025_above:g}; "
            f"EB05 >= {self.eb05_min:g}"
        )


ZERO_CELL_HANDLING = (
    "no continuity correction; a ratio that divides by zero is NaN with a 'not computable' "
    "note; IC and EBGM use their own shrinkage"
)

RESULT_COLUMNS = (
    "product",
    "event",
    "a",
    "b",
    "c",
    "d",
    "expected",
    "gps_expected",
    "prr",
    "prr_note",
    "chi2",
    "chi2_note",
    "ror",
    "ror_lower",
    "ror_upper",
    "ror_note",
    "ic",
    "ic025",
    "ic975",
    "ebgm",
    "eb05",
    "eb95",
    "eb_note",
    "evans_signal",
    "ror_signal",
    "ic_signal",
    "eb05_signal",
    "thresholds",
)
"""Columns of :func:`disproportionality`'s result, in order."""


def report_counts(
    rows: pd.DataFrame,
    *,
    report: str = "id",
    product: str = "product",
    event: str = "event",
    stratum: str | None = None,
) -> pd.DataFrame:
    """The counts table from report-level rows (one row per report, product and event).

    Counts unique reports the way openEBGM's ``processRaw`` counts unique ids. ``a`` is the
    number of distinct reports per product-event pair. The margins are the distinct reports per
    product, per event and in total, within the stratum when ``stratum`` is given. Duplicate
    rows (a report naming a product or an event twice) count once.

    Parameters
    ----------
    rows : pandas.DataFrame
        Report-level rows. Every report contributes its products crossed with its events.
    report, product, event : str
        Names of the report id, product and event columns.
    stratum : str, optional
        Name of a stratification column. It describes the report, so a report must have one
        value only.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COUNT_COLUMNS` (with ``stratum`` after ``event`` when stratified), one
        row per pair (and stratum) with ``a >= 1``, sorted by product, event (and stratum).

    Raises
    ------
    ValueError
        If a report has more than one stratum value, or a column is missing.

    Examples
    --------
    >>> rows = pd.DataFrame(
    ...     {
    ...         "id": [1, 1, 1, 2, 3, 3],
    ...         "product": ["X", "X", "Y", "X", "Y", "Y"],
    ...         "event": ["rash", "rash", "rash", "fever", "fever", "rash"],
    ...     }
    ... )
    >>> report_counts(rows)
      product  event  a  product_reports  event_reports  total_reports
    0       X  fever  1                2              2              3
    1       X   rash  1                2              2              3
    2       Y  fever  1                2              2              3
    3       Y   rash  2                2              2              3
    """
    needed = [report, product, event] + ([stratum] if stratum else [])
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    frame = rows[needed].rename(
        columns={report: "_id", product: "product", event: "event"}
        | ({stratum: STRATUM} if stratum else {})
    )
    keys = [STRATUM] if stratum else []
    if stratum and _varies(frame, "_id", STRATUM):
        raise ValueError(f"a report has more than one value of {stratum!r}")

    def reports(by: list[str]) -> pd.Series:
        """Distinct reports per group of ``by``."""
        unique = frame.drop_duplicates(["_id", *by])
        return unique.groupby(by, sort=True, observed=True)["_id"].count()

    counts = (
        reports(["product", "event", *keys])
        .rename("a")
        .reset_index()
        .merge(reports(["product", *keys]).rename("product_reports").reset_index())
        .merge(reports(["event", *keys]).rename("event_reports").reset_index())
    )
    if stratum:
        totals = frame.drop_duplicates("_id").groupby(STRATUM, observed=True).size()
        counts["total_reports"] = counts[STRATUM].map(totals).to_numpy()
    else:
        counts["total_reports"] = frame["_id"].nunique()
    columns = ["product", "event", *keys, *COUNT_COLUMNS[2:]]
    out = counts[columns].sort_values(["product", "event", *keys], kind="stable")
    for column in COUNT_COLUMNS[2:]:
        out[column] = out[column].astype(np.int64)
    return out.reset_index(drop=True)


def _varies(frame: pd.DataFrame, by: str | list[str], column: str) -> bool:
    """True when ``column`` takes more than one value within a group of ``by``."""
    spread = frame.groupby(by, sort=False, observed=True)[column].agg(["min", "max"])
    return bool((spread["min"] != spread["max"]).any())


def _crude_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Validate the counts table; one row per pair with a, margins, N and the GPS expected."""
    missing = [c for c in COUNT_COLUMNS if c not in counts.columns]
    if missing:
        raise ValueError(f"the counts table lacks column(s): {', '.join(missing)}")
    stratified = STRATUM in counts.columns
    table = counts[[*COUNT_COLUMNS, *([STRATUM] if stratified else [])]].copy()
    if not stratified:
        table[STRATUM] = ""
    numbers = table[list(COUNT_COLUMNS[2:])]
    if numbers.isna().any().any():
        raise ValueError("counts must not be missing")
    values = numbers.to_numpy(dtype=np.float64)
    if np.any(values < 0) or np.any(values != np.floor(values)):
        raise ValueError("counts must be whole numbers >= 0")
    a, n_product, n_event, total = (table[c].astype(np.int64) for c in COUNT_COLUMNS[2:])
    if bool(((a > n_product) | (a > n_event) | (n_product + n_event - a > total)).any()):
        raise ValueError(
            "inconsistent counts: need a <= product_reports, a <= event_reports and "
            "product_reports + event_reports - a <= total_reports"
        )
    if table.duplicated(["product", "event", STRATUM]).any():
        raise ValueError("a product-event pair appears twice in the same stratum")
    margins = {}
    for key, column in (("product", "product_reports"), ("event", "event_reports")):
        if _varies(table, [key, STRATUM], column):
            raise ValueError(f"{column} differs between rows of the same {key} and stratum")
        margins[key] = table.groupby([key, STRATUM], sort=False)[column].first()
    if _varies(table, STRATUM, "total_reports"):
        raise ValueError("total_reports differs between rows of the same stratum")
    totals = table.groupby(STRATUM, sort=False)["total_reports"].first()

    pairs = table.groupby(["product", "event"], sort=True)["a"].sum().reset_index()
    pairs["product_reports"] = pairs["product"].map(margins["product"].groupby(level=0).sum())
    pairs["event_reports"] = pairs["event"].map(margins["event"].groupby(level=0).sum())
    pairs["total_reports"] = int(totals.sum())
    # openEBGM processRaw(stratify = TRUE): sum over the strata where both margins exist
    by_stratum = (
        pairs[["product", "event"]]
        .merge(margins["product"].rename("n_p").reset_index(), on="product")
        .merge(margins["event"].rename("n_e").reset_index(), on=["event", STRATUM])
    )
    by_stratum["n_s"] = by_stratum[STRATUM].map(totals).to_numpy()
    by_stratum["e_s"] = by_stratum["n_p"] * (by_stratum["n_e"] / by_stratum["n_s"])
    gps_expected = by_stratum.groupby(["product", "event"], sort=True)["e_s"].sum()
    pairs = pairs.merge(
        gps_expected.rename("gps_expected").reset_index(), on=["product", "event"], how="left"
    )
    # a pair whose product and event share no stratum (only possible with a = 0) expects 0
    pairs["gps_expected"] = pairs["gps_expected"].fillna(0.0)
    return pairs


def _first_reason(conditions: list[tuple[BoolArray, str]], size: int) -> npt.NDArray[np.object_]:
    """The text of the first true condition per row, else None."""
    out = np.full(size, None, dtype=object)
    for condition, text in reversed(conditions):
        out[condition] = text
    return out


def _with_correction(
    note: npt.NDArray[np.object_],
    cells: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    corrected: BoolArray,
    k: float,
) -> npt.NDArray[np.object_]:
    """``note`` prefixed, on corrected rows, by the correction and the cells that were zero."""
    zero = np.column_stack([cell == 0 for cell in cells])
    code = zero @ np.array([1, 2, 4, 8])  # which of a, b, c, d are zero, as a 4-bit number
    names = ("a = 0", "b = 0", "c = 0", "d = 0")
    combinations = [", ".join(n for i, n in enumerate(names) if m >> i & 1) for m in range(16)]
    # one text per combination of zero cells, not one per pair
    texts = np.array([f"corrected: +{k:g} in every cell ({z})" for z in combinations], object)
    prefix = pd.Series(texts[code])
    existing = pd.Series(note)
    joined = prefix.where(existing.isna(), prefix + "; " + existing.astype(str))
    return np.where(corrected, joined.to_numpy(dtype=object), note)


def _prr(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    size = a.size
    reasons = [
        (a + b == 0, f"{NOT_COMPUTABLE}: a + b = 0"),
        (c + d == 0, f"{NOT_COMPUTABLE}: c + d = 0"),
        (c == 0, f"{NOT_COMPUTABLE}: c = 0"),
    ]
    note = _first_reason(reasons, size)
    ok = note == None  # noqa: E711 (element-wise on an object array)
    prr = np.full(size, np.nan)
    prr[ok] = (a[ok] / (a[ok] + b[ok])) / (c[ok] / (c[ok] + d[ok]))
    return prr, note


def _ror(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.object_]]:
    size = a.size
    undefined = (b == 0) | (c == 0)
    both = (b == 0) & (c == 0)
    note = _first_reason(
        [
            (both, f"{NOT_COMPUTABLE}: b = 0 and c = 0"),
            (b == 0, f"{NOT_COMPUTABLE}: b = 0"),
            (c == 0, f"{NOT_COMPUTABLE}: c = 0"),
            (a == 0, f"interval {NOT_COMPUTABLE}: a = 0"),
            (d == 0, f"interval {NOT_COMPUTABLE}: d = 0"),
        ],
        size,
    )
    ror = np.full(size, np.nan)
    ror[~undefined] = (a[~undefined] * d[~undefined]) / (b[~undefined] * c[~undefined])
    interval = (a > 0) & (b > 0) & (c > 0) & (d > 0)
    lower = np.full(size, np.nan)
    upper = np.full(size, np.nan)
    ai, bi, ci, di = a[interval], b[interval], c[interval], d[interval]
    se = np.sqrt(1 / ai + 1 / bi + 1 / ci + 1 / di)
    log_ror = np.log(ror[interval])
    lower[interval] = np.exp(log_ror - Z_95 * se)
    upper[interval] = np.exp(log_ror + Z_95 * se)
    return ror, lower, upper, note


def _chi2(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    size = a.size
    note = _first_reason(
        [
            (a + b == 0, f"{NOT_COMPUTABLE}: a + b = 0"),
            (c + d == 0, f"{NOT_COMPUTABLE}: c + d = 0"),
            (a + c == 0, f"{NOT_COMPUTABLE}: a + c = 0"),
            (b + d == 0, f"{NOT_COMPUTABLE}: b + d = 0"),
        ],
        size,
    )
    ok = note == None  # noqa: E711
    n = a + b + c + d
    diff = np.abs(a * d - b * c)
    corrected = diff - np.minimum(n / 2, diff)  # Yates, never past |ad - bc| (R chisq.test)
    chi2 = np.full(size, np.nan)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    chi2[ok] = n[ok] * corrected[ok] ** 2 / denominator[ok]
    return chi2, note


def _ic(a: FloatArray, expected: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    shape = a + IC_SHRINKAGE
    rate = expected + IC_SHRINKAGE
    ic = np.log2(shape / rate)
    ic025 = np.log2(special.gammaincinv(shape, 0.025) / rate)
    ic975 = np.log2(special.gammaincinv(shape, 0.975) / rate)
    return ic, ic025, ic975


def _corrected(
    cells: tuple[FloatArray, FloatArray, FloatArray, FloatArray], k: float
) -> tuple[tuple[FloatArray, FloatArray, FloatArray, FloatArray], BoolArray]:
    a, b, c, d = cells
    has_zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    add = np.where(has_zero, k, 0.0)
    return (a + add, b + add, c + add, d + add), has_zero


def disproportionality(
    counts: pd.DataFrame,
    thresholds: Thresholds = Thresholds(),
    prior: GpsPrior | None = None,
    *,
    continuity_correction: float = 0.0,
) -> pd.DataFrame:
    """PRR, chi-square, ROR, IC and EBGM for every product-event pair, with rule flags.

    Formulas, sources, stratification and zero-cell handling are described in the module
    docstring. Pure and vectorised: one pass of array operations over all pairs.

    Parameters
    ----------
    counts : pandas.DataFrame
        The counts table (:data:`COUNT_COLUMNS`, optionally ``stratum``), e.g. from
        :func:`report_counts` or ``pv_monitor.store.spontaneous_counts``.
    thresholds : Thresholds, optional
        The rules' thresholds; the default is the published set (:class:`Thresholds`).
    prior : GpsPrior, optional
        The GPS prior. When None, it is fitted on the pairs with ``a >= 1``
        (:func:`pv_monitor.signals.gps.fit_gps_prior`). When that fit does not converge,
        EBGM, EB05 and EB95 are not computable and ``eb_note`` says why.
    continuity_correction : float, optional
        Added to every cell of the rows with a zero cell before the PRR and the ROR are
        computed (Haldane-Anscombe). The default, 0, means no correction.

    Returns
    -------
    pandas.DataFrame
        :data:`RESULT_COLUMNS`, one row per product-event pair, sorted by product and event.
        ``thresholds`` holds :meth:`Thresholds.describe` of the set used. ``attrs`` holds
        ``thresholds`` (as a dict), ``gps_prior`` (the prior used, as a dict) and
        ``zero_cell_handling``.

    Raises
    ------
    ValueError
        If the table lacks a column, holds negative, fractional or inconsistent counts, or
        repeats a pair within a stratum.

    Examples
    --------
    Three products and two events; a prior is given to keep the example small (with many
    pairs, leave it out to fit one):

    >>> counts = pd.DataFrame(
    ...     {
    ...         "product": ["A", "A", "B", "C"],
    ...         "event": ["CRS", "ICANS", "CRS", "ICANS"],
    ...         "a": [20, 5, 10, 0],
    ...         "product_reports": [40, 40, 500, 60],
    ...         "event_reports": [60, 30, 60, 30],
    ...         "total_reports": [1000, 1000, 1000, 1000],
    ...     }
    ... )
    >>> prior = GpsPrior(3.256, 0.400, 2.024, 1.906, 0.0653)
    >>> result = disproportionality(counts, prior=prior)
    >>> result[["product", "event", "a", "b", "c", "d", "prr", "ror", "ic025"]].round(2)
      product  event   a    b   c    d   prr    ror  ic025
    0       A    CRS  20   20  40  920  12.0  23.00   2.12
    1       A  ICANS   5   35  25  935   4.8   5.34   0.17
    2       B    CRS  10  490  50  450   0.2   0.18  -2.57
    3       C  ICANS   0   60  30  910   0.0   0.00 -12.19
    >>> result[["evans_signal", "ror_signal", "ic_signal", "eb05_signal"]].sum().tolist()
    [2, 2, 2, 1]
    >>> result.loc[3, "ror_note"]
    'interval not computable: a = 0'
    """
    if continuity_correction < 0 or not math.isfinite(continuity_correction):
        raise ValueError("continuity_correction must be a finite number >= 0")
    pairs = _crude_table(counts)
    a = pairs["a"].to_numpy(dtype=np.float64)
    n_product = pairs["product_reports"].to_numpy(dtype=np.float64)
    n_event = pairs["event_reports"].to_numpy(dtype=np.float64)
    total = pairs["total_reports"].to_numpy(dtype=np.float64)
    b = n_product - a
    c = n_event - a
    d = total - n_product - n_event + a
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(total > 0, n_product * n_event / np.where(total > 0, total, 1), 0.0)

    cells = (a, b, c, d)
    corrected = np.zeros(a.size, dtype=bool)
    if continuity_correction > 0:
        cells, corrected = _corrected(cells, continuity_correction)
    prr, prr_note = _prr(*cells)
    ror, ror_lower, ror_upper, ror_note = _ror(*cells)
    if corrected.any():
        observed = (a, b, c, d)
        prr_note = _with_correction(prr_note, observed, corrected, continuity_correction)
        ror_note = _with_correction(ror_note, observed, corrected, continuity_correction)
    chi2, chi2_note = _chi2(a, b, c, d)
    ic, ic025, ic975 = _ic(a, expected)

    gps_expected = pairs["gps_expected"].to_numpy(dtype=np.float64)
    if prior is None:
        prior = fit_gps_prior(a, gps_expected)
        trusted = prior.converged
    else:
        trusted = prior.usable
    eb_note: list[str | None] = [None] * a.size
    if trusted:
        scores = gps_scores(a, gps_expected, prior)
        ebgm, eb05, eb95 = (scores[name].to_numpy() for name in ("ebgm", "eb05", "eb95"))
    else:
        ebgm = eb05 = eb95 = np.full(a.size, np.nan)
        eb_note = [f"{NOT_COMPUTABLE}: GPS prior not usable ({prior.message})"] * a.size

    t = thresholds
    result = pd.DataFrame(
        {
            "product": pairs["product"].to_numpy(),
            "event": pairs["event"].to_numpy(),
            "a": a.astype(np.int64),
            "b": b.astype(np.int64),
            "c": c.astype(np.int64),
            "d": d.astype(np.int64),
            "expected": expected,
            "gps_expected": gps_expected,
            "prr": prr,
            "prr_note": prr_note,
            "chi2": chi2,
            "chi2_note": chi2_note,
            "ror": ror,
            "ror_lower": ror_lower,
            "ror_upper": ror_upper,
            "ror_note": ror_note,
            "ic": ic,
            "ic025": ic025,
            "ic975": ic975,
            "ebgm": ebgm,
            "eb05": eb05,
            "eb95": eb95,
            "eb_note": eb_note,
            "evans_signal": (prr >= t.prr_min) & (chi2 >= t.chi2_min) & (a >= t.evans_min_reports),
            "ror_signal": (ror_lower > t.ror_lower_above) & (a >= t.ror_min_reports),
            "ic_signal": ic025 > t.ic025_above,
            "eb05_signal": eb05 >= t.eb05_min,
            "thresholds": t.describe(),
        }
    )
    result.attrs["thresholds"] = asdict(t)
    result.attrs["gps_prior"] = asdict(prior)
    result.attrs["zero_cell_handling"] = (
        ZERO_CELL_HANDLING
        if continuity_correction == 0
        else f"+{continuity_correction:g} in every cell of rows with a zero cell (PRR, ROR); "
        "otherwise as without correction"
    )
    return result


__all__ = [
    "COUNT_COLUMNS",
    "RESULT_COLUMNS",
    "STRATUM",
    "Thresholds",
    "disproportionality",
    "report_counts",
]
