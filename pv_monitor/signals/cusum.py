"""Bernoulli and risk-adjusted CUSUM charts, with control limits chosen by simulation.

Sequential surveillance of a binary outcome per patient in the order patients complete their
observation window (pharmacovigilance.md §2.2): did this patient have grade >= 3 CRS by day 28,
yes or no.

* **Bernoulli CUSUM** with in-control rate p0 and the out-of-control rate p1 it is tuned to
  detect (pharmacovigilance.md §2.2 [R21]; Steiner SH, Cook RJ, Farewell VT, Treasure T.
  Biostatistics 2000;1(4):441-452; the Bernoulli CUSUM of Leandro et al. cited there)::

      W_t = y_t ln(p1/p0) + (1 - y_t) ln[(1 - p1)/(1 - p0)]
      S_t = max(0, S_{t-1} + W_t),  S_0 = 0;  alarm when S_t >= h

* **Risk-adjusted CUSUM** (Steiner et al. 2000): each patient's predicted risk p_t replaces p0
  and the chart tests an odds-ratio shift R_A, so a signal reflects performance rather than a
  change in patient mix::

      W_t = y_t ln R_A - ln(1 - p_t + R_A p_t)

  With every p_t = p0 and R_A = [p1/(1 - p1)] / [p0/(1 - p0)] this is the Bernoulli CUSUM.

**After an alarm the chart restarts at 0**: the patient who triggers it is recorded with the
value that crossed h, and the next patient starts from S = 0, so a chart that keeps running
after a signal was investigated shows each new run of excess. Restarting is our choice; the
formula sources above define the chart up to its first signal (pharmacovigilance.md §2.2 does
not say what follows one), and restarting at 0 is the usual practice (Lau FD-H, Gandy A,
arXiv:1205.1937, introduction: "Typically, after signalling, a CUSUM chart is restarted").
Run lengths and ARLs below are always from a fresh start (S_0 = 0) to the first alarm
(the zero-state ARL).

**Control limit.** h is chosen by simulation to give a declared in-control average run length
ARL0, the expected number of patients until a false alarm (pharmacovigilance.md §2.2:
"Choose h by simulation to reach the target ARL0"). :func:`threshold_for_arl0` simulates
in-control sequences vectorised across runs, records each run's path of record highs once, and
bisects h on the simulated ARL0 of that one set of paths (common random numbers: the simulated
ARL0 is then a non-decreasing step function of h, so bisection is well defined). It returns the
smallest h whose simulated ARL0 reaches the target, the simulated ARL0 and its Monte-Carlo
standard error. For the risk-adjusted chart the in-control ARL0 depends on the patient mix
(pharmacovigilance.md §2.2: "Changes in patient mix alter the false-alarm rate considerably"),
so :func:`risk_adjusted_threshold_for_arl0` resamples a declared set of predicted risks.

Examples
--------
>>> chart = bernoulli_cusum([0, 1, 0, 1, 1, 0], p0=0.1, p1=0.2, h=1.5)
>>> chart.values.round(4).tolist(), chart.alarms.tolist()
([0.0, 0.6931, 0.5754, 1.2685, 1.9617, 0.0], [4])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FAMILY = "sequential"
"""Method family of every chart (pharmacovigilance.md §8)."""
RESET = "restarts at 0 after each alarm"
BERNOULLI = "bernoulli"
RISK_ADJUSTED = "risk_adjusted"
OC_COLUMNS = (
    "true_rate",
    "true_odds_ratio",
    "arl",
    "arl_se",
    "median_run_length",
    "censored",
    "n_simulations",
)
"""Columns of the operating-characteristics tables."""

_BLOCK_ELEMENTS = 1 << 18
"""Simulated patients per block across active runs (bounds memory to a few MB per array)."""
_INT_MAX = np.iinfo(np.int64).max


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class CusumThreshold:
    """A control limit h chosen by simulation for a target in-control ARL0.

    Attributes
    ----------
    method : str
        ``"bernoulli"`` or ``"risk_adjusted"``.
    h : float
        The control limit: the smallest h (to the bisection tolerance) whose simulated ARL0 is
        at least ``target_arl0``.
    target_arl0 : float
        The declared in-control average run length (patients until a false alarm).
    simulated_arl0, simulated_arl0_se : float
        Mean run length of the simulated in-control runs at ``h``, and its Monte-Carlo standard
        error (standard deviation of the run lengths / sqrt(n_simulations)).
    n_simulations, seed : int
        Simulated runs and the seed of :func:`numpy.random.default_rng` (the result is
        reproducible from them).
    odds_ratio : float
        R_A, the odds ratio the chart is tuned to detect.
    p0, p1 : float or None
        The Bernoulli chart's rates (None for the risk-adjusted chart).
    n_risks : int or None
        Number of predicted risks the risk-adjusted simulation resampled (None for Bernoulli).
    """

    method: str
    h: float
    target_arl0: float
    simulated_arl0: float
    simulated_arl0_se: float
    n_simulations: int
    seed: int
    odds_ratio: float
    p0: float | None = None
    p1: float | None = None
    n_risks: int | None = None


@dataclass(frozen=True, eq=False)
class CusumChart:
    """A CUSUM chart over a sequence of patients, with the settings that produced it.

    Attributes
    ----------
    method : str
        ``"bernoulli"`` or ``"risk_adjusted"``.
    h : float
        Control limit.
    odds_ratio : float
        R_A (for the Bernoulli chart, the odds ratio of p1 vs p0).
    p0, p1 : float or None
        The Bernoulli chart's rates (None for the risk-adjusted chart).
    target_arl0, simulated_arl0, simulated_arl0_se : float or None
        From the :class:`CusumThreshold` when h came from one, else None.
    outcomes : ndarray of int
        y_t, 0 or 1, in monitoring order.
    risks : ndarray of float
        p_t (p0 for every patient on the Bernoulli chart).
    weights : ndarray of float
        W_t.
    values : ndarray of float
        S_t; at an alarm the value that crossed h (the next patient starts from 0).
    alarms : ndarray of int
        0-based positions of the patients at whom S_t >= h.
    reset : str
        What happens after an alarm (:data:`RESET`).
    family : str
        :data:`FAMILY`.
    """

    method: str
    h: float
    odds_ratio: float
    p0: float | None
    p1: float | None
    target_arl0: float | None
    simulated_arl0: float | None
    simulated_arl0_se: float | None
    outcomes: IntArray = field(repr=False)
    risks: FloatArray = field(repr=False)
    weights: FloatArray = field(repr=False)
    values: FloatArray = field(repr=False)
    alarms: IntArray
    reset: str = RESET
    family: str = FAMILY

    def __post_init__(self) -> None:
        for array in (self.outcomes, self.risks, self.weights, self.values, self.alarms):
            array.flags.writeable = False

    def to_frame(self) -> pd.DataFrame:
        """One row per patient: ``patient`` (1-based), ``outcome, risk, weight, cusum, alarm``.

        Examples
        --------
        >>> bernoulli_cusum([1, 1], p0=0.1, p1=0.3, h=2.0).to_frame()["alarm"].tolist()
        [False, True]
        """
        alarm = np.zeros(self.values.shape, dtype=bool)
        alarm[self.alarms] = True
        return pd.DataFrame(
            {
                "patient": np.arange(1, self.values.size + 1),
                "outcome": self.outcomes,
                "risk": self.risks,
                "weight": self.weights,
                "cusum": self.values,
                "alarm": alarm,
            }
        )

    def settings(self) -> dict[str, object]:
        """The settings to print beside the chart.

        Examples
        --------
        >>> bernoulli_cusum([0, 1], p0=0.1, p1=0.2, h=3.0).settings()["reset"]
        'restarts at 0 after each alarm'
        """
        return {
            "method": self.method,
            "family": self.family,
            "p0": self.p0,
            "p1": self.p1,
            "odds_ratio": self.odds_ratio,
            "h": self.h,
            "target_arl0": self.target_arl0,
            "simulated_arl0": self.simulated_arl0,
            "simulated_arl0_se": self.simulated_arl0_se,
            "patients": int(self.values.size),
            "alarms": int(self.alarms.size),
            "reset": self.reset,
        }


# --------------------------------------------------------------------------------------------
# Validation


def _probability(value: float, name: str) -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
    return float(value)


def _rates(p0: float, p1: float) -> tuple[float, float]:
    p0, p1 = _probability(p0, "p0"), _probability(p1, "p1")
    if p0 == p1:
        raise ValueError("p1 must differ from p0")
    return p0, p1


def _odds_ratio(odds_ratio: float) -> float:
    if not (math.isfinite(odds_ratio) and odds_ratio > 0 and odds_ratio != 1):
        raise ValueError(f"odds_ratio must be positive, finite and not 1, got {odds_ratio}")
    return float(odds_ratio)


def _outcomes(outcomes: npt.ArrayLike) -> IntArray:
    array = np.asarray(outcomes, dtype=np.float64).ravel()
    if not np.all((array == 0) | (array == 1)):
        raise ValueError("outcomes must be 0 or 1 (no missing values)")
    return array.astype(np.int64)


def _risks(risks: npt.ArrayLike) -> FloatArray:
    array = np.array(risks, dtype=np.float64).ravel()  # a copy: charts freeze their arrays
    if array.size == 0 or not np.all((array > 0) & (array < 1)):
        raise ValueError("risks must be predicted probabilities strictly between 0 and 1")
    return array


def _limit(h: float | CusumThreshold) -> tuple[float, CusumThreshold | None]:
    threshold = h if isinstance(h, CusumThreshold) else None
    value = float(h.h) if isinstance(h, CusumThreshold) else float(h)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"h must be positive and finite, got {value}")
    return value, threshold


def odds_ratio_of(p0: float, p1: float) -> float:
    """The odds ratio of p1 vs p0, [p1/(1 - p1)] / [p0/(1 - p0)].

    Examples
    --------
    >>> round(odds_ratio_of(0.1, 0.2), 4)
    2.25
    """
    p0, p1 = _rates(p0, p1)
    return (p1 / (1 - p1)) / (p0 / (1 - p0))


# --------------------------------------------------------------------------------------------
# Charts


def _cusum_path(weights: FloatArray, h: float) -> tuple[FloatArray, IntArray]:
    """S_t = max(0, S_{t-1} + W_t) for given W_t, restarting at 0 after each alarm.

    One patient at a time, exactly as the recursion is written (pharmacovigilance.md §2.2), so
    that S lands exactly on h when the arithmetic says it should (a closed form through
    cumulative sums would differ by rounding and could miss such an alarm).
    """
    values = np.empty(weights.size)
    alarms: list[int] = []
    s = 0.0
    for t, w in enumerate(weights.tolist()):
        s = max(0.0, s + w)
        values[t] = s
        if s >= h:
            alarms.append(t)
            s = 0.0
    return values, np.asarray(alarms, dtype=np.int64)


def bernoulli_cusum(
    outcomes: npt.ArrayLike, p0: float, p1: float, h: float | CusumThreshold
) -> CusumChart:
    """Bernoulli CUSUM chart of a sequence of binary outcomes.

    W_t = y_t ln(p1/p0) + (1 - y_t) ln[(1 - p1)/(1 - p0)], S_t = max(0, S_{t-1} + W_t),
    alarm when S_t >= h, then restart at 0 (pharmacovigilance.md §2.2; Steiner et al. 2000).
    p1 > p0 watches for an increase; p1 < p0 for a decrease.

    Parameters
    ----------
    outcomes : array_like of 0/1
        One outcome per patient in monitoring order (no missing values: leave out patients who
        have not completed the window).
    p0, p1 : float
        In-control rate and the out-of-control rate to detect, strictly between 0 and 1.
    h : float or CusumThreshold
        Control limit; a :class:`CusumThreshold` (from :func:`threshold_for_arl0`) also carries
        its target and simulated ARL0 into the chart, and must be for the same p0 and p1.

    Returns
    -------
    CusumChart

    Examples
    --------
    >>> chart = bernoulli_cusum([1, 1, 0, 0, 0, 1], p0=0.1, p1=0.3, h=2.0)
    >>> chart.values.round(3).tolist(), chart.alarms.tolist()
    ([1.099, 2.197, 0.0, 0.0, 0.0, 1.099], [1])
    """
    p0, p1 = _rates(p0, p1)
    limit, threshold = _limit(h)
    if threshold is not None and (threshold.p0, threshold.p1) != (p0, p1):
        raise ValueError(
            f"the threshold was chosen for p0={threshold.p0}, p1={threshold.p1}, "
            f"not p0={p0}, p1={p1}"
        )
    y = _outcomes(outcomes)
    weights = np.where(y == 1, math.log(p1 / p0), math.log((1 - p1) / (1 - p0))).astype(np.float64)
    values, alarms = _cusum_path(weights, limit)
    return CusumChart(
        method=BERNOULLI,
        h=limit,
        odds_ratio=odds_ratio_of(p0, p1),
        p0=p0,
        p1=p1,
        target_arl0=threshold.target_arl0 if threshold else None,
        simulated_arl0=threshold.simulated_arl0 if threshold else None,
        simulated_arl0_se=threshold.simulated_arl0_se if threshold else None,
        outcomes=y,
        risks=np.full(y.size, p0),
        weights=weights,
        values=values,
        alarms=alarms,
    )


def risk_adjusted_cusum(
    outcomes: npt.ArrayLike,
    risks: npt.ArrayLike,
    odds_ratio: float,
    h: float | CusumThreshold,
) -> CusumChart:
    """Risk-adjusted CUSUM chart (Steiner et al. 2000).

    W_t = y_t ln R_A - ln(1 - p_t + R_A p_t), S_t = max(0, S_{t-1} + W_t), alarm when
    S_t >= h, then restart at 0 (pharmacovigilance.md §2.2). R_A > 1 watches for higher odds
    than predicted, R_A < 1 for lower.

    Parameters
    ----------
    outcomes : array_like of 0/1
        One outcome per patient in monitoring order.
    risks : array_like of float
        Each patient's predicted probability of the outcome, strictly between 0 and 1 (from a
        model fitted on other data; the chart asks whether outcomes exceed predictions).
    odds_ratio : float
        R_A, the odds-ratio shift to detect.
    h : float or CusumThreshold
        Control limit, or a threshold from :func:`risk_adjusted_threshold_for_arl0` for the
        same odds ratio.

    Returns
    -------
    CusumChart

    Examples
    --------
    >>> chart = risk_adjusted_cusum([1, 0, 1], [0.05, 0.3, 0.5], odds_ratio=2.0, h=0.6)
    >>> chart.weights.round(4).tolist(), chart.values.round(4).tolist(), chart.alarms.tolist()
    ([0.6444, -0.2624, 0.2877], [0.6444, 0.0, 0.2877], [0])
    """
    y = _outcomes(outcomes)
    p = _risks(risks)
    if p.size != y.size:
        raise ValueError(f"{y.size} outcomes but {p.size} risks")
    ratio = _odds_ratio(odds_ratio)
    limit, threshold = _limit(h)
    if threshold is not None and not math.isclose(threshold.odds_ratio, ratio):
        raise ValueError(
            f"the threshold was chosen for odds ratio {threshold.odds_ratio}, not {ratio}"
        )
    weights = np.asarray(y * math.log(ratio) - np.log1p((ratio - 1) * p), dtype=np.float64)
    values, alarms = _cusum_path(weights, limit)
    return CusumChart(
        method=RISK_ADJUSTED,
        h=limit,
        odds_ratio=ratio,
        p0=None,
        p1=None,
        target_arl0=threshold.target_arl0 if threshold else None,
        simulated_arl0=threshold.simulated_arl0 if threshold else None,
        simulated_arl0_se=threshold.simulated_arl0_se if threshold else None,
        outcomes=y,
        risks=p,
        weights=weights,
        values=values,
        alarms=alarms,
    )


# --------------------------------------------------------------------------------------------
# Simulation


@dataclass(frozen=True)
class _Model:
    """What one simulated patient looks like: a risk category drawn uniformly, then y.

    ``event_probability[k]`` is the true probability of y = 1 in category k, and
    ``weight_event[k]``/``weight_none[k]`` the chart's W for y = 1 and y = 0.
    """

    event_probability: FloatArray
    weight_event: FloatArray
    weight_none: FloatArray


def _bernoulli_model(p0: float, p1: float, true_rate: float) -> _Model:
    return _Model(
        np.array([true_rate]),
        np.array([math.log(p1 / p0)]),
        np.array([math.log((1 - p1) / (1 - p0))]),
    )


def _risk_adjusted_model(risks: FloatArray, odds_ratio: float, true_odds_ratio: float) -> _Model:
    # True probability when the odds are true_odds_ratio times the predicted odds.
    truth = true_odds_ratio * risks / (1 - risks + true_odds_ratio * risks)
    penalty = np.log1p((odds_ratio - 1) * risks)
    return _Model(truth, math.log(odds_ratio) - penalty, -penalty)


class _Paths:
    """Simulated chart paths without restarts, kept as each run's record highs.

    The first time S_t >= h is the first time the running maximum of S reaches h, which is a
    time at which S sets a new record. Storing every run's records (time, value) once gives the
    run length for every h up to the simulated level, so h can be bisected on one set of paths.
    """

    def __init__(self, model: _Model, n_runs: int, seed: int, max_run_length: int) -> None:
        self.model = model
        self.n_runs = n_runs
        self.max_run_length = max_run_length
        self.rng = np.random.default_rng(seed)
        self.state = np.zeros(n_runs)
        self.high = np.zeros(n_runs)
        self.time = np.zeros(n_runs, dtype=np.int64)
        self._runs: list[IntArray] = []
        self._times: list[IntArray] = []
        self._values: list[FloatArray] = []
        self.record_run = np.empty(0, dtype=np.int64)
        self.record_time = np.empty(0, dtype=np.int64)
        self.record_value = np.empty(0)

    def _weights(self, block: int, n_active: int) -> FloatArray:
        """W for ``block`` patients (rows) of ``n_active`` runs (columns)."""
        model = self.model
        uniform = self.rng.random((block, n_active))
        if model.event_probability.size == 1:
            event = uniform < model.event_probability[0]
            weights = np.where(event, model.weight_event[0], model.weight_none[0])
        else:
            category = self.rng.integers(model.event_probability.size, size=(block, n_active))
            event = uniform < model.event_probability[category]
            weights = np.where(event, model.weight_event[category], model.weight_none[category])
        return np.asarray(weights, dtype=np.float64)

    def advance_to(self, level: float) -> None:
        """Simulate every run until its maximum reaches ``level`` (or max_run_length).

        Random numbers are drawn a block at a time for the runs still below ``level``; the
        recursion then steps through the block one patient at a time, vectorised across runs.
        """
        while True:
            active = np.flatnonzero((self.high < level) & (self.time < self.max_run_length))
            if active.size == 0:
                break
            block = int(np.clip(_BLOCK_ELEMENTS // active.size, 16, 4096))
            weights = self._weights(block, active.size)
            state = self.state[active]
            high = self.high[active]
            time = self.time[active]
            for step in range(block):
                state = np.maximum(state + weights[step], 0.0)
                record = np.flatnonzero(state > high)
                if record.size:
                    self._runs.append(active[record])
                    self._times.append(time[record] + step + 1)
                    self._values.append(state[record])
                    high[record] = state[record]
            self.state[active] = state
            self.high[active] = high
            self.time[active] = time + block
        runs = np.concatenate([self.record_run, *self._runs])
        times = np.concatenate([self.record_time, *self._times])
        values = np.concatenate([self.record_value, *self._values])
        self._runs, self._times, self._values = [], [], []
        order = np.lexsort((times, runs))
        self.record_run, self.record_time, self.record_value = (
            runs[order],
            times[order],
            values[order],
        )

    def run_lengths(self, h: float) -> IntArray:
        """First passage time of each run over h; _INT_MAX where the run was censored."""
        lengths = np.full(self.n_runs, _INT_MAX, dtype=np.int64)
        hits = np.flatnonzero(self.record_value >= h)
        runs = self.record_run[hits]
        first = np.ones(hits.size, dtype=bool)
        first[1:] = runs[1:] != runs[:-1]
        lengths[runs[first]] = self.record_time[hits[first]]
        lengths[lengths > self.max_run_length] = _INT_MAX  # simulated past the cap: censored
        return lengths


def _arl(lengths: IntArray) -> tuple[float, float]:
    values = lengths.astype(np.float64)
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan
    return float(values.mean()), se


def _search(
    model: _Model,
    arl0: float,
    n_simulations: int,
    seed: int,
    max_run_length: int | None,
    tolerance: float,
) -> tuple[float, float, float]:
    """h, simulated ARL0 and its standard error (see :func:`threshold_for_arl0`)."""
    if not (math.isfinite(arl0) and arl0 > 1):
        raise ValueError(f"arl0 must be a finite number of patients above 1, got {arl0}")
    if n_simulations < 2:
        raise ValueError("n_simulations must be at least 2")
    cap = max_run_length if max_run_length is not None else math.ceil(100 * arl0)
    paths = _Paths(model, n_simulations, seed, cap)

    def simulated(h: float) -> float:
        lengths = paths.run_lengths(h)
        if np.any(lengths == _INT_MAX):
            raise RuntimeError(
                f"{int(np.sum(lengths == _INT_MAX))} simulated runs had no alarm within "
                f"{cap} patients at h = {h:.4g}; raise max_run_length"
            )
        return float(lengths.mean())

    # Raise the simulated level until the ARL0 there reaches the target, extrapolating
    # log ARL linearly in h (it is close to linear for large h) to avoid simulating far past it.
    low, high = 0.0, float(max(model.weight_event.max(), model.weight_none.max()))
    history: list[tuple[float, float]] = []
    while True:
        paths.advance_to(high)
        arl = simulated(high)
        if arl >= arl0:
            break
        history.append((high, arl))
        low = high
        slope = math.nan
        if len(history) >= 2 and history[-1][1] > history[-2][1] > 0:
            (h1, a1), (h2, a2) = history[-2], history[-1]
            slope = (math.log(a2) - math.log(a1)) / (h2 - h1)
        goal = min(1.25 * arl0, 8.0 * arl)
        step = math.log(goal / arl) / slope if math.isfinite(slope) and slope > 0 else high
        high = high + max(step, 1e-3 * high)

    if low == 0.0:
        smallest = float(paths.record_value.min())  # every run's first positive S is a record
        if simulated(smallest) >= arl0:
            raise ValueError(
                f"arl0 = {arl0:g} is not above the ARL0 of the smallest possible h "
                f"({simulated(smallest):.4g}: an alarm at the first positive CUSUM value); "
                "choose a larger ARL0"
            )
        low = smallest
    while high - low > tolerance * high:
        middle = 0.5 * (low + high)
        if simulated(middle) >= arl0:
            high = middle
        else:
            low = middle
    arl, se = _arl(paths.run_lengths(high))
    return high, arl, se


def threshold_for_arl0(
    p0: float,
    p1: float,
    arl0: float,
    *,
    n_simulations: int = 10_000,
    seed: int,
    max_run_length: int | None = None,
    tolerance: float = 1e-6,
) -> CusumThreshold:
    """Control limit h of a Bernoulli CUSUM for a target in-control ARL0, by simulation.

    Simulates ``n_simulations`` in-control sequences (y ~ Bernoulli(p0)) vectorised across
    runs, and bisects h on their mean run length (pharmacovigilance.md §2.2; method in the
    module docstring). Check the result with :func:`cusum_operating_characteristics` on
    another seed.

    Parameters
    ----------
    p0, p1 : float
        In-control rate and the out-of-control rate the chart is tuned to detect.
    arl0 : float
        Target in-control average run length, in patients.
    n_simulations : int
        Simulated in-control runs (10,000 by default: a Monte-Carlo error of about 1 % of
        ARL0, since run lengths are roughly geometric).
    seed : int
        Seed of :func:`numpy.random.default_rng`; required, so that h is reproducible.
    max_run_length : int, optional
        Longest simulated run (100 x ARL0 by default); a run without alarm by then is an
        error, not a silent truncation.
    tolerance : float
        Relative width at which the bisection stops.

    Returns
    -------
    CusumThreshold

    Examples
    --------
    >>> t = threshold_for_arl0(0.1, 0.2, 100, n_simulations=2000, seed=1)
    >>> t.simulated_arl0 >= 100 and abs(t.simulated_arl0 - 100) < 3 * t.simulated_arl0_se
    True
    >>> round(t.h, 2)
    1.49
    """
    p0, p1 = _rates(p0, p1)
    h, arl, se = _search(
        _bernoulli_model(p0, p1, p0), arl0, n_simulations, seed, max_run_length, tolerance
    )
    return CusumThreshold(
        method=BERNOULLI,
        h=h,
        target_arl0=float(arl0),
        simulated_arl0=arl,
        simulated_arl0_se=se,
        n_simulations=n_simulations,
        seed=seed,
        odds_ratio=odds_ratio_of(p0, p1),
        p0=p0,
        p1=p1,
    )


def risk_adjusted_threshold_for_arl0(
    risks: npt.ArrayLike,
    odds_ratio: float,
    arl0: float,
    *,
    n_simulations: int = 10_000,
    seed: int,
    max_run_length: int | None = None,
    tolerance: float = 1e-6,
) -> CusumThreshold:
    """Control limit h of a risk-adjusted CUSUM for a target ARL0, by simulation.

    Each simulated patient's risk is drawn with replacement from ``risks`` (the expected
    patient mix, e.g. the predicted risks of a recent cohort) and the outcome from that risk
    (in control: the model is right). The ARL0 holds for that mix only
    (pharmacovigilance.md §2.2).

    Parameters
    ----------
    risks : array_like of float
        Predicted risks describing the patient mix, strictly between 0 and 1.
    odds_ratio : float
        R_A, the odds-ratio shift the chart is tuned to detect.
    arl0, n_simulations, seed, max_run_length, tolerance
        As in :func:`threshold_for_arl0`.

    Returns
    -------
    CusumThreshold

    Examples
    --------
    >>> t = risk_adjusted_threshold_for_arl0([0.05, 0.1, 0.3], 2.0, 100,
    ...                                      n_simulations=2000, seed=1)
    >>> t.method, t.n_risks, t.simulated_arl0 >= 100
    ('risk_adjusted', 3, True)
    """
    p = _risks(risks)
    ratio = _odds_ratio(odds_ratio)
    h, arl, se = _search(
        _risk_adjusted_model(p, ratio, 1.0), arl0, n_simulations, seed, max_run_length, tolerance
    )
    return CusumThreshold(
        method=RISK_ADJUSTED,
        h=h,
        target_arl0=float(arl0),
        simulated_arl0=arl,
        simulated_arl0_se=se,
        n_simulations=n_simulations,
        seed=seed,
        odds_ratio=ratio,
        n_risks=int(p.size),
    )


def _operating_characteristics(
    models: list[_Model],
    h: float,
    n_simulations: int,
    seed: int,
    max_run_length: int,
) -> list[dict[str, float | int]]:
    if n_simulations < 2:
        raise ValueError("n_simulations must be at least 2")
    rows: list[dict[str, float | int]] = []
    for i, model in enumerate(models):
        paths = _Paths(model, n_simulations, seed + i, max_run_length)
        paths.advance_to(h)
        lengths = paths.run_lengths(h)
        censored = lengths == _INT_MAX
        # A censored run counts as max_run_length: the ARL is then a lower bound.
        observed = np.where(censored, max_run_length, lengths)
        arl, se = _arl(observed)
        rows.append(
            {
                "arl": arl,
                "arl_se": se,
                "median_run_length": float(np.median(observed)),
                "censored": int(censored.sum()),
                "n_simulations": n_simulations,
            }
        )
    return rows


def cusum_operating_characteristics(
    p0: float,
    p1: float,
    h: float | CusumThreshold,
    *,
    true_rates: Sequence[float] | None = None,
    n_simulations: int = 10_000,
    seed: int,
    max_run_length: int = 50_000,
) -> pd.DataFrame:
    """Simulated average run length of a Bernoulli CUSUM at in- and out-of-control rates.

    Parameters
    ----------
    p0, p1 : float
        The chart's rates.
    h : float or CusumThreshold
        Control limit.
    true_rates : sequence of float, optional
        True event rates to simulate; p0 (in control) and p1 by default.
    n_simulations : int
        Runs per rate.
    seed : int
        Seed of the first rate's simulation (the i-th rate uses seed + i).
    max_run_length : int
        Runs without alarm by then are censored and counted with this length, so ``arl`` is a
        lower bound whenever ``censored`` > 0 (rates far below p0).

    Returns
    -------
    DataFrame
        :data:`OC_COLUMNS`: ``true_rate``, ``true_odds_ratio`` (vs p0), ``arl`` (zero-state,
        patients until the first alarm) with its Monte-Carlo ``arl_se``,
        ``median_run_length``, ``censored`` and ``n_simulations``.

    Examples
    --------
    >>> oc = cusum_operating_characteristics(0.1, 0.2, 1.49, n_simulations=2000, seed=2)
    >>> oc["true_rate"].tolist(), bool(oc["arl"].iloc[0] > 3 * oc["arl"].iloc[1])
    ([0.1, 0.2], True)
    """
    p0, p1 = _rates(p0, p1)
    limit, _ = _limit(h)
    rates = [p0, p1] if true_rates is None else [float(r) for r in true_rates]
    for rate in rates:
        _probability(rate, "true rate")
    models = [_bernoulli_model(p0, p1, rate) for rate in rates]
    rows = _operating_characteristics(models, limit, n_simulations, seed, max_run_length)
    frame = pd.DataFrame(rows)
    frame.insert(0, "true_rate", rates)
    frame.insert(1, "true_odds_ratio", [(r / (1 - r)) / (p0 / (1 - p0)) for r in rates])
    return frame[list(OC_COLUMNS)]


def risk_adjusted_operating_characteristics(
    risks: npt.ArrayLike,
    odds_ratio: float,
    h: float | CusumThreshold,
    *,
    true_odds_ratios: Sequence[float] | None = None,
    n_simulations: int = 10_000,
    seed: int,
    max_run_length: int = 50_000,
) -> pd.DataFrame:
    """Simulated average run length of a risk-adjusted CUSUM for a patient mix.

    Patients' risks are drawn with replacement from ``risks``; the true odds are
    ``true_odds_ratio`` times the predicted odds (1 = in control).

    Parameters
    ----------
    risks : array_like of float
        Predicted risks describing the patient mix.
    odds_ratio : float
        R_A of the chart.
    h : float or CusumThreshold
        Control limit.
    true_odds_ratios : sequence of float, optional
        True odds ratios to simulate; 1 and R_A by default.
    n_simulations, seed, max_run_length
        As in :func:`cusum_operating_characteristics`.

    Returns
    -------
    DataFrame
        :data:`OC_COLUMNS`; ``true_rate`` is the mean true risk over the mix.

    Examples
    --------
    >>> oc = risk_adjusted_operating_characteristics([0.05, 0.1, 0.3], 2.0, 2.5,
    ...                                               n_simulations=1000, seed=3)
    >>> oc["true_odds_ratio"].tolist(), bool(oc["arl"].iloc[0] > oc["arl"].iloc[1])
    ([1.0, 2.0], True)
    """
    p = _risks(risks)
    ratio = _odds_ratio(odds_ratio)
    limit, _ = _limit(h)
    truths = [1.0, ratio] if true_odds_ratios is None else [float(r) for r in true_odds_ratios]
    if any(not (math.isfinite(r) and r > 0) for r in truths):
        raise ValueError("true odds ratios must be positive and finite")
    models = [_risk_adjusted_model(p, ratio, truth) for truth in truths]
    rows = _operating_characteristics(models, limit, n_simulations, seed, max_run_length)
    frame = pd.DataFrame(rows)
    frame.insert(0, "true_rate", [float(m.event_probability.mean()) for m in models])
    frame.insert(1, "true_odds_ratio", truths)
    return frame[list(OC_COLUMNS)]
