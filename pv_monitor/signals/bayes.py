"""Beta-binomial Bayesian monitoring of a toxicity rate in a small single-arm trial.

pharmacovigilance.md §2.3 (Thall PF, Simon R. Controlled Clin Trials 1994;15(6):463-481 [R22]):
the toxicity probability p has a Beta(a, b) prior; after x toxicities in n evaluable patients
the posterior is Beta(a + x, b + n - x) (beta-binomial conjugacy), and the protocol's rule is
to stop, or pause enrolment, when

    P(p > p* | x, n) = 1 - F_Beta(p*; a + x, b + n - x) > c

at a look, where p* is the unacceptable rate and c the required certainty. Protocols evaluate
only from a minimum evaluable n (without it, Beta(1, 1), p* = 0.25 and c = 0.90 stop after
1/1), and may look only after some patients (cohorts).

The monitor implements the protocol's declared rule and shows posterior probabilities, not a
bare "stop" (pharmacovigilance.md §2.3, last paragraph): :func:`monitor_sequence` gives, per
look, n, x, P(p > p* | data) and whether the boundary is crossed. Every rule ships with its
operating characteristics (§2.3, §8): :func:`operating_characteristics` computes the
probability of stopping by n_max *exactly*, by a forward recursion over the distribution of x
among trials not yet stopped, for each true rate.

Examples
--------
>>> rule = BetaBinomialRule(p_star=0.25, certainty=0.90)
>>> boundary = stopping_boundary(rule, 6)
>>> boundary["min_events_to_stop"].tolist()
[1, 2, 2, 3, 3, 3]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FAMILY = "sequential"
"""Method family (pharmacovigilance.md §8)."""
BOUNDARY_COLUMNS = ("n", "evaluated", "min_events_to_stop", "posterior_at_min_events")
MONITOR_COLUMNS = ("n", "events", "posterior_probability", "min_events_to_stop", "crossed")
OC_COLUMNS = ("true_rate", "probability_stop", "expected_n", "n_max")


@dataclass(frozen=True, kw_only=True)
class BetaBinomialRule:
    """A protocol's beta-binomial toxicity stopping rule (pharmacovigilance.md §2.3).

    Stop at a look when P(p > p_star | data) > certainty under the prior Beta(a, b).

    Attributes
    ----------
    p_star : float
        Unacceptable toxicity rate p*, strictly between 0 and 1.
    certainty : float
        Required posterior certainty c, strictly between 0 and 1.
    a, b : float
        Beta prior parameters (> 0); Beta(1, 1), uniform, by default.
    min_evaluable_n : int
        First n at which the rule is evaluated (1: from the first patient).
    looks : tuple of int, optional
        The n at which the rule is evaluated (e.g. after each cohort of 3: 3, 6, 9, ...);
        None means after every patient from ``min_evaluable_n`` on. Looks below
        ``min_evaluable_n`` are not evaluated.

    Examples
    --------
    >>> BetaBinomialRule(p_star=0.25, certainty=0.95, min_evaluable_n=5).describe()
    'Beta(1, 1) prior; stop if P(p > 0.25 | data) > 0.95; evaluated after every patient from n = 5'
    """

    p_star: float
    certainty: float
    a: float = 1.0
    b: float = 1.0
    min_evaluable_n: int = 1
    looks: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not 0 < self.p_star < 1:
            raise ValueError(f"p_star must be strictly between 0 and 1, got {self.p_star}")
        if not 0 < self.certainty < 1:
            raise ValueError(f"certainty must be strictly between 0 and 1, got {self.certainty}")
        if not (self.a > 0 and self.b > 0 and math.isfinite(self.a) and math.isfinite(self.b)):
            raise ValueError(f"prior parameters must be positive, got a={self.a}, b={self.b}")
        if self.min_evaluable_n < 1:
            raise ValueError("min_evaluable_n must be at least 1")
        if self.looks is not None:
            looks = tuple(int(n) for n in self.looks)
            if not looks or any(n < 1 for n in looks) or sorted(set(looks)) != list(looks):
                raise ValueError("looks must be increasing positive whole numbers")
            object.__setattr__(self, "looks", looks)

    def evaluated(self, n: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether the rule is evaluated after ``n`` patients.

        Examples
        --------
        >>> BetaBinomialRule(p_star=0.3, certainty=0.9, looks=(3, 6, 9)).evaluated([3, 4, 6])
        array([ True, False,  True])
        """
        size = np.asarray(n)
        mask = size >= self.min_evaluable_n
        if self.looks is not None:
            mask &= np.isin(size, self.looks)
        return np.asarray(mask, dtype=bool)

    def describe(self) -> str:
        """The rule in one sentence, to print beside its tables."""
        when = (
            f"after every patient from n = {self.min_evaluable_n}"
            if self.looks is None
            else f"at n = {', '.join(str(n) for n in self.looks if n >= self.min_evaluable_n)}"
        )
        return (
            f"Beta({self.a:g}, {self.b:g}) prior; stop if P(p > {self.p_star:g} | data) > "
            f"{self.certainty:g}; evaluated {when}"
        )


