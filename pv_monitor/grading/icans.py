"""ASTCT 2019 consensus grading of ICANS, with ICE (age >= 12) or CAPD (architecture contract 2).

Source: Lee DW et al. Biol Blood Marrow Transplant 2019;25(4):625-638 (ICANS table read via
PMC8403007 Table 4; children via the MDedge summary and ASCO 2021; clinical.md §2). Every
threshold comes from the criteria table ``astct_2019_icans``
(:mod:`pv_monitor.grading.criteria`).

Rules (clinical.md §2.2-2.3):

* the grade is the most severe of five domains: encephalopathy score (ICE 7-9 grade 1, 3-6
  grade 2, 0-2 grade 3; CAPD 1-8 grade 1, >= 9 grade 3), depressed consciousness (awakens
  spontaneously 1, to voice 2, to tactile stimulus 3, unarousable 4), seizure (rapidly
  resolving or non-convulsive resolving with intervention 3, prolonged or repetitive 4), deep
  focal motor weakness 4, and raised intracranial pressure (focal oedema 3, diffuse oedema or
  posturing, CN VI palsy, papilloedema or Cushing's triad 4);
* ICE is used from the age the criteria table gives (12 by default), CAPD below it. When only
  the other instrument was recorded it is used, and the reason says so (ASCO 2021 allows CAPD
  above 12 with developmental delay);
* ICE 0 in an awake patient is grade 3; ICE 0 because unarousable is grade 4 through the
  consciousness domain;
* sedating drugs make the encephalopathy score and consciousness ungradable: the grade then
  rests on the other domains and is provisional;
* the grade is provisional (a lower bound) when sedation or an unassessed encephalopathy score or
  consciousness level could raise it; seizure, motor and imaging findings are events, recorded
  when they happen, so their absence is not a gap (``docs/grading.md``);
* with nothing gradable recorded the grade is missing, never 0.

Tremor, myoclonus and intracranial haemorrhage do not change the ICANS grade (graded with CTCAE
v5.0); grade 5 (death from ICANS) is not graded from daily rows.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({
...     "age_years": [45, 45, 8, 60],
...     "ice_score": [3, 0, None, None],
...     "capd_score": [None, None, 10, None],
...     "loc": ["awakens_spontaneously", "unarousable", "awakens_to_voice", None],
...     "seizure": ["resolving", "none", "none", None],
...     "motor_weakness": [False, False, False, None],
...     "cerebral_edema": [None, None, None, None],
...     "icp_signs": [False, False, False, None],
...     "sedated": [False, False, False, None],
... })
>>> graded = grade_icans(frame)
>>> graded["icans_grade"].tolist()
[3, 4, 3, <NA>]
>>> graded.loc[0, "icans_reason"]
'seizure: resolving -> 3 (ICE 3 -> 2; consciousness: awakens_spontaneously -> 1)'
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pv_monitor.grading._frame import (
    FloatArray,
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
from pv_monitor.vocabulary import CEREBRAL_EDEMA_FINDINGS, CONSCIOUSNESS_LEVELS, SEIZURE_TYPES

ICANS_CRITERIA = "astct_2019_icans"
INPUT_COLUMNS = (
    "age_years",
    "ice_score",
    "capd_score",
    "loc",
    "seizure",
    "motor_weakness",
    "cerebral_edema",
    "icp_signs",
    "sedated",
)
OUTPUT_COLUMNS = ("icans_grade", "icans_reason", "icans_provisional")
_DOMAIN_NAMES = {
    "loc": "consciousness",
    "seizure": "seizure",
    "motor_weakness": "deep focal motor weakness",
    "cerebral_edema": "cerebral edema",
    "icp_signs": "signs of raised ICP",
}


def _flag_tier(series: pd.Series, grades: dict[str, int]) -> tuple[FloatArray, np.ndarray]:
    value, known = flags(series)
    tier = np.where(known, np.where(value, grades["true"], grades["false"]), np.nan)
    return tier.astype(float), value & known


def grade_icans(frame: pd.DataFrame, criteria: Criteria | None = None) -> pd.DataFrame:
    """Grade ICANS on each row of a daily assessment frame (architecture contract 2).

    Parameters
    ----------
    frame : DataFrame
        One row per subject per assessment with the columns of :data:`INPUT_COLUMNS`.
    criteria : Criteria, optional
        The criteria table; ``astct_2019_icans`` by default.

    Returns
    -------
    DataFrame
        ``frame`` with the same rows in the same order plus ``icans_grade`` (nullable Int64,
        0-4; missing only when nothing gradable was observed), ``icans_reason`` and
        ``icans_provisional`` (True when sedation or an unassessed domain makes the grade a
        lower bound).

    Raises
    ------
    FrameError
        When a column is missing or holds a value outside its vocabulary.
    """
    require(frame, INPUT_COLUMNS, "grade_icans")
    criteria = criteria or load_criteria(ICANS_CRITERIA)
    age = numbers(frame["age_years"])
    ice, capd = numbers(frame["ice_score"]), numbers(frame["capd_score"])
    sedated, _ = flags(frame["sedated"])

    # encephalopathy score: the age's instrument when recorded, else the other one
    ice_age = contains(criteria.interval("instrument", "ice"), age)
    age_unknown = np.isnan(age)
    use_ice = np.where(
        ~np.isnan(ice) & (ice_age | np.isnan(capd) | age_unknown),
        True,
        np.where(~np.isnan(capd), False, ice_age | age_unknown),
    )
    off_age = (
        ~age_unknown
        & np.where(use_ice, ~ice_age, ice_age)
        & ~np.isnan(np.where(use_ice, ice, capd))
    )
    score = np.where(use_ice, ice, capd)
    ice_tier = criteria.interval_grades("ice", "score", ice)
    capd_tier = criteria.interval_grades("capd", "score", capd)
    covered(ice, ice_tier, frame["ice_score"], "an ICE score the criteria table grades")
    covered(capd, capd_tier, frame["capd_score"], "a CAPD score the criteria table grades")
    score_tier = np.where(use_ice, ice_tier, capd_tier)
    score_tier = np.where(sedated, np.nan, score_tier)

    loc = categories(frame["loc"], CONSCIOUSNESS_LEVELS, "loc")
    loc_tier = np.where(sedated, np.nan, lookup_grades(loc, criteria.grades("loc")))
    seizure = categories(frame["seizure"], SEIZURE_TYPES, "seizure")
    seizure_tier = lookup_grades(seizure, criteria.grades("seizure"))
    edema = categories(frame["cerebral_edema"], CEREBRAL_EDEMA_FINDINGS, "cerebral_edema")
    edema_tier = lookup_grades(edema, criteria.grades("cerebral_edema"))
    motor_tier, _ = _flag_tier(frame["motor_weakness"], criteria.grades("motor_weakness"))
    icp_tier, _ = _flag_tier(frame["icp_signs"], criteria.grades("icp_signs"))

    tiers = np.vstack([score_tier, loc_tier, seizure_tier, motor_tier, edema_tier, icp_tier])
    gradable = ~np.isnan(tiers).all(axis=0)
    grade = np.where(gradable, np.nanmax(np.where(np.isnan(tiers), -1, tiers), axis=0), np.nan)
    gap = sedated | np.isnan(score_tier) | np.isnan(loc_tier)
    provisional = gradable & (grade < 4) & gap

    reason = per_distinct(
        _icans_reason_builder(),
        grade,
        use_ice,
        score,
        score_tier,
        off_age,
        loc,
        loc_tier,
        seizure,
        seizure_tier,
        motor_tier,
        edema,
        edema_tier,
        icp_tier,
        sedated,
        provisional,
    )
    out = frame.copy()
    out["icans_grade"] = nullable_grades(grade)
    out["icans_reason"] = reason
    out["icans_provisional"] = provisional
    return out


def _icans_reason_builder() -> Callable[..., str]:
    """The reason text of one distinct combination of inputs."""

    def build(
        grade: float | None,
        use_ice: bool,
        score: float | None,
        score_tier: float | None,
        off_age: bool,
        loc: str | None,
        loc_tier: float | None,
        seizure: str | None,
        seizure_tier: float | None,
        motor_tier: float | None,
        edema: str | None,
        edema_tier: float | None,
        icp_tier: float | None,
        sedated: bool,
        provisional: bool,
    ) -> str:
        instrument = "ICE" if use_ice else "CAPD"
        parts: list[tuple[float | None, str]] = []
        if score is not None and not sedated:
            note = " (the other instrument was not recorded)" if off_age else ""
            parts.append((score_tier, f"{instrument} {number_text(score)}{note}"))
        if loc is not None and not sedated:
            parts.append((loc_tier, f"consciousness: {loc}"))
        if seizure is not None:
            parts.append((seizure_tier, f"seizure: {seizure}"))
        if motor_tier is not None and motor_tier > 0:
            parts.append((motor_tier, _DOMAIN_NAMES["motor_weakness"]))
        if edema is not None:
            parts.append((edema_tier, f"cerebral edema: {edema}"))
        if icp_tier is not None and icp_tier > 0:
            parts.append((icp_tier, _DOMAIN_NAMES["icp_signs"]))
        gaps = []
        if sedated:
            gaps.append(f"sedated ({instrument} and consciousness not gradable)")
        else:
            if score is None:
                gaps.append(f"{instrument} not done")
            if loc is None:
                gaps.append("consciousness not assessed")
        if grade is None:
            return "not gradable: " + ", ".join(gaps or ["no neurological assessment"])
        deciding = [f"{text} -> {int(grade)}" for tier, text in parts if tier == grade]
        others = [
            f"{text} -> {int(tier)}"
            for tier, text in parts
            if tier is not None and 0 < tier < grade
        ]
        text = "; ".join(deciding)
        if others:
            text += f" ({'; '.join(others)})"
        if provisional:
            text += f"; provisional: {', '.join(gaps)}"
        return text

    return build
