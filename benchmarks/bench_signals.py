"""Benchmark: the Gamma-Poisson Shrinker without data squashing, on CAERS and on 2 M rows.

Targets (issue 7): the full GPS on openEBGM's CAERS example, i.e. the hyperparameter fit on
all 17,189 pairs without squashing followed by EBGM, EB05 and EB95 for every pair, in under
1 s. On a synthetic spontaneous-report set of 2,000,000 report-event rows: the counts, the
fit and the scores in under 60 s.

Steps, each timed separately in this process:

* CAERS (``../shared/data/openebgm_caers/caers.csv``, skipped when absent): counting unique
  reports per pair with pandas (``report_counts``), fitting the prior (``fit_gps_prior``,
  5 starts), and the posterior scores (``gps_scores``).
* Synthetic (numpy, seeded): reports with 1 + Poisson(0.4) products and 1 + Poisson(1.6)
  events, drawn from Zipf-like frequencies (weight 1 / rank^1.1) over a few thousand products
  and events. Frequencies vary between 40 latent report clusters (confounding by
  indication; log-normal factors, sigma 1.5), and each product brings one associated event
  (among the 30 most frequent) into a tenth of its reports, so there are true signals to
  find. The same three steps run, then ``disproportionality()``
  end to end (all statistics and flags).

    python benchmarks/bench_signals.py                     # 2,000,000 synthetic rows
    python benchmarks/bench_signals.py --rows 500000 --seed 2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from pv_monitor.signals.disproportionality import disproportionality, report_counts
from pv_monitor.signals.gps import fit_gps_prior, gps_scores

T = TypeVar("T")
SPREAD = 1.5
"""Standard deviation of the log-normal factors by which clusters reweight frequencies."""
SIGNAL_SHARE = 0.1
SIGNAL_EVENTS = 30
"""Each product's associated event is one of the 30 most frequent events."""
CAERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "openebgm_caers" / "caers.csv"


def timed(label: str, step: Callable[[], T]) -> tuple[T, float]:
    """Run ``step``, print how long it took, and return its result and the seconds."""
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.2f} s")
    return result, seconds


