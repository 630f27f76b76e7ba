"""CTCAE v5.0 grades of the laboratory values pv-monitor stores.

Organ toxicities, cytopenias and coagulopathy do not change the ASTCT CRS grade and are graded
with CTCAE v5.0 instead (clinical.md §0). The thresholds in ``ctcae_v5_0_labs`` were written
from the NCI CTCAE v5.0 (2017) as recalled; clinical.md does not give them, so every row is
tagged [UNCONFIRMED] until checked against the NCI document. Relative criteria use the
reference limits in the same table (laboratory-specific defaults a site replaces); the
baseline-relative variants (for an abnormal baseline) are not applied.

Per infusion and term, the worst grade over days 0 to +100 is kept, filed under the first day it
was reached, with the value that set it.

Examples
--------
>>> import pandas as pd
>>> labs = pd.DataFrame({"infusion_id": 1, "subject_id": 1, "study_day": [2, 5],
...     "code": ["ALT", "ALT"], "low": [90.0, 250.0], "high": [90.0, 250.0]})
>>> graded = grade_labs(labs)
>>> graded[["criteria_version", "study_day", "grade"]].values.tolist()
[['ctcae_v5_0_labs:alanine_aminotransferase_increased', 5, 3]]
>>> graded["reason"].iloc[0]
'ALT 250 U/L = 6.25 x ULN 40 on day 5 -> 3'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pv_monitor.grading._frame import COURSE_GRADE_COLUMNS
from pv_monitor.grading.criteria import Criteria, load_criteria

CTCAE_CRITERIA = "ctcae_v5_0_labs"
FIRST_DAY, LAST_DAY = 0, 100


@dataclass(frozen=True)
class LabTerm:
    """How one stored laboratory code is graded."""

    code: str
    term: str
    finding: str
    worst: str  # "low" or "high": which of the day's values can be worse
    scale: float = 1.0  # from the canonical unit to the table's unit
    relative_to: str | None = None  # reference row dividing the value
    unit: str = ""


TERMS = (
    LabTerm("ANC", "neutrophil_count_decreased", "anc_per_ul", "low", 1000.0, unit="/uL"),
    LabTerm("PLT", "platelet_count_decreased", "platelets", "low", unit="x 10^9/L"),
    LabTerm("HGB", "anemia", "hemoglobin_g_dl", "low", unit="g/dL"),
    LabTerm("ALT", "alanine_aminotransferase_increased", "times_uln", "high", relative_to="alt_uln",
            unit="U/L"),
    LabTerm("AST", "aspartate_aminotransferase_increased", "times_uln", "high",
            relative_to="ast_uln", unit="U/L"),
    LabTerm("BILI", "blood_bilirubin_increased", "times_uln", "high", relative_to="bilirubin_uln",
            unit="mg/dL"),
    LabTerm("CREAT", "creatinine_increased", "times_uln", "high", relative_to="creatinine_uln",
            unit="mg/dL"),
    LabTerm("FIBRINOGEN", "fibrinogen_decreased", "times_lln", "low",
            relative_to="fibrinogen_lln", unit="mg/dL"),
    LabTerm("TRIG", "hypertriglyceridemia", "mg_dl", "high", unit="mg/dL"),
)  # fmt: skip
GRADE_COLUMNS = COURSE_GRADE_COLUMNS


def reference(criteria: Criteria, name: str) -> float:
    """A reference limit of the table (``alt_uln`` and so on)."""
    return float(criteria.interval("reference", name).left)


def grade_labs(labs: pd.DataFrame, criteria: Criteria | None = None) -> pd.DataFrame:
    """Worst CTCAE grade per infusion and laboratory term.

    Parameters
    ----------
    labs : DataFrame
        ``infusion_id, subject_id, study_day, code, low, high``: each day's lowest and highest
        value (canonical units).

    Returns
    -------
    DataFrame
        Columns :data:`GRADE_COLUMNS`; one row per infusion and term with at least one value in
        days 0 to +100 (no value, no row: nothing is graded 0 for want of data).
    """
    criteria = criteria or load_criteria(CTCAE_CRITERIA)
    inside = labs[labs["study_day"].between(FIRST_DAY, LAST_DAY)]
    parts = []
    for term in TERMS:
        rows = inside[inside["code"] == term.code]
        if rows.empty:
            continue
        value = rows[term.worst].to_numpy(dtype=float)
        limit = reference(criteria, term.relative_to) if term.relative_to else 1.0
        measure = value * term.scale / limit
        grade = np.nan_to_num(criteria.interval_grades(term.term, term.finding, measure), nan=0.0)
        graded = rows.assign(grade=grade, value=value, measure=measure)
        ordered = graded.sort_values(
            ["infusion_id", "grade", "study_day"], ascending=[True, False, True]
        )
        best = ordered.drop_duplicates("infusion_id")
        reasons = [
            _reason(term, v, m, limit, d, int(g))
            for v, m, d, g in zip(best["value"], best["measure"], best["study_day"], best["grade"],
                                  strict=True)
        ]  # fmt: skip
        parts.append(
            pd.DataFrame(
                {
                    "infusion_id": best["infusion_id"].to_numpy(),
                    "subject_id": best["subject_id"].to_numpy(),
                    "study_day": best["study_day"].to_numpy(),
                    "criteria_version": f"{criteria.version}:{term.term}",
                    "grade": best["grade"].to_numpy().astype(int),
                    "reason": reasons,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(GRADE_COLUMNS))
    out = pd.concat(parts, ignore_index=True).assign(syndrome="other", provisional=False)
    return out[list(GRADE_COLUMNS)]


def _reason(term: LabTerm, value: float, measure: float, limit: float, day: int, grade: int) -> str:
    shown = f"{term.code} {value:g} {term.unit}"
    if term.relative_to:
        kind = "ULN" if term.relative_to.endswith("uln") else "LLN"
        shown += f" = {measure:.3g} x {kind} {limit:g}"
    return f"{shown} on day {day} -> {grade}"