def _counts(events: npt.ArrayLike, n: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, size = np.broadcast_arrays(
        np.asarray(events, dtype=np.float64), np.asarray(n, dtype=np.float64)
    )
    for name, values in (("events", x), ("n", size)):
        if not np.all(np.isfinite(values) & (values >= 0) & (values == np.floor(values))):
            raise ValueError(f"{name} must be non-negative whole numbers")
    if np.any(x > size):
        raise ValueError("events must not exceed n")
    return x, size


def posterior_probability_exceeds(
    rule: BetaBinomialRule, events: npt.ArrayLike, n: npt.ArrayLike
) -> FloatArray:
    """P(p > p* | x events in n patients) = 1 - F_Beta(p*; a + x, b + n - x), vectorised.

    Parameters
    ----------
    rule : BetaBinomialRule
        Gives the prior (a, b) and p*.
    events, n : array_like
        Toxicities x and evaluable patients n, broadcast together.

    Returns
    -------
    ndarray of float
        The posterior probabilities (0-d for scalar input).

    Examples
    --------
    After 1/1 the posterior is Beta(2, 1), so P(p > 0.25) = 1 - 0.25**2; after 0/1 it is
    Beta(1, 2), so 0.75**2.

    >>> rule = BetaBinomialRule(p_star=0.25, certainty=0.9)
    >>> posterior_probability_exceeds(rule, [1, 0], 1).round(4).tolist()
    [0.9375, 0.5625]
    """
    x, size = _counts(events, n)
    return np.asarray(stats.beta.sf(rule.p_star, rule.a + x, rule.b + size - x), dtype=np.float64)


def _min_events(rule: BetaBinomialRule, sizes: IntArray) -> IntArray:
    """Smallest x in 0..n with P(p > p* | x, n) > c for each n; n + 1 where none.

    P(p > p* | x, n) increases with x (the posterior is stochastically larger), so a bisection
    on x, vectorised across n, finds the boundary.
    """
    low = np.zeros(sizes.size, dtype=np.int64)
    high = sizes.astype(np.int64) + 1
    while np.any(low < high):
        open_ = low < high
        middle = (low + high) // 2
        crosses = np.zeros(sizes.size, dtype=bool)
        crosses[open_] = (
            stats.beta.sf(
                rule.p_star, rule.a + middle[open_], rule.b + sizes[open_] - middle[open_]
            )
            > rule.certainty
        )
        high = np.where(open_ & crosses, middle, high)
        low = np.where(open_ & ~crosses, middle + 1, low)
    return low


def _int_or_na(values: IntArray, known: npt.NDArray[np.bool_]) -> pd.arrays.IntegerArray:
    """Nullable integers: ``values`` where ``known``, NA elsewhere."""
    return pd.arrays.IntegerArray(np.where(known, values, 0).astype(np.int64), ~known)


def _check_n_max(n_max: int) -> int:
    if int(n_max) != n_max or n_max < 1:
        raise ValueError(f"n_max must be a positive whole number, got {n_max}")
    return int(n_max)


def stopping_boundary(rule: BetaBinomialRule, n_max: int) -> pd.DataFrame:
    """The rule's boundary: for each n, the smallest x with P(p > p* | x, n) > c.

    Parameters
    ----------
    rule : BetaBinomialRule
    n_max : int
        Largest n tabulated.

    Returns
    -------
    DataFrame
        :data:`BOUNDARY_COLUMNS`, one row per n = 1..n_max: ``evaluated`` (is n a look),
        ``min_events_to_stop`` (Int64; NA when n is not a look, or no x <= n crosses) and
        ``posterior_at_min_events`` (P(p > p*) at that x).

    Examples
    --------
    pharmacovigilance.md §2.3: Beta(1, 1), p* = 0.25, c = 0.90 stops at 3 of 4-6, 4 of 7-9,
    5 of 10-12, 8 of 19-21 and 11 of 29-30.

    >>> rule = BetaBinomialRule(p_star=0.25, certainty=0.90)
    >>> b = stopping_boundary(rule, 30).set_index("n")["min_events_to_stop"]
    >>> [int(b[n]) for n in (4, 6, 7, 9, 10, 12, 19, 21, 29, 30)]
    [3, 3, 4, 4, 5, 5, 8, 8, 11, 11]
    """
    n_max = _check_n_max(n_max)
    sizes = np.arange(1, n_max + 1, dtype=np.int64)
    minimum = _min_events(rule, sizes)
    shown = rule.evaluated(sizes) & (minimum <= sizes)
    posterior = np.full(n_max, np.nan)
    posterior[shown] = posterior_probability_exceeds(rule, minimum[shown], sizes[shown])
    return pd.DataFrame(
        {
            "n": sizes,
            "evaluated": rule.evaluated(sizes),
            "min_events_to_stop": _int_or_na(minimum, shown),
            "posterior_at_min_events": posterior,
        }
    )[list(BOUNDARY_COLUMNS)]


def operating_characteristics(
    rule: BetaBinomialRule, n_max: int, true_rates: Sequence[float]
) -> pd.DataFrame:
    """Exact probability that the rule stops by ``n_max``, for each true toxicity rate.

    Forward recursion over x among trials not yet stopped: f_0 = [1];
    f_n(x) = f_{n-1}(x) (1 - p) + f_{n-1}(x - 1) p; at a look the mass at x >= boundary(n)
    stops and is removed. P(stop by n_max) is the mass removed; the expected number of
    evaluated patients is sum_n n P(stop at n) + n_max P(no stop). Vectorised across rates;
    O(n_max^2) per rate.

    Parameters
    ----------
    rule : BetaBinomialRule
    n_max : int
        Maximum number of evaluable patients.
    true_rates : sequence of float
        True toxicity rates, in [0, 1].

    Returns
    -------
    DataFrame
        :data:`OC_COLUMNS`: ``true_rate``, ``probability_stop`` (by n_max), ``expected_n``
        and ``n_max``.

    Examples
    --------
    pharmacovigilance.md §2.3: stopping by n = 30 is 12 % at 0.10, 32 % at 0.20, 89 % at 0.40.

    >>> rule = BetaBinomialRule(p_star=0.25, certainty=0.90)
    >>> oc = operating_characteristics(rule, 30, [0.10, 0.20, 0.40])
    >>> oc["probability_stop"].round(2).tolist()
    [0.12, 0.32, 0.89]
    """
    n_max = _check_n_max(n_max)
    rates = np.asarray(true_rates, dtype=np.float64).ravel()
    if rates.size == 0 or not np.all((rates >= 0) & (rates <= 1)):
        raise ValueError("true rates must be probabilities in [0, 1]")
    sizes = np.arange(1, n_max + 1, dtype=np.int64)
    boundary = np.where(rule.evaluated(sizes), _min_events(rule, sizes), n_max + 1)
    p = rates[:, None]
    paths = np.zeros((rates.size, n_max + 1))
    paths[:, 0] = 1.0
    stopped = np.zeros(rates.size)
    expected = np.zeros(rates.size)
    for n in range(1, n_max + 1):
        paths[:, 1 : n + 1] = paths[:, 1 : n + 1] * (1 - p) + paths[:, :n] * p
        paths[:, 0] *= 1 - rates
        first = boundary[n - 1]
        if first <= n:
            stop_now = paths[:, first : n + 1].sum(axis=1)
            paths[:, first : n + 1] = 0.0
            stopped += stop_now
            expected += n * stop_now
    expected += n_max * (1.0 - stopped)
    return pd.DataFrame(
        {"true_rate": rates, "probability_stop": stopped, "expected_n": expected, "n_max": n_max}
    )[list(OC_COLUMNS)]


def monitor_sequence(rule: BetaBinomialRule, outcomes: npt.ArrayLike) -> pd.DataFrame:
    """The monitor's table for an observed sequence of evaluable patients.

    Parameters
    ----------
    rule : BetaBinomialRule
    outcomes : array_like of 0/1
        Toxicity (1) or not (0) per evaluable patient, in the order they became evaluable
        (leave out patients not yet evaluable).

    Returns
    -------
    DataFrame
        :data:`MONITOR_COLUMNS`, one row per look reached: ``n``, ``events`` (x so far),
        ``posterior_probability`` P(p > p* | x, n), ``min_events_to_stop`` at that n (NA when
        no x <= n would cross) and ``crossed`` (posterior > c). Rows continue after a crossing:
        the protocol, not the monitor, decides what a crossing means.

    Examples
    --------
    >>> rule = BetaBinomialRule(p_star=0.25, certainty=0.90, min_evaluable_n=4)
    >>> table = monitor_sequence(rule, [0, 1, 0, 1, 1, 0])
    >>> table[["n", "events", "crossed"]].to_numpy().tolist()
    [[4, 2, False], [5, 3, True], [6, 3, True]]
    >>> table["posterior_probability"].round(3).tolist()
    [0.896, 0.962, 0.929]
    """
    array = np.asarray(outcomes, dtype=np.float64).ravel()
    if not np.all((array == 0) | (array == 1)):
        raise ValueError("outcomes must be 0 or 1 (no missing values)")
    sizes = np.arange(1, array.size + 1, dtype=np.int64)
    events = np.cumsum(array).astype(np.int64)
    looks = rule.evaluated(sizes)
    sizes, events = sizes[looks], events[looks]
    posterior = posterior_probability_exceeds(rule, events, sizes)
    minimum = _min_events(rule, sizes)
    return pd.DataFrame(
        {
            "n": sizes,
            "events": events,
            "posterior_probability": posterior,
            "min_events_to_stop": _int_or_na(minimum, minimum <= sizes),
            "crossed": posterior > rule.certainty,
        }
    )[list(MONITOR_COLUMNS)]
