"""The Gamma-Poisson Shrinker against openEBGM's CAERS worked examples, and its pieces
against independent computations (scipy.stats distributions, numerical integration)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from pv_monitor.signals.disproportionality import disproportionality, report_counts
from pv_monitor.signals.gps import (
    GpsPrior,
    fit_gps_prior,
    gps_scores,
    neg_log_likelihood,
    posterior_weight,
)

# openEBGM 0.9.1 vignettes (x3 hyperparameters, x4 posterior; cran/openEBGM @ 6e6885c):
# autoHyper(processed, squashed = FALSE), i.e. every pair, no squashing
OPENEBGM_FULL = (3.25596617, 0.39998845, 2.02374464, 1.90612821, 0.06530723)
OPENEBGM_FULL_NLL = 4162.456
# autoHyper on squashed data, the estimate the posterior vignette prints scores for
OPENEBGM_SQUASHED = GpsPrior(3.25379064, 0.39988801, 2.02613219, 1.90808279, 0.06534557)


@pytest.fixture
def caers_counts(shared_data: Path) -> pd.DataFrame:
    """openEBGM's CAERS data counted as its processRaw counts (unique report ids)."""
    path = shared_data / "openebgm_caers" / "caers.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not present (see shared/data/openebgm_caers/SOURCE.md)")
    return _counts(path).copy()


