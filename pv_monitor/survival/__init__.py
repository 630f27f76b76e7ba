"""Survival analysis for the dashboard: Kaplan-Meier curves, Aalen-Johansen cumulative
incidence with competing risks, and group comparisons (log-rank, Cox hazard ratios).

Pure functions over one row per subject (architecture.md layering: no store, no SQL); the store
query that builds those rows is :func:`pv_monitor.store.survival_io.survival_inputs`.
Definitions, estimators and the R comparisons: ``docs/survival.md``.
"""

from pv_monitor.survival.estimates import (
    ALL_GROUP,
    Comparison,
    Curves,
    compare_groups,
    cumulative_incidence,
    default_times,
    kaplan_meier,
)

__all__ = [
    "ALL_GROUP",
    "Comparison",
    "Curves",
    "compare_groups",
    "cumulative_incidence",
    "default_times",
    "kaplan_meier",
]
