"""DuMouchel's Gamma-Poisson Shrinker (GPS): the empirical-Bayes geometric mean (EBGM).

Model (DuMouchel 1999, *The American Statistician* 53(3):177-190; pharmacovigilance.md §2.1,
[R17]): the number ``n`` of reports of a product-event pair is Poisson with mean
``lambda * E``, where ``E`` is the count expected under independence, and the relative
reporting ratio ``lambda`` has a prior that mixes two gamma distributions,
``theta = (alpha1, beta1, alpha2, beta2, P)``:

    pi(lambda) = P g(lambda; alpha1, beta1) + (1 - P) g(lambda; alpha2, beta2)

with ``g(.; alpha, beta)`` the gamma density of shape ``alpha`` and rate ``beta``.

* **Marginal distribution** (DuMouchel 1999 eq. 5): ``n`` given ``E`` is a mixture of two
  negative binomials, ``f(n; alpha, beta, E) = Gamma(alpha + n) / (Gamma(alpha) n!) *
  (beta / (beta + E))^alpha * (E / (beta + E))^n``.
* **Hyperparameters**: maximum likelihood over every pair with ``n >= 1``, with the likelihood
  conditional on ``n >= 1``, ``f*(n) = f(n) / (1 - f(0))`` (DuMouchel & Pregibon 2001;
  openEBGM's ``negLL`` with ``N_star = 1``, used when ``zeroes = FALSE``, its default). There is
  no data squashing: every pair counts. Pairs with identical ``(n, E)`` are evaluated once and
  weighted, which gives exactly the same sum.
* **Posterior** (eq. 6-8): a mixture of ``Gamma(alpha1 + n, beta1 + E)`` and
  ``Gamma(alpha2 + n, beta2 + E)`` with weight
  ``Qn = P f1(n) / (P f1(n) + (1 - P) f2(n))``. As in openEBGM's ``Qn``, ``f`` here is the
  untruncated negative binomial.
* **EBGM** (eq. 9-11): ``2^E[log2 lambda | n]`` with
  ``E[ln lambda | n] = Qn (psi(alpha1 + n) - ln(beta1 + E)) +
  (1 - Qn) (psi(alpha2 + n) - ln(beta2 + E))``, where ``psi`` is the digamma function.
* **EB05 / EB95**: the 5th and 95th percentiles of the posterior mixture. They are the roots of
  its distribution function, found by safeguarded Newton iteration on ``log lambda``, vectorised
  over all pairs. The bracket is the two components' own percentiles, which always enclose
  the mixture's. openEBGM's ``quantBisect`` bisects to 2 decimal places and rounds; here the
  roots are found to about 1e-10 relative precision and not rounded.

Conventions follow the R package openEBGM 0.9.1 (Canida & Ihrie 2017, *The R Journal* 9(2):
499-519; functions ``autoHyper``, ``negLL``, ``Qn``, ``ebgm``, ``quantBisect``). The likelihood,
the parameter space (``0 < alpha, beta < 100``, ``0 < P < 1``) and the starting points are the
same. An estimate counts as converged only when at least one other start reaches a close
solution (``autoHyper``'s check). One deliberate difference: the two components are labelled
so that component 1 has the larger prior mean ``alpha / beta``. The mixture itself is
unchanged. openEBGM keeps whichever labelling its optimiser found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special

FloatArray = npt.NDArray[np.float64]
Theta = tuple[float, float, float, float, float]

PARAM_LIMIT = 100.0
"""Largest acceptable alpha or beta (openEBGM ``autoHyper(param_limit = 100)``)."""
STARTS: tuple[Theta, ...] = (
    (0.2, 0.1, 2.0, 4.0, 1 / 3),
    (0.1, 0.1, 10.0, 10.0, 0.2),
    (0.3, 0.5, 6.0, 6.0, 0.5),
    (0.5, 0.3, 12.0, 12.0, 0.8),
    (0.2, 0.2, 5.0, 5.0, 0.4),
)
"""Starting points: DuMouchel's (1999) "lightly justified" guess (0.2, 0.1, 2, 4, 1/3) and the
other rows of the ``theta_init`` used in openEBGM's posterior vignette."""
CLOSE: Theta = (0.05, 0.05, 0.2, 0.2, 0.025)
"""How close another start's estimate must come to the best one, per parameter, to confirm it
(openEBGM ``autoHyper(tol = c(0.05, 0.05, 0.2, 0.2, 0.025))``)."""

