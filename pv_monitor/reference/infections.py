"""Which reported adverse-event terms are infections, when no licensed MedDRA file says so.

With a MedDRA hierarchy configured (:mod:`pv_monitor.reference.meddra`), an infection is a term
whose primary SOC is "Infections and infestations". Without one, the report matches reported
terms (case-insensitively) against ``infection_terms_v1.csv``: a project list [UNCONFIRMED],
versioned like every criteria table.

Examples
--------
>>> is_infection(pd.Series(["SEPSIS", "Rash", "covid-19"])).tolist()
[True, False, True]
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pandas as pd

INFECTION_TERMS_VERSION = "v1"
INFECTIONS_SOC = "Infections and infestations"


@cache
def infection_terms(version: str = INFECTION_TERMS_VERSION) -> frozenset[str]:
    """The listed infection terms of ``version``, lower-cased."""
    resource = files("pv_monitor.reference").joinpath(f"infection_terms_{version}.csv")
    with resource.open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, comment="#")
    return frozenset(table["term"].str.strip().str.lower())


def is_infection(terms: pd.Series, hierarchy: pd.DataFrame | None = None) -> pd.Series:
    """True for terms that are infections: by MedDRA SOC when ``hierarchy`` is given
    (``pt_name``, ``soc_name``), else by the versioned term list."""
    if hierarchy is not None:
        soc = hierarchy.drop_duplicates("pt_name").set_index("pt_name")["soc_name"]
        return terms.map(soc).eq(INFECTIONS_SOC)
    return terms.str.strip().str.lower().isin(infection_terms())


__all__ = ["INFECTIONS_SOC", "INFECTION_TERMS_VERSION", "infection_terms", "is_infection"]
