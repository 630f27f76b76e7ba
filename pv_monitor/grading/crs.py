"""ASTCT 2019 consensus grading of cytokine release syndrome (architecture contract 2).

Source: Lee DW, Santomasso BD, Locke FL, et al. ASTCT Consensus Grading for Cytokine Release
Syndrome and Neurologic Toxicity Associated with Immune Effector Cells. Biol Blood Marrow
Transplant 2019;25(4):625-638 (table read via PMC8021214 Table 1; clinical.md §1). Every
threshold comes from the criteria table ``astct_2019_crs`` (:mod:`pv_monitor.grading.criteria`).

Rules (clinical.md §1.1-1.2):

* fever >= 38.0 °C is needed to diagnose CRS; once an antipyretic, tocilizumab or a
  corticosteroid was given in the episode (``crs_treated``), fever is no longer needed and the
  grade is set by hypotension and hypoxia alone;
* the grade is the worse of the hypotension tier (fluids only 2, one vasopressor 3, two or more
  4; vasopressin never counts toward "multiple"; vasopressin alone 3 [UNCONFIRMED]) and the
  hypoxia tier (blow-by or nasal cannula <= 6 L/min 2; nasal cannula > 6 L/min, high-flow nasal
  cannula, facemask, non-rebreather or Venturi 3 at any flow; CPAP, BiPAP or mechanical
  ventilation 4); fever alone is grade 1;
* hypotension or hypoxia without fever in an untreated patient is not CRS (grade 0);
* a treated, afebrile day with neither hypotension nor hypoxia is grade 0: fever was the only
  grade-1 criterion and treatment masks it (``docs/grading.md``);
* missing data is never grade 0: with no temperature and no treatment the row is not gradable
  (grade missing); an unmeasured domain that could raise the grade makes it provisional.

Findings attributed to another cause are removed before the frame is built (the daily
assessment builder drops them). Grade 5 (death from CRS) is not graded from daily rows.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({
...     "temp_c_max": [39.1, 38.6, 37.2, 37.0, None],
...     "crs_treated": [False, False, False, True, False],
...     "hypotension": [False, True, True, True, None],
...     "vasopressors": ["", "norepinephrine;vasopressin", "norepinephrine", "", ""],
...     "o2_device": ["nasal_cannula", "none", "none", "high_flow_nasal_cannula", None],
...     "o2_flow_l_min": [4.0, None, None, 40.0, None],
... })
>>> graded = grade_crs(frame)
>>> graded["crs_grade"].tolist()
[2, 3, 0, 3, <NA>]
>>> print(graded.loc[3, "crs_reason"])
hypoxia: high_flow_nasal_cannula 40 L/min -> 3 (afebrile 37.0 C; fever not needed after CRS
treatment)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pv_monitor.grading._frame import (
    FloatArray,
    ObjectArray,
    categories,
    covered,
    flags,
    lookup_grades,
    nullable_grades,
    number_text,
    numbers,
    per_distinct,
    require,
)
from pv_monitor.grading.criteria import Criteria, contains, load_criteria
from pv_monitor.vocabulary import O2_DEVICES, VASOPRESSIN

CRS_CRITERIA = "astct_2019_crs"
INPUT_COLUMNS = (
    "temp_c_max",
    "crs_treated",
    "hypotension",
    "vasopressors",
    "o2_device",
    "o2_flow_l_min",
)
OUTPUT_COLUMNS = ("crs_grade", "crs_reason", "crs_provisional")


def vasopressor_agents(text: object) -> tuple[str, ...]:
    """Distinct agents of a ``;``-separated vasopressor list, sorted; empty for none.

    >>> vasopressor_agents("Vasopressin; norepinephrine;")
    ('norepinephrine', 'vasopressin')
    """
    if not isinstance(text, str):
        return ()
    return tuple(sorted({agent.strip().lower() for agent in text.split(";") if agent.strip()}))


def _hypotension_tier(
    hypotension: pd.Series, vasopressors: pd.Series, criteria: Criteria, describe: bool = True
) -> tuple[FloatArray, ObjectArray | None]:
    """Tier (NaN when not assessed) and its description, per row."""
    grades = criteria.grades("hypotension")
    present, known = flags(hypotension)
    pressor_text = vasopressors.astype(object).where(vasopressors.notna(), "").to_numpy()
    codes, distinct = pd.factorize(pressor_text)
    agents = [vasopressor_agents(text) for text in distinct]
    counted = np.array([sum(a != VASOPRESSIN for a in group) for group in agents], dtype=float)
    vasopressin_only = np.array([group == (VASOPRESSIN,) for group in agents], dtype=bool)
    by_count = criteria.interval_grades(
        "hypotension", "vasopressors_other_than_vasopressin", counted
    )
    pressor_tier = np.where(
        vasopressin_only, grades["vasopressin_only"], np.where(counted > 0, by_count, np.nan)
    )
    pressor_tier = pressor_tier[codes] if len(distinct) else np.full(len(codes), np.nan)
    tier = np.where(
        ~np.isnan(pressor_tier),
        pressor_tier,
        np.where(present, grades["present_without_vasopressor"], np.where(known, 0.0, np.nan)),
    )

    if not describe:
        return tier, None

    def text_of(code: int, is_present: bool, is_known: bool, grade: float | None) -> str:
        group = agents[code] if len(distinct) else ()
        if group:
            n = sum(a != VASOPRESSIN for a in group)
            if n == 0:
                what = "vasopressin alone (counted as one vasopressor [UNCONFIRMED])"
            else:
                what = f"{n} vasopressor{'s' if n > 1 else ''} ({';'.join(group)}"
                what += ", vasopressin not counted)" if VASOPRESSIN in group else ")"
            return f"hypotension: {what} -> {int(grade or 0)}"
        if is_present:
            return f"hypotension without vasopressors -> {int(grade or 0)}"
        return "no hypotension" if is_known else "blood pressure not assessed"

    return tier, per_distinct(text_of, codes, present, known, tier)


def hypoxia_tier(
    device: pd.Series, flow: pd.Series, criteria: Criteria, describe: bool = True
) -> tuple[FloatArray, np.ndarray, ObjectArray | None]:
    """Tier (NaN when not assessed), whether it is a lower bound, and its description."""
    grades = criteria.grades("hypoxia")
    by_flow = set(criteria.rules.loc[criteria.rules["interval"].notna(), "finding"]) & set(
        criteria.rules.loc[criteria.rules["domain"] == "hypoxia", "finding"]
    )
    devices = categories(device, O2_DEVICES, "o2_device")
    litres = numbers(flow)
    tier = lookup_grades(devices, {d: grades.get(d, np.nan) for d in O2_DEVICES})
    lower_bound = np.zeros(len(devices), dtype=bool)
    for finding in by_flow:
        rows = devices == finding
        flow_grade = criteria.interval_grades("hypoxia", finding, np.where(rows, litres, np.nan))
        covered(np.where(rows, litres, np.nan), flow_grade, flow, f"a {finding} flow")
        missing = rows & np.isnan(flow_grade)
        lowest = criteria.lowest_interval_grade("hypoxia", finding)
        tier = np.where(rows, np.where(missing, lowest, flow_grade), tier)
        lower_bound |= missing

    if not describe:
        return tier, lower_bound, None

    def text_of(name: str | None, litres_min: float | None, grade: float | None, low: bool) -> str:
        if name is None:
            return "oxygen support not recorded"
        if name == "none":
            return "no oxygen support"
        flow_text = f" {number_text(litres_min)} L/min" if litres_min is not None else ""
        if low:
            return f"hypoxia: {name}, flow not recorded -> at least {int(grade or 0)}"
        return f"hypoxia: {name}{flow_text} -> {int(grade or 0)}"

    return tier, lower_bound, per_distinct(text_of, devices, litres, tier, lower_bound)


def grade_crs(
    frame: pd.DataFrame, criteria: Criteria | None = None, *, reasons: bool = True
) -> pd.DataFrame:
    """Grade CRS on each row of a daily assessment frame (architecture contract 2).

    Parameters
    ----------
    frame : DataFrame
        One row per subject per assessment with the columns of :data:`INPUT_COLUMNS`.
    criteria : Criteria, optional
        The criteria table; ``astct_2019_crs`` by default.
    reasons : bool, default True
        Write ``crs_reason``; False leaves it empty (for hypothetical gradings that are not
        shown, such as the fever-masking walk).

    Returns
    -------
    DataFrame
        ``frame`` with the same rows in the same order plus ``crs_grade`` (nullable Int64, 0-4;
        missing only when nothing gradable was observed), ``crs_reason`` (which domain set the
        grade) and ``crs_provisional`` (True when an unassessed domain could raise the grade).

    Raises
    ------
    FrameError
        When a column is missing or holds a value outside its vocabulary.
    """
    require(frame, INPUT_COLUMNS, "grade_crs")
    criteria = criteria or load_criteria(CRS_CRITERIA)
    temp = numbers(frame["temp_c_max"])
    treated_value, _ = flags(frame["crs_treated"])
    treated = treated_value  # not recorded = no treatment given
    hypo, hypo_text = _hypotension_tier(
        frame["hypotension"], frame["vasopressors"], criteria, reasons
    )
    oxy, oxy_low, oxy_text = hypoxia_tier(
        frame["o2_device"], frame["o2_flow_l_min"], criteria, reasons
    )

    fever_interval = criteria.interval("fever", "temperature_c")
    fever_c = float(fever_interval.left)
    fever_grade = float(criteria.rules.loc[criteria.rules["domain"] == "fever", "grade"].iloc[0])
    temp_known = ~np.isnan(temp)
    fever = contains(fever_interval, temp)
    both_unknown = np.isnan(hypo) & np.isnan(oxy)
    tier = np.fmax(hypo, oxy)  # NaN only when both are unknown
    tier_or_zero = np.nan_to_num(tier, nan=0.0)
    grade = np.where(
        fever,
        np.maximum(fever_grade, tier_or_zero),
        np.where(treated, np.where(both_unknown, np.nan, tier_or_zero), 0.0),
    )
    grade = np.where(~temp_known & ~treated, np.nan, grade)
    some_unknown = np.isnan(hypo) | np.isnan(oxy) | oxy_low
    provisional = ~np.isnan(grade) & (grade < 4) & (some_unknown | (~temp_known & (grade < 1)))
    provisional &= fever | treated

    out = frame.copy()
    out["crs_grade"] = nullable_grades(grade)
    out["crs_provisional"] = provisional
    if hypo_text is None or oxy_text is None:
        out["crs_reason"] = None
        return out
    out["crs_reason"] = per_distinct(
        _crs_reason_builder(fever_c),
        grade,
        np.round(temp, 1),
        fever,
        treated,
        hypo,
        hypo_text,
        oxy,
        oxy_text,
        provisional,
    )
    return out[[*frame.columns, *OUTPUT_COLUMNS]]


def _crs_reason_builder(fever_c: float) -> Callable[..., str]:
    """The reason text of one distinct combination of inputs."""

    def build(
        grade: float | None,
        temp: float | None,
        fever: bool,
        treated: bool,
        hypo: float | None,
        hypo_text: str,
        oxy: float | None,
        oxy_text: str,
        provisional: bool,
    ) -> str:
        temp_text = f"{temp:.1f} C" if temp is not None else "temperature not recorded"
        if grade is None:
            if temp is None:
                return (
                    "not gradable: temperature not recorded and no CRS treatment in this episode"
                    " (fever is needed to diagnose CRS)"
                )
            return f"not gradable: {hypo_text} and {oxy_text} after CRS treatment"
        deciding = [
            text
            for tier, text in ((hypo, hypo_text), (oxy, oxy_text))
            if tier is not None and tier == grade and tier >= 2
        ]
        missing = [text for tier, text in ((hypo, hypo_text), (oxy, oxy_text)) if tier is None]
        tail = f"; {', '.join(missing)}" if provisional and missing else ""
        if fever and not deciding:
            return f"fever {temp_text} without hypotension or hypoxia -> {int(grade)}{tail}"
        if fever:
            return f"{'; '.join(deciding)} (fever {temp_text}){tail}"
        if treated and deciding:
            context = f"afebrile {temp_text}" if temp is not None else temp_text
            return f"{'; '.join(deciding)} ({context}; fever not needed after CRS treatment){tail}"
        if treated:
            return (
                f"CRS treated in this episode, afebrile ({temp_text}), no hypotension or hypoxia"
                f" -> 0{tail}"
            )
        return f"no fever >= {fever_c:.1f} C ({temp_text}) and no CRS treatment -> 0"

    return build
