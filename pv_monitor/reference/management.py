"""The management summary shown beside a patient's current grade (clinical.md §8).

A **guideline summary** (ASCO 2021, Santomasso et al., J Clin Oncol 2021;39(35):3978-3992), not
an order: the dashboard labels it so. Kept as a versioned table with each row's evidence tag;
rows tagged ``UNCONFIRMED`` carry detail that was not verified in the primary source.

Examples
--------
>>> rows = management_summary("crs", 3)
>>> list(rows["grade"]), rows["action"].iloc[1][:3]
(['all', '3'], 'ICU')
>>> management_summary("crs", 0).empty
True
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pandas as pd

MANAGEMENT_VERSION = "asco_2021_v1"
MANAGEMENT_TITLE = "Guideline summary (ASCO 2021, Santomasso et al.): not a treatment order"


@cache
def load_management(version: str = MANAGEMENT_VERSION) -> pd.DataFrame:
    """The management table ``syndrome, grade, action, evidence, source`` of ``version``."""
    resource = files("pv_monitor.reference").joinpath(f"management_{version}.csv")
    with resource.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str)


def management_summary(syndrome: str, grade: float | None) -> pd.DataFrame:
    """The rows for ``syndrome`` at ``grade``: the all-grades work-up, then the grade's own
    row (grade 5 shows nothing; no grade or grade 0 shows nothing)."""
    if grade is None or pd.isna(grade) or not 1 <= int(grade) <= 4:
        return pd.DataFrame(columns=load_management().columns)
    table = load_management()
    wanted = table["grade"].isin(("all", str(int(grade))))
    return table[(table["syndrome"] == syndrome) & wanted].reset_index(drop=True)
