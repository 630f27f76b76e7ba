"""Antigen-escape relapse: markers and early signals (clinical.md §6), pure.

Signals, each with the samples that triggered it (thresholds in ``relapse_signals_v1``):

* **loss of B-cell aplasia** within 6 months of a CD19 product: CD19+ B cells > 100 cells/uL or
  > 1 % of lymphocytes, confirmed on the next sample (clinical.md §6.3) -> CD19-positive relapse
  risk;
* **MRD positive** at day 28 or month 3 (any detectable bone-marrow MRD, Pulsipher 2022) ->
  high relapse risk;
* **probable antigen-negative escape**: detectable MRD or a relapse while B-cell aplasia
  persists after a CD19 product (88 % of relapses with persisting aplasia were CD19-negative,
  Pulsipher 2022) -> request CD19 by more than one clone, consider lineage markers;
* **loss of the CAR transgene**: not detected on 2 consecutive samples after being detected;
* **IMWG progression** (BCMA products): serum M-protein up >= 25 % and >= 0.5 g/dL from the
  lowest value, on two consecutive assessments (clinical.md §6.6) -> check BCMA expression /
  TNFRSF17 deletion before BCMA-directed retreatment.

Relapse phenotypes (positive, dim, negative, lineage switch) are summarised per product by
:func:`phenotype_summary`.

Examples
--------
>>> import pandas as pd
>>> infusions = pd.DataFrame({"subject_id": [1], "infusion_id": [1], "target_antigen": ["CD19"],
...     "infusion_date": pd.to_datetime(["2024-01-01"])})
>>> markers = pd.DataFrame({"subject_id": 1, "code": "BCELL", "unit": "cells/uL",
...     "at": pd.to_datetime(["2024-02-01", "2024-03-01", "2024-04-01"]),
...     "value": [0.5, 140.0, 180.0]})
>>> signals = relapse_signals(infusions, markers, assessments=None)
>>> signals[["signal", "study_day"]].values.tolist()
[['bca_loss', 91]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pv_monitor.grading.criteria import Criteria, contains, load_criteria

SIGNALS_VERSION = "relapse_signals_v1"
SIGNAL_COLUMNS = ("subject_id", "infusion_id", "signal", "study_day", "samples", "message")
MARKER_CODES = ("BCELL", "CAR_TRANSGENE", "M_PROTEIN")
MESSAGES = {
    "bca_loss": "Loss of B-cell aplasia within 6 months of a CD19 CAR-T: CD19-positive relapse "
    "risk (consider re-infusion, transplant or maintenance)",
    "mrd_positive": "Detectable MRD at {window}: high relapse risk",
    "probable_escape": "MRD or relapse with persisting B-cell aplasia: probable CD19-negative "
    "escape; request CD19 by more than one antibody clone and lineage markers",
    "car_loss": "CAR transgene no longer detected on 2 consecutive samples",
    "imwg_progression": "IMWG progression after a BCMA CAR-T: check BCMA expression and TNFRSF17 "
    "deletion before BCMA-directed retreatment",
}


def _days(at: pd.Series, day0: pd.Series) -> np.ndarray:
    return (pd.to_datetime(at) - pd.to_datetime(day0)).dt.days.to_numpy()


def _with_days(frame: pd.DataFrame, infusions: pd.DataFrame, when: str) -> pd.DataFrame:
    """Rows of the subjects' first infusion, with their study day."""
    first = infusions.sort_values("infusion_date").drop_duplicates("subject_id")
    rows = frame.merge(
        first[["subject_id", "infusion_id", "infusion_date", "target_antigen"]], on="subject_id"
    )
    return rows.assign(study_day=_days(rows[when], rows["infusion_date"])).sort_values(
        ["subject_id", "study_day"]
    )


def _b_cells_up(bcells: pd.DataFrame, table: Criteria) -> np.ndarray:
    value = bcells["value"].to_numpy(dtype=float)
    percent = (bcells["unit"] == "%").to_numpy()
    return np.where(
        percent,
        contains(table.interval("bca_loss", "percent_of_lymphocytes"), value),
        contains(table.interval("bca_loss", "cells_per_ul"), value),
    )


def _samples(rows: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {"code": c, "study_day": int(d), "value": float(v), "unit": u}
        for c, d, v, u in zip(
            rows["code"], rows["study_day"], rows["value"], rows["unit"], strict=True
        )
    ]