_LOW = 1e-6  # an alpha or beta below this is on the edge of the parameter space
_LOGIT_LIMIT = 15.0  # |logit P| beyond this (P within 3e-7 of 0 or 1) is on the edge
_FREE_LIMIT = 20.0  # the optimiser's free parameters are held within +/-20
_MAX_ITERATIONS = 2000  # BFGS iterations per run
_GTOL = 1e-6  # BFGS gradient tolerance (free parameters)
_FLAT_GRADIENT = 1e-7  # gradient accepted at a precision-loss stop, relative to the objective
_MAX_NEWTON = 100  # iterations of the quantile search (about 40 would reach any precision)
_EXP_LIMIT = 700.0  # log f(0) is held above -700 (f(0) < 1e-304 is 0 for every sum here)
_MIX_CLIP = 40.0  # log-likelihood differences of the two components are held within +/-40


@dataclass(frozen=True)
class GpsPrior:
    """The two-gamma mixture prior ``theta = (alpha1, beta1, alpha2, beta2, P)``.

    Attributes
    ----------
    alpha1, beta1 : float
        Shape and rate of the first gamma component (when fitted, the one with the larger
        mean ``alpha / beta``).
    alpha2, beta2 : float
        Shape and rate of the second component.
    p : float
        Prior probability of the first component.
    neg_log_likelihood : float
        Negative log-likelihood (natural log) of the fitted pairs, conditional on ``n >= 1``,
        on the scale of openEBGM's ``negLL``; NaN for a prior that was given, not fitted.
    converged : bool
        True when the best start converged (optimiser success, or a gradient flat to rounding)
        inside the parameter space and at least one other start reached a close estimate
        (openEBGM ``autoHyper``); with a single start, its own convergence.
    n_pairs : int
        Number of pairs (with ``n >= 1``) the prior was fitted on; 0 when given.
    agreeing_starts : int
        Number of other starts whose estimates were close to the best one.
    message : str
        How the prior was obtained, or why it is not trusted.

    Examples
    --------
    >>> prior = GpsPrior(3.256, 0.400, 2.024, 1.906, 0.0653)
    >>> prior.theta
    (3.256, 0.4, 2.024, 1.906, 0.0653)
    >>> prior.message
    'given'
    """

    alpha1: float
    beta1: float
    alpha2: float
    beta2: float
    p: float
    neg_log_likelihood: float = math.nan
    converged: bool = False
    n_pairs: int = 0
    agreeing_starts: int = 0
    message: str = "given"

    @property
    def theta(self) -> Theta:
        """``(alpha1, beta1, alpha2, beta2, p)``."""
        return (self.alpha1, self.beta1, self.alpha2, self.beta2, self.p)

    @property
    def usable(self) -> bool:
        """True when every hyperparameter is a finite number inside the parameter space."""
        a1, b1, a2, b2, p = self.theta
        return all(math.isfinite(x) and x > 0 for x in (a1, b1, a2, b2)) and 0 < p < 1