def zipf_weights(size: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** exponent
    return np.asarray(weights / weights.sum())


def synthetic_rows(
    rows: int, products: int, events: int, seed: int, clusters: int = 40
) -> pd.DataFrame:
    """At most ``rows`` (report, product, event) rows, short of it by less than one report:
    every product of a report crossed with every event of it.

    Reports belong to latent clusters (indications, populations). Each cluster reweights the
    Zipf frequencies of products and events by its own log-normal factors. This confounding
    spreads the true reporting ratios of pairs around 1, as in real databases. Without it every
    pair would sit at exactly 1 and the second prior component would collapse to a point.
    """
    rng = np.random.default_rng(seed)
    drawn = int(rows / ((1 + 0.4) * (1 + 1.6)) * 1.1) + 10  # mean rows per report: 3.64
    n_products = 1 + rng.poisson(0.4, drawn)
    n_events = 1 + rng.poisson(1.6, drawn)
    n_reports = int(np.searchsorted(np.cumsum(n_products * n_events), rows, side="right"))
    n_products, n_events = n_products[:n_reports], n_events[:n_reports]
    cluster = rng.choice(clusters, n_reports, p=zipf_weights(clusters, 1.0))
    product = np.empty(n_products.sum(), dtype=np.int64)
    event = np.empty(n_events.sum(), dtype=np.int64)
    product_cluster = np.repeat(cluster, n_products)
    event_cluster = np.repeat(cluster, n_events)
    base_p, base_e = zipf_weights(products, 1.1), zipf_weights(events, 1.1)
    for k in range(clusters):  # one vectorised draw per cluster
        weights_p = base_p * rng.lognormal(0.0, SPREAD, products)
        weights_e = base_e * rng.lognormal(0.0, SPREAD, events)
        in_p, in_e = product_cluster == k, event_cluster == k
        product[in_p] = rng.choice(products, in_p.sum(), p=weights_p / weights_p.sum())
        event[in_e] = rng.choice(events, in_e.sum(), p=weights_e / weights_e.sum())
    # a report's first product brings its associated event (one of the most frequent ones)
    # in place of one of the report's events, in a tenth of its reports
    first_product = np.repeat(product[np.cumsum(n_products) - n_products], n_events)
    swap = rng.random(event.size) < SIGNAL_SHARE / n_events.repeat(n_events)
    event = np.where(swap, (first_product * 7919) % SIGNAL_EVENTS, event)
    # cross products and events within each report
    cells = n_products * n_events
    report = np.repeat(np.arange(n_reports), cells)
    within = np.arange(cells.sum()) - np.repeat(np.cumsum(cells) - cells, cells)
    ne = np.repeat(n_events, cells)
    p_index = np.repeat(np.cumsum(n_products) - n_products, cells) + within // ne
    e_index = np.repeat(np.cumsum(n_events) - n_events, cells) + within % ne
    return pd.DataFrame({"id": report, "product": product[p_index], "event": event[e_index]})


def gps_steps(raw: pd.DataFrame, product: str, event: str) -> tuple[pd.DataFrame, float]:
    """Counts, fit and scores, each timed; returns the counts and the fit + scores seconds."""
    counts, _ = timed(
        "counts from the raw rows (pandas groupby)",
        lambda: report_counts(raw, report="id", product=product, event=event),
    )
    n = counts["a"].to_numpy()
    expected = (
        counts["product_reports"] * (counts["event_reports"] / counts["total_reports"])
    ).to_numpy()
    print(f"  {len(counts):,} product-event pairs")
    prior, fit_s = timed(
        "hyperparameter fit on every pair, no squashing", lambda: fit_gps_prior(n, expected)
    )
    print(
        f"    theta = ({prior.alpha1:.4f}, {prior.beta1:.4f}, {prior.alpha2:.4f}, "
        f"{prior.beta2:.4f}, {prior.p:.5f}), -logL = {prior.neg_log_likelihood:.3f}, "
        f"converged: {prior.converged} ({prior.message})"
    )
    scores, score_s = timed(
        "EBGM, EB05 and EB95 for every pair", lambda: gps_scores(n, expected, prior)
    )
    print(f"    {int((scores['eb05'] >= 2).sum()):,} pairs with EB05 >= 2")
    return counts, fit_s + score_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--products", type=int, default=3_000)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    if CAERS.is_file():
        print(f"CAERS ({CAERS}):")
        raw = pd.read_csv(CAERS)
        _, caers_s = gps_steps(raw, "var1", "var2")
        verdict = "met" if caers_s < 1 else "NOT met"
        print(f"  full GPS (fit + scores): {caers_s:.2f} s (target < 1 s): {verdict}")
    else:
        print(f"CAERS not measured: {CAERS} is not present")

    started = time.perf_counter()
    raw = synthetic_rows(args.rows, args.products, args.events, args.seed)
    print(
        f"\nsynthetic: {len(raw):,} report-event rows, {raw['id'].nunique():,} reports, "
        f"{raw['product'].nunique():,} products, {raw['event'].nunique():,} events "
        f"(generated in {time.perf_counter() - started:.1f} s, not part of the target)"
    )
    total_started = time.perf_counter()
    counts, _ = gps_steps(raw, "product", "event")
    total_s = time.perf_counter() - total_started
    verdict = "met" if total_s < 60 else "NOT met"
    print(f"  counts + fit + scores: {total_s:.2f} s (target < 60 s): {verdict}")
    result, _ = timed(
        "disproportionality() on the counts (PRR, chi2, ROR, IC, GPS fit and scores, flags)",
        lambda: disproportionality(counts),
    )
    flags = ["evans_signal", "ror_signal", "ic_signal", "eb05_signal"]
    print("    pairs flagged: " + ", ".join(f"{f} {int(result[f].sum()):,}" for f in flags))


if __name__ == "__main__":
    main()