def relapse_signals(
    infusions: pd.DataFrame,
    markers: pd.DataFrame,
    assessments: pd.DataFrame | None,
    table: Criteria | None = None,
) -> pd.DataFrame:
    """Every early relapse signal (columns :data:`SIGNAL_COLUMNS`), one per subject and signal
    (the first time it is met).

    Parameters
    ----------
    infusions : DataFrame
        ``subject_id, infusion_id, infusion_date, target_antigen``.
    markers : DataFrame
        ``subject_id, code, at, value, unit`` for the :data:`MARKER_CODES`.
    assessments : DataFrame, optional
        ``subject_id, assessed_on, response, is_relapse, mrd_fraction, antigen_status``.
    """
    table = table or load_criteria(SIGNALS_VERSION, "pv_monitor.relapse.criteria")
    found: list[dict[str, object]] = []
    rows = _with_days(markers, infusions, "at")
    bcells = rows[(rows["code"] == "BCELL") & (rows["study_day"] > 0)]
    bcells = bcells.assign(up=_b_cells_up(bcells, table))
    window = table.interval("bca_loss", "window_days")
    for _, group in bcells[bcells["target_antigen"] == "CD19"].groupby("subject_id"):
        up = group["up"].to_numpy()
        confirmed = np.flatnonzero(up[1:] & up[:-1]) + 1
        inside = [
            i for i in confirmed if contains(window, np.array([group["study_day"].iloc[i - 1]]))[0]
        ]
        if inside:
            i = inside[0]
            found.append(
                _signal(
                    group,
                    "bca_loss",
                    int(group["study_day"].iloc[i]),
                    _samples(group.iloc[i - 1 : i + 1]),
                )
            )
    cars = rows[(rows["code"] == "CAR_TRANSGENE") & (rows["study_day"] > 0)]
    detected_interval = table.interval("car", "detected_copies_per_ug")
    for _, group in cars.groupby("subject_id"):
        detected = contains(detected_interval, group["value"].to_numpy(dtype=float))
        ever = np.maximum.accumulate(detected)
        lost = np.flatnonzero(~detected[1:] & ~detected[:-1] & ever[:-1]) + 1
        if lost.size:
            j = int(lost[0])
            found.append(
                _signal(
                    group,
                    "car_loss",
                    int(group["study_day"].iloc[j]),
                    _samples(group.iloc[max(j - 2, 0) : j + 1]),
                )
            )
    found += _imwg(rows[(rows["code"] == "M_PROTEIN") & (rows["target_antigen"] == "BCMA")], table)
    if assessments is not None and not assessments.empty:
        found += _assessment_signals(
            _with_days(assessments, infusions, "assessed_on"), bcells, table
        )
    return pd.DataFrame(found, columns=list(SIGNAL_COLUMNS))


def _signal(
    group: pd.DataFrame, signal: str, day: int, samples: list[dict[str, object]], **fmt: str
) -> dict[str, object]:
    return {
        "subject_id": group["subject_id"].iloc[0],
        "infusion_id": group["infusion_id"].iloc[0],
        "signal": signal,
        "study_day": day,
        "samples": samples,
        "message": MESSAGES[signal].format(**fmt),
    }


def _imwg(mprotein: pd.DataFrame, table: Criteria) -> list[dict[str, object]]:
    found = []
    fraction = table.interval("imwg", "m_protein_rise_fraction")
    absolute = table.interval("imwg", "m_protein_rise_g_dl")
    for _, group in mprotein[mprotein["study_day"] > 0].groupby("subject_id"):
        values = group["value"].to_numpy(dtype=float)
        nadir = np.minimum.accumulate(values)
        previous_nadir = np.r_[np.nan, nadir[:-1]]  # the first value has no nadir before it
        rise = values - previous_nadir
        relative = np.divide(
            rise, previous_nadir, out=np.full(rise.size, np.inf), where=previous_nadir > 0
        )  # a rise from an unmeasurable 0 is infinitely large
        relative[np.isnan(previous_nadir)] = np.nan
        meets = contains(absolute, rise) & contains(fraction, relative)
        twice = np.flatnonzero(meets[1:] & meets[:-1]) + 1
        if twice.size:
            i = int(twice[0])
            found.append(
                _signal(
                    group,
                    "imwg_progression",
                    int(group["study_day"].iloc[i]),
                    _samples(group.iloc[max(i - 2, 0) : i + 1]),
                )
            )
    return found


def _assessment_signals(
    assessed: pd.DataFrame, bcells: pd.DataFrame, table: Criteria
) -> list[dict[str, object]]:
    found = []
    mrd = assessed[assessed["mrd_fraction"].notna()]
    positive = mrd[mrd["mrd_fraction"] > 0]
    for label, name in (("day_28", "day 28"), ("month_3", "month 3")):
        window = table.interval("mrd", label)
        hits = positive[contains(window, positive["study_day"].to_numpy(dtype=float))]
        for _, group in hits.groupby("subject_id"):
            first = group.iloc[0]
            sample = [
                {
                    "code": "MRD",
                    "study_day": int(first["study_day"]),
                    "value": float(first["mrd_fraction"]),
                    "unit": "fraction",
                }
            ]
            found.append(
                _signal(group, "mrd_positive", int(first["study_day"]), sample, window=name)
            )
    # MRD or relapse while B-cell aplasia persists (CD19 products)
    events = assessed[
        (assessed["target_antigen"] == "CD19")
        & (assessed["study_day"] > 0)
        & ((assessed["mrd_fraction"] > 0) | assessed["is_relapse"].astype(bool))
    ]
    for subject, group in events.groupby("subject_id"):
        samples = bcells[bcells["subject_id"] == subject]
        for event in group.to_dict("records"):
            before = samples[samples["study_day"] <= event["study_day"]]
            if before.empty or bool(before["up"].iloc[-1]):
                continue  # aplasia not documented, or B cells back
            last = before.iloc[-1]
            what = "relapse" if event["is_relapse"] else "MRD"
            evidence = [
                {
                    "code": what,
                    "study_day": int(event["study_day"]),
                    "value": None
                    if pd.isna(event["mrd_fraction"])
                    else float(event["mrd_fraction"]),
                    "unit": "fraction",
                },
                {
                    "code": "BCELL",
                    "study_day": int(last["study_day"]),
                    "value": float(last["value"]),
                    "unit": str(last["unit"]),
                },
            ]
            found.append(_signal(group, "probable_escape", int(event["study_day"]), evidence))
            break
    return found


def phenotype_summary(assessments: pd.DataFrame, infusions: pd.DataFrame) -> pd.DataFrame:
    """Relapses by product and antigen phenotype (positive, dim, negative, lineage switch)."""
    relapses = assessments[assessments["antigen_status"].notna()]
    rows = relapses.merge(infusions[["subject_id", "product"]], on="subject_id")
    return rows.drop_duplicates(["subject_id", "antigen_status"]).pivot_table(
        index="product",
        columns="antigen_status",
        values="subject_id",
        aggfunc="count",
        fill_value=0,
    )
