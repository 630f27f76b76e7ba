"""Risk scores at fixed time points of a CAR-T course (clinical.md §5).

* **EASIX** = LDH (U/L) x creatinine (mg/dL) / platelets (10^9/L), and **m-EASIX** = LDH x CRP
  (mg/dL, the stored mg/L divided by 10) / platelets: Pennisi M et al., Blood Adv
  2021;5(17):3397-3406 [C].
  Both at lymphodepletion, day 0 and day +3. EASIX before lymphodepletion above **4.67** is high
  risk (Korell F et al., Front Immunol 2022;13:877477 [C]); no other cut-off was published
  (clinical.md §5.1), so the other scores have no category. Pennisi analysed log2 values: both
  are kept (``inputs["log2"]``).
* **CAR-HEMATOTOX** before lymphodepletion: ANC, haemoglobin, platelets, CRP and ferritin points
  from the versioned table ``car_hematotox_v1`` (cut-offs [UNCONFIRMED], clinical.md §5.2); low
  0-1, high >= 2 [C] (Rejeski K et al., Blood 2021;138(24):2499-2513).
* **Early severe-neurotoxicity rule** (Gust J et al., Cancer Discov 2017, via the MDedge
  summary [C]): within 36 h of infusion, fever >= 38.9 °C, IL-6 >= 16 pg/mL and MCP-1
  >= 1343.5 pg/mL together flag a high risk of grade 4-5 neurotoxicity.

Each score records its inputs (value, unit, study day) and, when an input is missing, the value
is empty and the reason names it: "not computable", never 0.

Time points (pv-monitor decision, ``docs/grading.md``): ``pre_lymphodepletion`` takes each lab's
last value in the 14 days up to the start of lymphodepletion (the first fludarabine,
cyclophosphamide or bendamustine exposure; day -5 at 23:59 when none is recorded);
``day_0`` the last value on day -1 or 0; ``day_3`` the value on day 3, else day 2, else day 4.

Examples
--------
>>> easix_value(ldh=250.0, creatinine=0.9, platelets=150.0)
1.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pv_monitor.grading.criteria import Criteria, contains, load_criteria
from pv_monitor.vocabulary import DrugClass

RISK_PACKAGE = "pv_monitor.risk.criteria"
EASIX_VERSION = "easix_v1"
HEMATOTOX_VERSION = "car_hematotox_v1"
EARLY_NEURO_VERSION = "gust_2017"
EARLY_WINDOW_HOURS = 36
EARLY_THRESHOLDS = {"TEMP": 38.9, "IL6": 16.0, "MCP1": 1343.5}
"""Gust J et al. Cancer Discov 2017 (clinical.md §5.3, [C] via the MDedge summary)."""
SCORE_VERSIONS = {
    "easix": EASIX_VERSION,
    "car_hematotox": HEMATOTOX_VERSION,
    "early_neurotoxicity": EARLY_NEURO_VERSION,
}
"""Versions of the score definitions a pipeline run records."""
DEFAULT_LYMPHODEPLETION_DAY = -5
LOOKBACK_DAYS = 14
SCORE_CODES = ("LDH", "CREAT", "PLT", "CRP", "ANC", "HGB", "FERRITIN", "IL6", "MCP1", "TEMP")
"""Measurement codes the scores read."""
UNITS = {"LDH": "U/L", "CREAT": "mg/dL", "PLT": "10^9/L", "CRP": "mg/L", "ANC": "10^9/L",
         "HGB": "g/dL", "FERRITIN": "ng/mL", "IL6": "pg/mL", "MCP1": "pg/mL",
         "TEMP": "C"}  # fmt: skip
SCORE_COLUMNS = (
    "infusion_id",
    "subject_id",
    "score",
    "score_version",
    "timepoint",
    "study_day",
    "value",
    "category",
    "inputs",
    "reason",
)


def easix_value(ldh: float, creatinine: float, platelets: float) -> float:
    """EASIX = LDH (U/L) x creatinine (mg/dL) / platelets (10^9/L) (Pennisi 2021)."""
    return ldh * creatinine / platelets


def m_easix_value(ldh: float, crp_mg_l: float, platelets: float) -> float:
    """m-EASIX = LDH (U/L) x CRP (mg/dL) / platelets (10^9/L); CRP arrives in mg/L."""
    return ldh * (crp_mg_l / 10.0) / platelets


@dataclass(frozen=True)
class _Timepoint:
    name: str
    days: tuple[int, ...]  # preference order; empty for pre-lymphodepletion


TIMEPOINTS = (
    _Timepoint("pre_lymphodepletion", ()),
    _Timepoint("day_0", (0, -1)),
    _Timepoint("day_3", (3, 2, 4)),
)


def _day_numbers(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy(dtype="datetime64[D]").astype(np.int64)


def lab_values(
    infusions: pd.DataFrame, measurements: pd.DataFrame, drugs: pd.DataFrame
) -> pd.DataFrame:
    """The value each score uses, per infusion, time point and code.

    Returns ``infusion_id, timepoint, code, value, study_day``.
    """
    inf = infusions.assign(
        day0=_day_numbers(infusions["infusion_date"]),
        infusion_at=pd.to_datetime(infusions["infusion_date"]),
    )
    labs = measurements[measurements["code"].isin(SCORE_CODES)].merge(
        inf[["subject_id", "infusion_id", "day0", "infusion_at"]], on="subject_id"
    )
    labs = labs.assign(at=pd.to_datetime(labs["at"]))
    labs["study_day"] = _day_numbers(labs["at"]) - labs["day0"]
    ld_start = _lymphodepletion_start(inf, drugs)
    labs = labs.merge(ld_start, on="infusion_id", how="left")
    picked = []
    for point in TIMEPOINTS:
        if point.days:
            rank = labs["study_day"].map({d: i for i, d in enumerate(point.days)})
            rows = labs[rank.notna()].assign(
                rank=rank[rank.notna()], order=lambda f: -f["at"].astype("int64")
            )
        else:
            window = (labs["at"] <= labs["ld_at"]) & (
                labs["at"] > labs["ld_at"] - pd.Timedelta(days=LOOKBACK_DAYS)
            )
            rows = labs[window].assign(rank=0, order=lambda f: -f["at"].astype("int64"))
        rows = rows.sort_values(["infusion_id", "code", "rank", "order"])
        first = rows.drop_duplicates(["infusion_id", "code"])
        picked.append(first.assign(timepoint=point.name))
    columns = ["infusion_id", "timepoint", "code", "value", "study_day", "at"]
    if not picked:
        return pd.DataFrame(columns=columns)
    return pd.concat(picked, ignore_index=True)[columns]


def _lymphodepletion_start(inf: pd.DataFrame, drugs: pd.DataFrame) -> pd.DataFrame:
    """Start of lymphodepletion per infusion: the first lymphodepleting drug in the 14 days
    before day 0, else day -5 at 23:59."""
    ld = drugs[drugs["drug_class"] == DrugClass.LYMPHODEPLETION.value].merge(
        inf[["subject_id", "infusion_id", "infusion_at"]], on="subject_id"
    )
    started = pd.to_datetime(ld["started_at"])
    before = (started < ld["infusion_at"] + pd.Timedelta(days=1)) & (
        started >= ld["infusion_at"] - pd.Timedelta(days=LOOKBACK_DAYS)
    )
    first = ld[before].assign(ld_at=started[before]).groupby("infusion_id")["ld_at"].min()
    default = inf.set_index("infusion_id")["infusion_at"] + pd.Timedelta(
        days=DEFAULT_LYMPHODEPLETION_DAY, hours=23, minutes=59
    )
    return (
        default.rename("ld_at")
        .to_frame()
        .assign(ld_at=lambda f: first.reindex(f.index).fillna(f["ld_at"]))
        .reset_index()
    )


def _inputs(values: Mapping[str, tuple[float, int]], codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        code: {"value": values[code][0], "unit": UNITS[code], "study_day": values[code][1]}
        for code in codes
        if code in values
    }


def _missing(values: Mapping[str, tuple[float, int]], codes: tuple[str, ...]) -> list[str]:
    return [code for code in codes if code not in values]


def compute_scores(
    infusions: pd.DataFrame, measurements: pd.DataFrame, drugs: pd.DataFrame
) -> pd.DataFrame:
    """Every score of every infusion (columns :data:`SCORE_COLUMNS`)."""
    easix_table = load_criteria(EASIX_VERSION, RISK_PACKAGE)
    hematotox = load_criteria(HEMATOTOX_VERSION, RISK_PACKAGE)
    values = lab_values(infusions, measurements, drugs)
    found: dict[tuple[int, str], dict[str, tuple[float, int]]] = {}
    for infusion_id, timepoint, code, value, day in zip(
        values["infusion_id"].tolist(),
        values["timepoint"].tolist(),
        values["code"].tolist(),
        values["value"].tolist(),
        values["study_day"].tolist(),
        strict=True,
    ):
        found.setdefault((int(infusion_id), str(timepoint)), {})[str(code)] = (
            float(value),
            int(day),
        )
    early = _early_values(infusions, measurements)
    rows: list[dict[str, Any]] = []
    for key, subject in zip(
        infusions["infusion_id"].tolist(), infusions["subject_id"].tolist(), strict=True
    ):
        base = {"infusion_id": int(key), "subject_id": subject}
        for point in TIMEPOINTS:
            labs = found.get((key, point.name), {})
            rows.append({**base, **_easix(labs, point.name, easix_table)})
            rows.append({**base, **_m_easix(labs, point.name)})
        rows.append({**base, **_hematotox(found.get((key, "pre_lymphodepletion"), {}), hematotox)})
        rows.append({**base, **_early_neuro(early.get(key, {}))})
    frame = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    frame["study_day"] = pd.to_numeric(frame["study_day"]).astype("Int64")
    return frame


def _result(
    score: str, version: str, timepoint: str, value: float | None, category: str | None,
    inputs: dict[str, Any], reason: str,
) -> dict[str, Any]:  # fmt: skip
    days = [e["study_day"] for e in inputs.values() if isinstance(e, dict) and "study_day" in e]
    return {
        "score": score,
        "score_version": version,
        "timepoint": timepoint,
        "study_day": max(days) if days else None,
        "value": value,
        "category": category,
        "inputs": inputs,
        "reason": reason,
    }


def _easix(
    labs: Mapping[str, tuple[float, int]], timepoint: str, table: Criteria
) -> dict[str, Any]:
    codes = ("LDH", "CREAT", "PLT")
    inputs = _inputs(labs, codes)
    missing = _missing(labs, codes)
    if missing or labs["PLT"][0] <= 0:
        why = f"not computable: {', '.join(missing)} missing" if missing else "platelets 0"
        return _result("easix", EASIX_VERSION, timepoint, None, None, inputs, why)
    value = easix_value(labs["LDH"][0], labs["CREAT"][0], labs["PLT"][0])
    inputs["log2"] = math.log2(value) if value > 0 else None
    category = None
    reason = (
        f"LDH {labs['LDH'][0]:g} x creatinine {labs['CREAT'][0]:g} / platelets "
        f"{labs['PLT'][0]:g} = {value:.2f}"
    )
    if timepoint == "pre_lymphodepletion":
        high = bool(contains(table.interval("easix", "high"), np.array([value]))[0])
        category = "high" if high else "low"
        reason += f" ({'>' if high else '<='} 4.67 before lymphodepletion: {category}, Korell 2022)"
    return _result("easix", EASIX_VERSION, timepoint, value, category, inputs, reason)


def _m_easix(labs: Mapping[str, tuple[float, int]], timepoint: str) -> dict[str, Any]:
    codes = ("LDH", "CRP", "PLT")
    inputs = _inputs(labs, codes)
    missing = _missing(labs, codes)
    if missing or labs["PLT"][0] <= 0:
        why = f"not computable: {', '.join(missing)} missing" if missing else "platelets 0"
        return _result("m_easix", EASIX_VERSION, timepoint, None, None, inputs, why)
    value = m_easix_value(labs["LDH"][0], labs["CRP"][0], labs["PLT"][0])
    inputs["log2"] = math.log2(value) if value > 0 else None
    reason = (
        f"LDH {labs['LDH'][0]:g} x CRP {labs['CRP'][0] / 10:g} mg/dL / platelets "
        f"{labs['PLT'][0]:g} = {value:.2f} (no published cut-off)"
    )
    return _result("m_easix", EASIX_VERSION, timepoint, value, None, inputs, reason)


_HEMATOTOX_INPUTS = {  # code -> (table domain, finding, factor to the table's unit)
    "ANC": ("anc", "per_ul", 1000.0),
    "HGB": ("hemoglobin", "g_dl", 1.0),
    "PLT": ("platelets", "10e9_l", 1.0),
    "CRP": ("crp", "mg_dl", 0.1),
    "FERRITIN": ("ferritin", "ng_ml", 1.0),
}


def _hematotox(labs: Mapping[str, tuple[float, int]], table: Criteria) -> dict[str, Any]:
    codes = tuple(_HEMATOTOX_INPUTS)
    inputs = _inputs(labs, codes)
    missing = _missing(labs, codes)
    point = "pre_lymphodepletion"
    if missing:
        why = f"not computable: {', '.join(missing)} missing"
        return _result("car_hematotox", HEMATOTOX_VERSION, point, None, None, inputs, why)
    points: dict[str, int] = {}
    for code, (domain, finding, factor) in _HEMATOTOX_INPUTS.items():
        grade = table.interval_grades(domain, finding, np.array([labs[code][0] * factor]))[0]
        points[code] = int(grade)
    total = sum(points.values())
    high = bool(contains(table.interval("risk", "high"), np.array([float(total)]))[0])
    inputs["points"] = points
    shown = ", ".join(f"{code} {n}" for code, n in points.items())
    reason = f"{total} points ({shown}): {'high' if high else 'low'} risk; cut-offs [UNCONFIRMED]"
    return _result("car_hematotox", HEMATOTOX_VERSION, point, float(total),
                   "high" if high else "low", inputs, reason)  # fmt: skip


def _early_values(
    infusions: pd.DataFrame, measurements: pd.DataFrame
) -> dict[int, dict[str, tuple[float, int]]]:
    """Highest temperature, IL-6 and MCP-1 in the first 36 h after infusion (from midnight of
    day 0 when the infusion time is not known)."""
    rows = measurements[measurements["code"].isin(list(EARLY_THRESHOLDS))].merge(
        infusions[["subject_id", "infusion_id", "infusion_date"]], on="subject_id"
    )
    start = pd.to_datetime(rows["infusion_date"])
    at = pd.to_datetime(rows["at"])
    inside = (at >= start) & (at <= start + pd.Timedelta(hours=EARLY_WINDOW_HOURS))
    best = rows[inside].assign(day=(at[inside] - start[inside]).dt.days)
    best = best.sort_values("value").drop_duplicates(["infusion_id", "code"], keep="last")
    out: dict[int, dict[str, tuple[float, int]]] = {}
    for infusion_id, code, value, day in zip(
        best["infusion_id"].tolist(),
        best["code"].tolist(),
        best["value"].tolist(),
        best["day"].tolist(),
        strict=True,
    ):
        out.setdefault(int(infusion_id), {})[str(code)] = (float(value), int(day))
    return out


def _early_neuro(values: Mapping[str, tuple[float, int]]) -> dict[str, Any]:
    codes = tuple(EARLY_THRESHOLDS)
    inputs = _inputs(values, codes)
    met = [code for code in codes if code in values and values[code][0] >= EARLY_THRESHOLDS[code]]
    missing = _missing(values, codes)
    point = "first_36_hours"
    if missing and len(met) + len(missing) == len(codes):
        why = f"not computable: {', '.join(missing)} not measured in the first 36 h"
        return _result("early_neurotoxicity", EARLY_NEURO_VERSION, point, None, None, inputs, why)
    high = len(met) == len(codes)
    shown = "; ".join(
        f"{code} {values[code][0]:g} {UNITS[code]} ({'>=' if code in met else '<'} "
        f"{EARLY_THRESHOLDS[code]:g})"
        for code in codes
        if code in values
    )
    reason = f"{len(met)} of 3 criteria met: {shown}"
    if missing:
        reason += f"; {', '.join(missing)} not measured, but another criterion is not met"
    return _result("early_neurotoxicity", EARLY_NEURO_VERSION, point, float(len(met)),
                   "high" if high else "low", inputs, reason)  # fmt: skip
