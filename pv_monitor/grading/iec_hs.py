"""IEC-HS screen: laboratory signs of the HLH-like syndrome after CAR-T (a screen, not a diagnosis).

Source: Hines MR et al., Transplant Cell Ther 2023;29(7):438.e1 (ASTCT); only the definition
was read, the proposed criteria are [UNCONFIRMED] (clinical.md §4.1) and sit in the table
``iec_hs_screen_v1``. A day screens positive when

* ferritin is above 2 x its baseline (the last value on days -7 to 0) or above 2 x ULN, and
* at least one of: ALT or AST above 5 x ULN, fibrinogen below 150 mg/dL, LDH above ULN, or a
  new cytopenia (platelets < 100 x 10^9/L, ANC < 1.0 x 10^9/L or haemoglobin < 9 g/dL, HLH-2004
  thresholds [C], not present at baseline), and
* it falls after the last day of a CRS episode's peak grade, when CRS is resolving or resolved
  (the proposal's "onset with resolving CRS or after CRS"; pv-monitor's reading, docs/grading.md).

Per infusion the screen reports the first positive day with the values that made it positive,
``negative`` when ferritin was measured after day 0 and no day screened positive, and nothing
computable without a ferritin after day 0. Haemophagocytosis, splenomegaly and clinical judgement
are not in the data: a positive screen asks a clinician to look, it diagnoses nothing.

Examples
--------
>>> import pandas as pd
>>> labs = pd.DataFrame({"infusion_id": 1, "subject_id": 1,
...     "study_day": [0, 0, 12, 12], "code": ["FERRITIN", "PLT", "FERRITIN", "FIBRINOGEN"],
...     "low": [500.0, 180.0, 4000.0, 120.0], "high": [500.0, 180.0, 4000.0, 120.0]})
>>> crs = pd.DataFrame({"infusion_id": [1], "resolving_from": [5]})
>>> extent = pd.DataFrame({"infusion_id": [1], "subject_id": [1], "last_day": [60]})
>>> screen = screen_iec_hs(labs, crs, extent).iloc[0]
>>> screen["category"], int(screen["study_day"])
('positive', 12)
>>> screen["reason"].split(": ", 1)[1]
'ferritin 4000 ng/mL (> 2 x baseline 500) with fibrinogen 120 mg/dL on day 12, after the...'

"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pv_monitor.grading.criteria import Criteria, contains, load_criteria
from pv_monitor.grading.ctcae import CTCAE_CRITERIA, reference

SCREEN = "iec_hs_screen"
SCREEN_VERSION = "iec_hs_screen_v1"
TIMEPOINT = "days_1_100"
_WIDE = {"FERRITIN": "high", "ALT": "high", "AST": "high", "LDH": "high",
         "FIBRINOGEN": "low", "PLT": "low", "ANC": "low", "HGB": "low"}  # fmt: skip
_CYTOPENIA = {"PLT": ("platelets", "platelets", "x 10^9/L"), "ANC": ("anc", "ANC", "x 10^9/L"),
              "HGB": ("hemoglobin", "haemoglobin", "g/dL")}  # fmt: skip


def _wide(labs: pd.DataFrame) -> pd.DataFrame:
    parts = [
        labs.loc[labs["code"] == code, ["infusion_id", "study_day", side]]
        .rename(columns={side: code})
        .set_index(["infusion_id", "study_day"])
        for code, side in _WIDE.items()
    ]
    return pd.concat(parts, axis=1).reset_index()


def screen_iec_hs(
    labs: pd.DataFrame,
    crs_episodes: pd.DataFrame,
    extent: pd.DataFrame,
    criteria: Criteria | None = None,
    references: Criteria | None = None,
) -> pd.DataFrame:
    """The screen of each infusion, as ``risk_score`` rows (see ``pv_monitor.risk.scores``).

    Parameters
    ----------
    labs : DataFrame
        ``infusion_id, study_day, code, low, high`` (each day's extremes, canonical units).
    crs_episodes : DataFrame
        ``infusion_id, resolving_from`` of the CRS episodes: the day after the last day at the
        episode's peak grade.
    extent : DataFrame
        ``infusion_id, subject_id, last_day``.
    """
    criteria = criteria or load_criteria(SCREEN_VERSION)
    references = references or load_criteria(CTCAE_CRITERIA)
    wide = _wide(labs)
    baseline = (
        wide[wide["study_day"].between(-7, 0)]
        .sort_values("study_day")
        .groupby("infusion_id")[list(_WIDE)]
        .last()
        .add_suffix("_baseline")
    )
    days = wide[wide["study_day"].between(1, 100) & wide["FERRITIN"].notna()]
    days = days.join(baseline, on="infusion_id")
    ferritin = days["FERRITIN"].to_numpy(dtype=float)
    ferritin_base = days["FERRITIN_baseline"].to_numpy(dtype=float)
    uln = {name: reference(references, f"{name}_uln") for name in ("ferritin", "alt", "ast", "ldh")}
    above_base = contains(criteria.interval("ferritin", "times_baseline"), ferritin / ferritin_base)
    above_uln = contains(criteria.interval("ferritin", "times_uln"), ferritin / uln["ferritin"])
    findings: dict[str, np.ndarray] = {}
    transaminase = criteria.interval("supporting", "transaminase_times_uln")
    findings["ALT"] = contains(transaminase, days["ALT"].to_numpy(dtype=float) / uln["alt"])
    findings["AST"] = contains(transaminase, days["AST"].to_numpy(dtype=float) / uln["ast"])
    findings["FIBRINOGEN"] = contains(
        criteria.interval("supporting", "fibrinogen_mg_dl"), days["FIBRINOGEN"].to_numpy(float)
    )
    findings["LDH"] = contains(
        criteria.interval("supporting", "ldh_times_uln"), days["LDH"].to_numpy(float) / uln["ldh"]
    )
    for code, (finding, _, _) in _CYTOPENIA.items():
        interval = criteria.interval("cytopenia", finding)
        now = contains(interval, days[code].to_numpy(dtype=float))
        before = days[f"{code}_baseline"].to_numpy(dtype=float)
        findings[code] = now & ~np.isnan(before) & ~contains(interval, before)
    supporting = np.vstack(list(findings.values())).sum(axis=0)
    resolving = crs_episodes.groupby("infusion_id")["resolving_from"].min()
    peak = days["infusion_id"].map(resolving).to_numpy(dtype=float) - 1
    after_crs = days["study_day"].to_numpy() > peak
    positive = (above_base | above_uln) & (supporting >= 1) & after_crs
    days = days.assign(positive=positive, supporting=supporting, above_base=above_base,
                       after_crs=after_crs, peak=peak,
                       **{f"finding_{k}": v for k, v in findings.items()})  # fmt: skip
    rows = []
    measured = set(days["infusion_id"])
    first_positive = days[days["positive"]].sort_values("study_day").drop_duplicates("infusion_id")
    by_infusion = {int(r["infusion_id"]): r for r in first_positive.to_dict("records")}
    for infusion_id, subject_id in zip(extent["infusion_id"], extent["subject_id"], strict=True):
        base = {"infusion_id": infusion_id, "subject_id": subject_id, "score": SCREEN,
                "score_version": SCREEN_VERSION, "timepoint": TIMEPOINT}  # fmt: skip
        if int(infusion_id) in by_infusion:
            rows.append({**base, **_positive(by_infusion[int(infusion_id)], uln)})
        elif infusion_id in measured:
            rows.append({**base, **_empty("negative", "no day after day 0 met the screen")})
        else:
            rows.append({**base, **_empty(None, "not computable: no ferritin after day 0")})
    columns = ["infusion_id", "subject_id", "score", "score_version", "timepoint", "study_day",
               "value", "category", "inputs", "reason"]  # fmt: skip
    screens = pd.DataFrame(rows, columns=columns)
    screens["study_day"] = screens["study_day"].astype("Int64")  # as the scores': concat-safe
    return screens


def _empty(category: str | None, reason: str) -> dict[str, object]:
    value = 0.0 if category == "negative" else None
    return {"study_day": None, "value": value, "category": category, "inputs": None,
            "reason": reason}  # fmt: skip


def _positive(day: dict[Any, Any], uln: dict[str, float]) -> dict[str, object]:
    ferritin = float(day["FERRITIN"])
    if bool(day["above_base"]):
        why = f"ferritin {ferritin:g} ng/mL (> 2 x baseline {float(day['FERRITIN_baseline']):g})"
    else:
        why = f"ferritin {ferritin:g} ng/mL (> 2 x ULN {uln['ferritin']:g})"
    shown = {
        "ALT": f"ALT {day['ALT']:g} U/L",
        "AST": f"AST {day['AST']:g} U/L",
        "FIBRINOGEN": f"fibrinogen {day['FIBRINOGEN']:g} mg/dL",
        "LDH": f"LDH {day['LDH']:g} U/L",
        **{
            code: f"new {name} {day[code]:g} {unit}" for code, (_, name, unit) in _CYTOPENIA.items()
        },
    }
    supporting = [text for code, text in shown.items() if bool(day[f"finding_{code}"])]
    inputs = {
        code: {"value": float(day[code]), "study_day": int(day["study_day"])}
        for code in _WIDE
        if not pd.isna(day[code])
    }
    reason = (
        f"screen, not a diagnosis: {why} with {', '.join(supporting)} on day "
        f"{int(day['study_day'])}, after the CRS peak ending on day {int(day['peak'])}"
    )
    return {
        "study_day": int(day["study_day"]),
        "value": float(day["supporting"]),
        "category": "positive",
        "inputs": inputs,
        "reason": reason,
    }
