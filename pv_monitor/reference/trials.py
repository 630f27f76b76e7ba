"""Pivotal-trial toxicity rates as a versioned reference table (clinical.md §7.2).

Each row is one published figure with the trial and population it comes from, the scale it was
graded on and its evidence tag from clinical.md: ``C`` (confirmed from a source that was read),
``C2`` (secondary source only) or ``UNCONFIRMED`` (recalled, not seen in a source; a clinician must
check the primary paper before it is relied on). Proportions are fractions (0.94 = 94%); onset
and duration are median days with the published range in ``low``/``high`` when one was read.

The synthetic cohort draws its rates from this table, and the within-programme monitoring
compares observed incidence with it.

Examples
--------
>>> rates = load_pivotal_rates()
>>> row = rates[(rates.trial == "JULIET") & (rates.metric == "crs_grade3plus")].iloc[0]
>>> float(row.value), row.scale, row.evidence
(0.22, 'penn', 'C')
"""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

PIVOTAL_RATES_VERSION = "v1"
EVIDENCE_TAGS = ("C", "C2", "UNCONFIRMED")


def load_pivotal_rates(version: str = PIVOTAL_RATES_VERSION) -> pd.DataFrame:
    """Read the pivotal-trial rate table of ``version``.

    Returns
    -------
    DataFrame
        Columns ``trial, population, product, indication, n, metric, value, low, high, unit,
        scale, evidence, source, note``; one row per published figure.
    """
    resource = files("pv_monitor.reference").joinpath(f"pivotal_trial_rates_{version}.csv")
    with resource.open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, dtype={"scale": "string", "product": "string"})
    unknown = set(table["evidence"]) - set(EVIDENCE_TAGS)
    if unknown:
        raise ValueError(f"pivotal rate table {version}: unknown evidence tags {sorted(unknown)}")
    return table