@functools.cache
def _counts(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    return report_counts(raw, report="id", product="var1", event="var2")


@pytest.fixture
def caers_fit(caers_counts: pd.DataFrame) -> GpsPrior:
    return fit_gps_prior(caers_counts["a"], _expected(caers_counts))


def _expected(counts: pd.DataFrame) -> pd.Series:
    return counts["product_reports"] * (counts["event_reports"] / counts["total_reports"])


def test_caers_counts_match_process_raw(caers_counts: pd.DataFrame) -> None:
    """17,189 pairs from 3,356 reports; the first E values the vignettes print."""
    assert len(caers_counts) == 17_189
    assert caers_counts["total_reports"].iloc[0] == 3_356
    head = caers_counts.head(3)
    assert head["product"].tolist() == [
        "1-PHENYLALANINE",
        "11 UNSPECIFIED VITAMINS",
        "11 UNSPECIFIED VITAMINS",
    ]
    assert _expected(head).round(10).tolist() == [0.0360548272, 0.0038736591, 0.0002979738]


def test_caers_hyperparameters_match_openebgm_unsquashed(
    caers_counts: pd.DataFrame, caers_fit: GpsPrior
) -> None:
    """The likelihood surface is flat in alpha1 (openEBGM's SE 2.29), so the estimates are
    compared to 3 significant figures and the negative log-likelihood to 0.01."""
    assert caers_fit.converged
    assert caers_fit.n_pairs == 17_189
    assert caers_fit.theta == pytest.approx(OPENEBGM_FULL, rel=1e-3)
    assert caers_fit.neg_log_likelihood == pytest.approx(OPENEBGM_FULL_NLL, abs=0.01)
    # our optimum is at least as good as openEBGM's estimate on the same likelihood
    theirs = GpsPrior(*OPENEBGM_FULL)
    at_theirs = neg_log_likelihood(caers_counts["a"], _expected(caers_counts), theirs)
    assert at_theirs == pytest.approx(OPENEBGM_FULL_NLL, abs=0.001)
    assert caers_fit.neg_log_likelihood <= at_theirs + 1e-9


def test_caers_131_pairs_have_eb05_of_2_or_more(
    caers_counts: pd.DataFrame, caers_fit: GpsPrior
) -> None:
    """The posterior vignette finds 131 pairs with QUANT_05 >= 2 out of 17,189."""
    scores = gps_scores(caers_counts["a"], _expected(caers_counts), caers_fit)
    assert int((scores["eb05"] >= 2).sum()) == 131


def test_disproportionality_fits_the_same_prior_on_caers(
    caers_counts: pd.DataFrame, caers_fit: GpsPrior
) -> None:
    result = disproportionality(caers_counts)
    assert result.attrs["gps_prior"]["neg_log_likelihood"] == pytest.approx(
        caers_fit.neg_log_likelihood, abs=1e-6
    )
    assert int(result["eb05_signal"].sum()) == 131
    assert result["eb_note"].isna().all()


def test_caers_stratified_by_sex(shared_data: Path) -> None:
    """Stratified by the reporter's sex (openEBGM ``strat1``): E for each pair is
    sum over strata of n_s(product) n_s(event) / n_s, over the strata holding both. Checked
    against that sum computed straight from the raw rows."""
    path = shared_data / "openebgm_caers" / "caers.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    raw = pd.read_csv(path)
    counts = report_counts(raw, report="id", product="var1", event="var2", stratum="strat1")

    result = disproportionality(counts)

    assert len(result) == 17_189
    assert set(counts["stratum"]) == {"Female", "Male", "Not Available"}
    n_s = raw.groupby("strat1")["id"].nunique()
    n_p = raw.groupby(["var1", "strat1"])["id"].nunique().rename("n_p").reset_index()
    n_e = raw.groupby(["var2", "strat1"])["id"].nunique().rename("n_e").reset_index()
    pairs = raw[["var1", "var2"]].drop_duplicates()
    direct = pairs.merge(n_p, on="var1").merge(n_e, on=["var2", "strat1"])
    direct["e"] = direct["n_p"] * direct["n_e"] / direct["strat1"].map(n_s)
    by_pair = direct.groupby(["var1", "var2"])["e"].sum()
    assert result["gps_expected"].to_numpy() == pytest.approx(by_pair.to_numpy(), rel=1e-12)
    # the crude 2x2 table ignores the strata
    crude = disproportionality(report_counts(raw, report="id", product="var1", event="var2"))
    assert result["prr"].equals(crude["prr"])
    assert result.attrs["gps_prior"]["converged"]


def test_caers_posterior_matches_the_vignette(caers_counts: pd.DataFrame) -> None:
    """With the vignette's hyperparameters: its Qn (7 decimals), and EBGM, QUANT_05 and
    QUANT_95 (2 decimals; its bisection stops within 0.005 before rounding, so 0.01)."""
    counts = caers_counts.assign(expected=_expected(caers_counts))
    scores = pd.concat(
        [counts, gps_scores(counts["a"], counts["expected"], OPENEBGM_SQUASHED)], axis=1
    )
    head = scores.head(6)
    assert head["qn"].round(7).tolist() == [
        0.2819736, 0.3409652, 0.3482316, 0.2819736, 0.2226354, 0.2556668
    ]  # fmt: skip
    printed_head = [  # ebgm, QUANT_05, QUANT_95
        (2.23, 0.49, 13.85), (2.58, 0.52, 15.78), (2.63, 0.52, 16.02),
        (2.23, 0.49, 13.85), (1.92, 0.47, 11.77), (2.09, 0.48, 12.95),
    ]  # fmt: skip
    assert head[["ebgm", "eb05", "eb95"]].to_numpy() == pytest.approx(
        np.array(printed_head), abs=0.01
    )
    top = scores.sort_values("eb05", ascending=False).head(5)
    assert list(zip(top["product"], top["event"], strict=True)) == [
        ("REUMOFAN PLUS", "WEIGHT INCREASED"),
        ("HYDROXYCUT REGULAR RAPID RELEASE CAPLETS", "EMOTIONAL DISTRESS"),
        ("REUMOFAN PLUS", "IMMOBILE"),
        ("HYDROXYCUT HARDCORE CAPSULES", "CARDIO-RESPIRATORY DISTRESS"),
        ("HYDROXYCUT REGULAR RAPID RELEASE CAPLETS", "INJURY"),
    ]
    printed_top = [
        (15.68, 23.26, 33.48), (11.65, 16.78, 23.55), (10.16, 18.28, 30.83),
        (9.00, 15.25, 24.52), (8.98, 14.28, 21.78),
    ]  # fmt: skip
    assert top[["eb05", "ebgm", "eb95"]].to_numpy() == pytest.approx(
        np.array(printed_top), abs=0.01
    )
    # the vignette's count is the same with its own (squashed) hyperparameters
    assert int((scores["eb05"] >= 2).sum()) == 131


def test_likelihood_equals_negative_binomials_from_scipy() -> None:
    """-sum log(P f1*(n) + (1-P) f2*(n)), f* = NB(alpha, beta/(beta+E)) / (1 - NB(0))."""
    prior = GpsPrior(0.2, 0.1, 2.0, 4.0, 1 / 3)
    n = np.array([1, 2, 5, 1, 30])
    e = np.array([0.5, 1.0, 1.5, 1e-4, 2.0])

    def truncated(alpha: float, beta: float) -> np.ndarray:
        nb = stats.nbinom(alpha, beta / (beta + e))
        return np.asarray(nb.pmf(n) / nb.sf(0))

    mixture = prior.p * truncated(0.2, 0.1) + (1 - prior.p) * truncated(2.0, 4.0)
    expected = -float(np.log(mixture).sum())
    # zero counts are not part of the (truncated) likelihood
    got = neg_log_likelihood(np.append(n, 0), np.append(e, 3.0), prior)
    assert got == pytest.approx(expected, rel=1e-12)


def test_posterior_summaries_equal_direct_integration() -> None:
    """Qn from scipy's negative binomial pmf; EBGM as exp of the integral of ln(lambda) under
    the posterior mixture; EB05 and EB95 where scipy's gamma CDFs give 0.05 and 0.95."""
    prior = OPENEBGM_SQUASHED
    a1, b1, a2, b2, p = prior.theta
    for n, e in [(1, 0.036), (16, 0.406), (0, 2.5), (250, 180.0)]:
        f1 = stats.nbinom.pmf(n, a1, b1 / (b1 + e))
        f2 = stats.nbinom.pmf(n, a2, b2 / (b2 + e))
        qn = p * f1 / (p * f1 + (1 - p) * f2)
        post1 = stats.gamma(a1 + n, scale=1 / (b1 + e))
        post2 = stats.gamma(a2 + n, scale=1 / (b2 + e))
        upper = max(post1.ppf(1 - 1e-12), post2.ppf(1 - 1e-12))
        log_mean = integrate.quad(
            lambda x, q=qn, g1=post1, g2=post2: math.log(x) * (q * g1.pdf(x) + (1 - q) * g2.pdf(x)),
            0,
            upper,
            limit=500,
        )[0]
        row = gps_scores([n], [e], prior).iloc[0]
        assert posterior_weight([n], [e], prior)[0] == pytest.approx(qn, rel=1e-9)
        assert row["ebgm"] == pytest.approx(math.exp(log_mean), rel=1e-6)
        for column, level in (("eb05", 0.05), ("eb95", 0.95)):
            cdf = qn * post1.cdf(row[column]) + (1 - qn) * post2.cdf(row[column])
            assert cdf == pytest.approx(level, abs=1e-9)


def test_fit_recovers_a_known_prior() -> None:
    """50,000 pairs simulated from theta = (10, 2, 20, 20, 0.1): prior means 5 and 1."""
    rng = np.random.default_rng(11)
    size = 50_000
    e = rng.gamma(1.0, 3.0, size)
    first = rng.random(size) < 0.1
    lam = np.where(first, rng.gamma(10.0, 1 / 2.0, size), rng.gamma(20.0, 1 / 20.0, size))
    n = rng.poisson(lam * e)

    prior = fit_gps_prior(n, e)

    assert prior.converged
    assert prior.alpha1 / prior.beta1 == pytest.approx(5.0, rel=0.1)
    assert prior.alpha2 / prior.beta2 == pytest.approx(1.0, rel=0.05)
    assert prior.p == pytest.approx(0.1, abs=0.03)
    assert prior.n_pairs == int((n >= 1).sum())


def test_a_fit_without_data_is_not_converged() -> None:
    prior = fit_gps_prior([0, 0], [1.0, 2.0])
    assert not prior.converged
    assert prior.message == "no pair with n >= 1 to fit"
    assert gps_scores([1], [1.0], prior).isna().all().all()


@pytest.mark.parametrize(
    ("n", "e", "message"),
    [
        ([1, 2], [1.0], "same length"),
        ([1.5], [1.0], "whole numbers"),
        ([-1], [1.0], "whole numbers"),
        ([1], [-1.0], "expected"),
        ([1], [0.0], "expected count of 0"),
    ],
)
def test_invalid_inputs_are_refused(n: list[float], e: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_gps_prior(n, e)