def _as_arrays(n: npt.ArrayLike, expected: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validated float arrays of counts and expected counts."""
    counts = np.asarray(n, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if counts.ndim != 1 or counts.shape != e.shape:
        raise ValueError("n and expected must be one-dimensional and of the same length")
    if not np.all(np.isfinite(counts) & (counts >= 0) & (counts == np.floor(counts))):
        raise ValueError("n must hold whole numbers >= 0")
    if not np.all(np.isfinite(e) & (e >= 0)):
        raise ValueError("expected counts must be finite and >= 0")
    return counts, e


def _log_nb(n: FloatArray, alpha: float, beta: float, e: FloatArray) -> FloatArray:
    """``log f(n; alpha, beta, E)``, the negative binomial of DuMouchel (1999) eq. 5."""
    log_q = -np.log1p(e / beta)  # log(beta / (beta + E))
    log_odds = np.zeros_like(e)  # n log(E / (beta + E)), 0 when n = 0 (also when E = 0)
    positive = n > 0
    with np.errstate(divide="ignore"):  # n > 0 with E = 0 has probability 0: log f = -inf
        log_odds[positive] = n[positive] * (np.log(e[positive]) - np.log(beta + e[positive]))
    lg = special.gammaln(alpha + n) - special.gammaln(alpha) - special.gammaln(n + 1)
    return np.asarray(lg + alpha * log_q + log_odds, dtype=np.float64)


class _Likelihood:
    """Negative log-likelihood of the ``n >= 1``-truncated mixture, with its gradient.

    Works on the distinct ``(n, E)`` points weighted by their multiplicity: the same sum as
    over every pair, evaluated once per point.
    """

    def __init__(self, n: FloatArray, e: FloatArray) -> None:
        points, weights = np.unique(np.column_stack([n, e]), axis=0, return_counts=True)
        self.n = np.ascontiguousarray(points[:, 0])
        self.e = np.ascontiguousarray(points[:, 1])
        self.w = weights.astype(np.float64)
        self.n_values, self.n_index = np.unique(self.n, return_inverse=True)
        self.log_e = np.log(self.e)
        self.constant = float(np.sum(self.w * special.gammaln(self.n + 1)))

    def _component(self, alpha: float, beta: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``log f*(n)`` without ``-log n!``, and its derivatives in alpha and beta."""
        n, e, idx = self.n, self.e, self.n_index
        log_be = np.log(beta + e)
        r = -np.log1p(e / beta)  # log(beta / (beta + E)), exact for small E
        # log f(0) = alpha r, kept above -700: beyond, f(0) is 0 to double precision, and
        # exp() of a huge negative number takes a slow (subnormal) path in the CPU
        log_f0 = np.maximum(alpha * r, -_EXP_LIMIT)
        not_zero = -np.expm1(log_f0)  # 1 - f(0)
        odds0 = 1.0 / np.expm1(-log_f0)  # f(0) / (1 - f(0))
        lg = special.gammaln(alpha + self.n_values) - special.gammaln(alpha)
        log_f = lg[idx] + log_f0 + n * (self.log_e - log_be) - np.log(not_zero)
        dg = special.digamma(alpha + self.n_values) - special.digamma(alpha)
        d_alpha = dg[idx] + r / not_zero
        d_beta = alpha / beta - (alpha + n) / (beta + e) + odds0 * alpha * e / (beta * (beta + e))
        return log_f, d_alpha, d_beta

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Negative log-likelihood (without the constant ``sum log n!``) and its gradient."""
        a1, b1, a2, b2, p = (float(x) for x in theta)
        lf1, da1, db1 = self._component(a1, b1)
        lf2, da2, db2 = self._component(a2, b2)
        l1 = math.log(p) + lf1
        l2 = math.log1p(-p) + lf2
        # log(e^l1 + e^l2) and the share of component 1, e^l1 / (e^l1 + e^l2); a difference
        # beyond +/-40 changes either by less than 1e-17 and is clipped (subnormals are slow)
        diff = np.clip(l1 - l2, -_MIX_CLIP, _MIX_CLIP)
        log_l = np.maximum(l1, l2) + np.log1p(np.exp(-np.abs(diff)))
        w1 = special.expit(diff)
        w = self.w
        w1w = w * w1
        w2w = w - w1w
        # plain sums, not np.dot: BLAS threads spin badly on a busy machine
        gradient = -np.array(
            [
                np.sum(w1w * da1),
                np.sum(w1w * db1),
                np.sum(w2w * da2),
                np.sum(w2w * db2),
                np.sum(w1w) / p - np.sum(w2w) / (1.0 - p),
            ]
        )
        return -float(np.sum(w * log_l)), gradient

    def neg_log_likelihood(self, theta: Theta) -> float:
        """The negative log-likelihood with its ``log n!`` terms (openEBGM ``negLL``)."""
        return self.value_and_gradient(np.asarray(theta, dtype=np.float64))[0] + self.constant


def _to_free(theta: Theta) -> FloatArray:
    a1, b1, a2, b2, p = theta
    return np.array([math.log(a1), math.log(b1), math.log(a2), math.log(b2), special.logit(p)])


def _from_free(x: FloatArray) -> FloatArray:
    return np.array([*np.exp(x[:4]), special.expit(x[4])], dtype=np.float64)


def _labelled(theta: FloatArray) -> Theta:
    """The same mixture with component 1 the one of larger prior mean."""
    a1, b1, a2, b2, p = (float(x) for x in theta)
    if a1 / b1 < a2 / b2:
        return (a2, b2, a1, b1, 1.0 - p)
    return (a1, b1, a2, b2, p)


def _minimise(likelihood: _Likelihood, start: Theta) -> tuple[Theta, float, bool, str]:
    """One local fit from ``start``: estimate, objective, success, optimiser message.

    BFGS, unconstrained on ``log alpha``, ``log beta`` and ``logit P`` like openEBGM's
    unconstrained ``nlminb`` on the raw parameters, with the parameter space checked after.
    (L-BFGS-B was tried first; its BLAS calls made it 3 to 30 times slower on a busy machine.)
    The free parameters are held within +/-20 so that no trial step overflows.
    """

    def objective(x: FloatArray) -> tuple[float, FloatArray]:
        held = np.clip(x, -_FREE_LIMIT, _FREE_LIMIT)
        theta = _from_free(held)
        value, gradient = likelihood.value_and_gradient(theta)
        chain = np.concatenate([theta[:4], [theta[4] * (1.0 - theta[4])]])
        return value, np.where(held == x, gradient * chain, 0.0)

    def flat(result: optimize.OptimizeResult) -> bool:
        # BFGS reports "precision loss" when its line search cannot improve on a point where
        # the objective is flat to rounding: a gradient that small counts as converged.
        limit = _FLAT_GRADIENT * max(1.0, abs(float(result.fun)))
        return bool(np.max(np.abs(result.jac)) <= limit)

    x0 = _to_free(start)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        for _ in range(2):  # a second run from where the first stopped, with a fresh Hessian
            result = optimize.minimize(
                objective,
                x0,
                jac=True,
                method="BFGS",
                options={"maxiter": _MAX_ITERATIONS, "gtol": _GTOL},
            )
            if result.success or flat(result):
                break
            x0 = np.asarray(result.x, dtype=np.float64)
    x = np.clip(np.asarray(result.x, dtype=np.float64), -_FREE_LIMIT, _FREE_LIMIT)
    theta = _from_free(x)
    inside = bool(
        np.all(theta[:4] > _LOW) and np.all(theta[:4] < PARAM_LIMIT) and abs(x[4]) < _LOGIT_LIMIT
    )
    ok = (bool(result.success) or flat(result)) and inside and bool(np.isfinite(result.fun))
    message = str(result.message) if inside else "estimate on the edge of the parameter space"
    return _labelled(theta), float(result.fun), ok, message


def fit_gps_prior(
    n: npt.ArrayLike, expected: npt.ArrayLike, *, starts: tuple[Theta, ...] = STARTS
) -> GpsPrior:
    """Fit the two-gamma mixture prior by maximum likelihood (DuMouchel 1999).

    The likelihood is that of the pairs with ``n >= 1``, conditional on ``n >= 1`` (openEBGM
    ``negLL``, ``N_star = 1``). It is minimised by BFGS with an analytic gradient, on
    ``log alpha``, ``log beta`` and ``logit P``, from each of ``starts``. As in openEBGM's
    ``autoHyper``, the estimate with the smallest negative log-likelihood among the starts that
    converged inside the parameter space is kept. It counts as converged only when another
    start's estimate lies within :data:`CLOSE` of it (with a single start, when it converged).

    Parameters
    ----------
    n : array_like of int
        Report counts of the product-event pairs. Pairs with ``n = 0`` are left out of the
        fit, as openEBGM does with ``zeroes = FALSE``.
    expected : array_like of float
        Expected counts ``E`` of the same pairs (> 0 where ``n >= 1``).
    starts : tuple of 5-tuples, optional
        Starting points ``(alpha1, beta1, alpha2, beta2, P)``; default :data:`STARTS`.

    Returns
    -------
    GpsPrior
        The estimate, its negative log-likelihood (with the ``log n!`` terms, as openEBGM
        reports it), whether it converged, and a message. When no start converged, or no pair
        has ``n >= 1``, ``converged`` is False and the message says why. The parameters are
        then the best attempt, or NaN when there was nothing to fit.

    Raises
    ------
    ValueError
        If the inputs are not one-dimensional arrays of the same length, ``n`` holds other
        than whole numbers >= 0, or an expected count is negative or zero where ``n >= 1``.

    Examples
    --------
    Counts simulated from a known prior: lambda near 1 for most pairs, near 5 (the first
    component's mean) for a tenth of them. The fit recovers a mean of about 5 and a share of
    about 0.1:

    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> e = rng.gamma(1.0, 2.0, 20_000)
    >>> signal = rng.random(20_000) < 0.1
    >>> lam = np.where(signal, rng.gamma(10.0, 0.5, 20_000), rng.gamma(20.0, 0.05, 20_000))
    >>> n = rng.poisson(lam * e)
    >>> prior = fit_gps_prior(n, e)
    >>> prior.converged, round(prior.alpha1 / prior.beta1, 1), round(prior.p, 2)
    (True, 5.1, 0.12)
    """
    counts, e = _as_arrays(n, expected)
    observed = counts >= 1
    if np.any(e[observed] <= 0):
        raise ValueError("a pair with n >= 1 has an expected count of 0")
    fitted = int(observed.sum())
    if fitted == 0:
        nan = math.nan
        return GpsPrior(nan, nan, nan, nan, nan, message="no pair with n >= 1 to fit")
    likelihood = _Likelihood(counts[observed], e[observed])
    tries = [_minimise(likelihood, start) for start in starts]
    good = [t for t in tries if t[2]]
    if not good:
        best = min(tries, key=lambda t: t[1] if math.isfinite(t[1]) else math.inf)
        return GpsPrior(
            *best[0],
            neg_log_likelihood=likelihood.neg_log_likelihood(best[0]),
            converged=False,
            n_pairs=fitted,
            message=f"no start converged inside the parameter space ({best[3]})",
        )
    best = min(good, key=lambda t: t[1])
    agreeing = sum(
        all(abs(x - y) < tol for x, y, tol in zip(t[0], best[0], CLOSE, strict=True))
        for t in good
        if t is not best
    )
    converged = agreeing >= 1 or len(starts) == 1
    message = (
        f"maximum likelihood, {len(good)} of {len(starts)} starts converged, "
        f"{agreeing} close to the best"
    )
    if not converged:
        message = f"unconfirmed: no other start reached a close estimate ({message})"
    return GpsPrior(
        *best[0],
        neg_log_likelihood=likelihood.neg_log_likelihood(best[0]),
        converged=converged,
        n_pairs=fitted,
        agreeing_starts=agreeing,
        message=message,
    )


def neg_log_likelihood(n: npt.ArrayLike, expected: npt.ArrayLike, prior: GpsPrior) -> float:
    """Negative log-likelihood of ``prior`` on the pairs with ``n >= 1`` (openEBGM ``negLL``).

    Parameters
    ----------
    n, expected : array_like
        Counts and expected counts; pairs with ``n = 0`` are ignored.
    prior : GpsPrior
        The hyperparameters.

    Returns
    -------
    float
        ``-sum log(P f1*(n) + (1 - P) f2*(n))`` with ``f*`` the negative binomial conditional
        on ``n >= 1``.

    Examples
    --------
    >>> prior = GpsPrior(0.2, 0.1, 2.0, 4.0, 1 / 3)
    >>> round(neg_log_likelihood([1, 2, 5], [0.5, 1.0, 1.5], prior), 4)
    5.654
    """
    counts, e = _as_arrays(n, expected)
    observed = counts >= 1
    likelihood = _Likelihood(counts[observed], e[observed])
    return likelihood.neg_log_likelihood(prior.theta)


def posterior_weight(n: npt.ArrayLike, expected: npt.ArrayLike, prior: GpsPrior) -> FloatArray:
    """``Qn``: posterior probability of the first component given ``n`` (DuMouchel eq. 6).

    Parameters
    ----------
    n, expected : array_like
        Counts and expected counts of the pairs.
    prior : GpsPrior
        The hyperparameters.

    Returns
    -------
    numpy.ndarray
        One weight per pair, computed on the log scale (no underflow for large ``n``).

    Examples
    --------
    >>> prior = GpsPrior(3.25379064, 0.39988801, 2.02613219, 1.90808279, 0.06534557)
    >>> posterior_weight([1], [0.0360548272], prior).round(7)
    array([0.2819736])
    """
    counts, e = _as_arrays(n, expected)
    a1, b1, a2, b2, p = prior.theta
    l1 = math.log(p) + _log_nb(counts, a1, b1, e)
    l2 = math.log1p(-p) + _log_nb(counts, a2, b2, e)
    return np.asarray(special.expit(l1 - l2), dtype=np.float64)


def _mixture_quantile(
    prob: float,
    qn: FloatArray,
    shapes: tuple[FloatArray, FloatArray],
    rates: tuple[FloatArray, FloatArray],
) -> FloatArray:
    """The ``prob`` quantile of ``qn Gamma(s1, r1) + (1 - qn) Gamma(s2, r2)``, vectorised.

    Safeguarded Newton on ``y = log x``: the bracket starts at the two components' own
    quantiles (the mixture's lies between them) and shrinks with every step; a Newton step that
    leaves the bracket is replaced by its midpoint.
    """
    (s1, s2), (r1, r2) = shapes, rates
    q1 = special.gammaincinv(s1, prob) / r1
    q2 = special.gammaincinv(s2, prob) / r2
    lo = np.log(np.minimum(q1, q2))
    hi = np.log(np.maximum(q1, q2))
    y = np.log(qn * q1 + (1.0 - qn) * q2)  # start: the weighted mean of the two
    active = hi - lo > 1e-12
    for _ in range(_MAX_NEWTON):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        yi, qi = y[idx], qn[idx]
        x = np.exp(yi)
        a, b, c, d = s1[idx], r1[idx], s2[idx], r2[idx]
        cdf = qi * special.gammainc(a, b * x) + (1.0 - qi) * special.gammainc(c, d * x)
        # density of log x: x f(x), f the gamma densities
        dens = qi * np.exp(a * np.log(b * x) - b * x - special.gammaln(a)) + (1.0 - qi) * np.exp(
            c * np.log(d * x) - d * x - special.gammaln(c)
        )
        below = cdf < prob
        lo[idx] = np.where(below, yi, lo[idx])
        hi[idx] = np.where(below, hi[idx], yi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (cdf - prob) / dens
        new = yi - step
        outside = ~np.isfinite(new) | (new <= lo[idx]) | (new >= hi[idx])
        new = np.where(outside, 0.5 * (lo[idx] + hi[idx]), new)
        done = (np.abs(new - yi) < 1e-11) | (hi[idx] - lo[idx] < 1e-11)
        y[idx] = new
        active[idx[done]] = False
    return np.asarray(np.exp(y), dtype=np.float64)


def gps_scores(n: npt.ArrayLike, expected: npt.ArrayLike, prior: GpsPrior) -> pd.DataFrame:
    """Posterior summaries per pair: ``Qn``, EBGM, EB05 and EB95 (DuMouchel 1999 eq. 6-11).

    Parameters
    ----------
    n : array_like of int
        Report counts (``n = 0`` is allowed: its posterior is the prior updated by ``E``).
    expected : array_like of float
        Expected counts ``E`` of the same pairs.
    prior : GpsPrior
        Hyperparameters, usually from :func:`fit_gps_prior`.

    Returns
    -------
    pandas.DataFrame
        Columns ``qn``, ``ebgm``, ``eb05`` and ``eb95``, one row per pair, in input order.
        All NaN when the prior is not usable (NaN or outside the parameter space).

    Examples
    --------
    Three pairs from openEBGM's posterior vignette on CAERS, with the vignette's
    hyperparameters. The vignette prints Qn 0.2819736, 0.3409652, 0.2226354; EBGM 2.23, 2.58,
    1.92; QUANT_05 0.49, 0.52, 0.47; QUANT_95 13.85, 15.78, 11.77. Its bisection stops within
    0.005 and then rounds, so its last digit can differ by 1:

    >>> prior = GpsPrior(3.25379064, 0.39988801, 2.02613219, 1.90808279, 0.06534557)
    >>> scores = gps_scores([1, 1, 1], [0.0360548272, 0.0038736591, 0.0765792610], prior)
    >>> scores["qn"].round(7).tolist()
    [0.2819736, 0.3409652, 0.2226354]
    >>> scores[["ebgm", "eb05", "eb95"]].round(2)
       ebgm  eb05   eb95
    0  2.23  0.49  13.86
    1  2.58  0.52  15.79
    2  1.92  0.47  11.77
    """
    counts, e = _as_arrays(n, expected)
    if not prior.usable:
        nan = np.full(counts.shape, np.nan)
        return pd.DataFrame({"qn": nan, "ebgm": nan, "eb05": nan, "eb95": nan})
    a1, b1, a2, b2, _ = prior.theta
    qn = posterior_weight(counts, e, prior)
    shapes = (a1 + counts, a2 + counts)
    rates = (b1 + e, b2 + e)
    log_mean = qn * (special.digamma(shapes[0]) - np.log(rates[0])) + (1.0 - qn) * (
        special.digamma(shapes[1]) - np.log(rates[1])
    )
    return pd.DataFrame(
        {
            "qn": qn,
            "ebgm": np.exp(log_mean),  # 2^(E[log2 lambda]) = e^(E[ln lambda])
            "eb05": _mixture_quantile(0.05, qn, shapes, rates),
            "eb95": _mixture_quantile(0.95, qn, shapes, rates),
        }
    )


__all__ = [
    "CLOSE",
    "PARAM_LIMIT",
    "STARTS",
    "GpsPrior",
    "fit_gps_prior",
    "gps_scores",
    "neg_log_likelihood",
    "posterior_weight",
]
