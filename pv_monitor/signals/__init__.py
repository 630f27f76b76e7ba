"""Signal detection for safety officers (pharmacovigilance.md §1-2).

Two families, never mixed and always labelled:

* **disproportionality** on spontaneous reports (PRR, ROR, IC, the Gamma-Poisson Shrinker);
* **within-programme monitoring** of trial and registry cohorts (incidence with exact intervals
  against reference rates, Bernoulli and risk-adjusted CUSUM, a beta-binomial Bayesian monitor).

A statistical hit is a *potential signal* until a person validates it
(``pv_monitor.store.signals``).
"""
