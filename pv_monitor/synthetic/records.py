"""What a site records about each simulated course: subjects, observations, drugs, adverse events.

The output is format-neutral (pyarrow tables in canonical units plus the unit each site writes);
:mod:`pv_monitor.synthetic.writers` turns it into tidy format v1 or SDTM files.

Recording schedule (synthetic assumption, shaped on ASCO 2021 monitoring advice, clinical.md §8):

* inpatient days 0 to discharge: vital signs four times a day (with oxygen device and flow),
  ICE or CAPD with level of consciousness twice a day, a daily neurological examination
  (seizure, motor weakness, ICP signs, sedation), imaging on the first ICANS grade >= 2 day and
  on oedema days, daily laboratory panel (IL-6 on days 0-7, 10 and 14; triglycerides weekly);
* day -5 (before lymphodepletion): baseline labs, B cells, myeloma markers; day -1 vital signs;
* daily blood counts until day 30 while ANC <= 0.5 x 10^9/L or platelets < 20 x 10^9/L;
* outpatient visits on days 21, 28, 42, 56, 90, 120, 180, 270, 365, 455, 545, 635 and 730:
  vital signs, labs, B cells and CAR transgene, responses (and MRD in B-ALL, myeloma markers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from pv_monitor.grading import sbp_threshold_mmhg
from pv_monitor.reference import APPROVED_PRODUCTS
from pv_monitor.synthetic.course import (
    CRP_CEILING_MG_L,
    EPINEPHRINE,
    GRID_DAYS,
    GRID_FIRST_DAY,
    INFECTION_TERMS,
    LATE_CNP,
    LATE_MNT,
    LATE_MYELOID,
    LATE_T_CELL,
    N_GRID,
    NEVER,
    NOREPINEPHRINE,
    O2_NONE,
    PHENYLEPHRINE,
    VASOPRESSIN,
    VASOPRESSOR_NAMES,
    Courses,
    anc_curve,
    hgb_curve,
    plt_curve,
)
from pv_monitor.units import from_canonical, to_canonical
from pv_monitor.vocabulary import (
    CEREBRAL_EDEMA_FINDINGS,
    CONSCIOUSNESS_LEVELS,
    DRUG_CLASSES,
    O2_DEVICES,
    OBSERVATION_CODES,
    SEIZURE_TYPES,
    GradingScale,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

VISIT_DAYS = np.array([21, 28, 42, 56, 90, 120, 180, 270, 365, 455, 545, 635, 730])
MARKER_DAYS = np.array([7, 14, 28, 56, 90, 180, 270, 365, 455, 545, 635, 730])
RESPONSE_DAYS = np.array([28, 90, 180, 365, 545, 730])
MRD_DAYS = np.array([28, 90, 180, 365])
MYELOMA_DAYS = np.array([-5, 28, 90, 180, 270, 365, 455, 545, 635, 730])
VITAL_MINUTES = np.array([120, 480, 840, 1200])  # 02:00, 08:00, 14:00, 20:00
NEURO_MINUTES = np.array([540, 1260])  # 09:00, 21:00
LAB_MINUTE = 360  # 06:00
INPATIENT_LABS = (
    "CRP",
    "FERRITIN",
    "LDH",
    "CREAT",
    "PLT",
    "ANC",
    "HGB",
    "FIBRINOGEN",
    "ALT",
    "AST",
    "BILI",
)
VISIT_LABS = ("CRP", "FERRITIN", "LDH", "CREAT", "PLT", "ANC", "HGB", "ALT", "AST")
IL6_DAYS = (0, 1, 2, 3, 4, 5, 6, 7, 10, 14)
TRIG_DAYS = (-5, 0, 7, 14, 21, 28)

# Units sites write (synthetic assumption): profile = site number modulo 3.
SITE_UNITS: tuple[dict[str, str], ...] = (
    {},  # canonical units
    {"TEMP": "F", "CRP": "mg/dL", "ANC": "/uL", "MRD": "%"},  # a US-style laboratory
    {
        "CREAT": "umol/L",
        "HGB": "g/L",
        "FIBRINOGEN": "g/L",
        "BILI": "umol/L",
        "TRIG": "mmol/L",
        "FLC_DIFF": "mg/L",
        "FERRITIN": "ug/L",
    },  # an SI-style laboratory
)
PRODUCT_NAMING = ("short_name", "brand_name", "generic_name")
"""How each site profile names the product (the ETL maps all three to one product)."""
DECIMALS = {
    "TEMP": 1,
    "SBP": 0,
    "DBP": 0,
    "MAP": 0,
    "HR": 0,
    "SPO2": 0,
    "O2_FLOW": 0,
    "ICE": 0,
    "CAPD": 0,
    "CRP": 1,
    "FERRITIN": 0,
    "LDH": 0,
    "CREAT": 2,
    "PLT": 0,
    "ANC": 2,
    "HGB": 1,
    "FIBRINOGEN": 0,
    "ALT": 0,
    "AST": 0,
    "BILI": 1,
    "TRIG": 0,
    "IL6": 1,
    "BCELL": 1,
    "CAR_TRANSGENE": 0,
    "MRD": 7,
    "M_PROTEIN": 2,
    "FLC_DIFF": 1,
    "SBCMA": 1,
}
UNIT_DECIMALS = {
    ("CRP", "mg/dL"): 2,
    ("CREAT", "umol/L"): 0,
    ("ANC", "/uL"): -1,
    ("HGB", "g/L"): 0,
    ("FIBRINOGEN", "g/L"): 2,
    ("BILI", "umol/L"): 0,
    ("TRIG", "mmol/L"): 2,
    ("MRD", "%"): 5,
    ("FLC_DIFF", "mg/L"): 0,
}
CODE_ORDER = {code: index for index, code in enumerate(OBSERVATION_CODES)}
NO_END = np.iinfo(np.int64).min
"""End minute of a single administration (no end time recorded)."""


@dataclass(frozen=True)
class ChunkRecords:
    """Everything recorded for a chunk of subjects, as pyarrow tables.

    Columns starting with ``_`` are not part of tidy format v1; the SDTM writer uses them.
    """

    subjects: pa.Table
    observations: pa.Table
    medications: pa.Table
    adverse_events: pa.Table


class _Rows:
    """Accumulates observation rows block by block."""

    def __init__(self) -> None:
        self.blocks: list[
            tuple[
                str,
                IntArray,
                IntArray,
                FloatArray | None,
                npt.NDArray[np.object_] | None,
                BoolArray | None,
            ]
        ] = []

    def add(
        self,
        code: str,
        subject: IntArray,
        minute: IntArray,
        *,
        number: FloatArray | None = None,
        category: npt.NDArray[np.object_] | None = None,
        other_cause: BoolArray | None = None,
    ) -> None:
        if subject.size:
            self.blocks.append((code, subject, minute, number, category, other_cause))


def subject_keys(c: Courses) -> npt.NDArray[np.object_]:
    """Pseudonymous subject keys: site and a running number, nothing derived from the person."""
    return np.array(
        [f"S{s:02d}-{n:06d}" for s, n in zip(c.site, c.number, strict=True)], dtype=object
    )


def _iso_minutes(epoch_day: IntArray, minute: IntArray) -> pa.Array:
    """ISO 8601 ``YYYY-MM-DDTHH:MM`` (a cast is much faster than strftime)."""
    seconds = (epoch_day * 1440 + minute) * 60
    text = pc.cast(pa.array(seconds, type=pa.timestamp("s")), pa.string())
    text = pc.utf8_slice_codeunits(text, 0, 16)
    return pc.replace_substring(text, " ", "T", max_replacements=1)


def _iso_days(epoch_day: IntArray, valid: BoolArray | None = None) -> pa.Array:
    """ISO 8601 ``YYYY-MM-DD``; empty where ``valid`` is False."""
    days = pa.array(epoch_day.astype("int32"), type=pa.int32()).cast(pa.date32())
    text = pc.cast(days, pa.string())
    if valid is None:
        return text
    return pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def string_lookup(
    indices: npt.NDArray[np.integer], values: Sequence[str | None] | npt.NDArray[np.object_]
) -> pa.Array:
    """Strings ``values[indices]`` (None stays null), built by pyarrow rather than per row."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(indices, dtype=np.int32)), pa.array(values, pa.string())
    ).cast(pa.string())


def _grid_rows(
    mask: BoolArray, minutes: npt.NDArray[np.int64], rng: np.random.Generator, jitter: int
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Rows for every (subject, grid day, time slot) where ``mask`` is set.

    Returns subject index, grid column, slot index and minute from infusion-day midnight.
    """
    subject, column = np.nonzero(mask)
    slots = minutes.size
    subject = np.repeat(subject, slots)
    column = np.repeat(column, slots)
    slot = np.tile(np.arange(slots), mask.sum())
    minute = GRID_DAYS[column] * 1440 + minutes[slot] + rng.integers(0, jitter + 1, subject.size)
    return subject, column, slot, minute


def _day_rows(
    days: IntArray, valid: BoolArray, minute_of_day: int, rng: np.random.Generator, jitter: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Rows for every (subject, scheduled day) where ``valid``; days has shape ``(n, k)``."""
    subject, which = np.nonzero(valid)
    day = days[subject, which]
    minute = day * 1440 + minute_of_day + rng.integers(0, jitter + 1, subject.size)
    return subject, day, minute


def build_records(c: Courses, rng: np.random.Generator, study_id: str) -> ChunkRecords:
    """Lay the courses of one chunk out as recorded data."""
    keys = subject_keys(c)
    profile = (c.site % len(SITE_UNITS)).astype(np.int64)
    rows = _Rows()
    last = c.last_day
    monitoring_end = c.monitoring_end
    days = np.broadcast_to(GRID_DAYS, (c.n, N_GRID))
    inpatient = (days >= 0) & (days <= c.discharge_day[:, None]) & (days <= last[:, None])
    _vital_signs(c, rng, rows, inpatient, last)
    _neurology(c, rng, rows, inpatient)
    _laboratory(c, rng, rows, inpatient, last, monitoring_end)
    _disease_markers(c, rng, rows, monitoring_end)
    observations = _observation_table(c, rows, keys, profile)
    return ChunkRecords(
        subjects=_subject_table(c, keys, profile, study_id),
        observations=observations,
        medications=_medication_table(c, rng, keys),
        adverse_events=_adverse_event_table(c, rng, keys),
    )


def _vital_signs(
    c: Courses, rng: np.random.Generator, rows: _Rows, inpatient: BoolArray, last: IntArray
) -> None:
    g = c.grid
    subject, column, slot, minute = _grid_rows(inpatient, VITAL_MINUTES, rng, 45)
    m = subject.size
    # the day's highest temperature falls on one slot; the others are lower
    peak_slot = rng.integers(0, VITAL_MINUTES.size, (c.n, N_GRID))[subject, column]
    tmax = g["tmax"][subject, column]
    at_peak = slot == peak_slot
    temp = np.where(at_peak, tmax, np.minimum(tmax - rng.uniform(0.2, 1.2, m), 37.7))
    temp = np.maximum(temp, 35.8)
    rows.add(
        "TEMP",
        subject,
        minute,
        number=temp,
        other_cause=at_peak & g["fever_other_cause"][subject, column],
    )
    # blood pressure: on hypotension days one reading is below the threshold
    age = c.age[subject]
    threshold = sbp_threshold_mmhg(age)
    hypotensive_slot = rng.integers(0, VITAL_MINUTES.size, (c.n, N_GRID))[subject, column]
    low = g["hypotension"][subject, column] & (slot == hypotensive_slot)
    sbp = np.where(low, threshold - rng.integers(3, 16, m), threshold + rng.integers(8, 41, m))
    rows.add("SBP", subject, minute, number=sbp.astype(np.float64))
    rows.add("DBP", subject, minute, number=np.rint(sbp * rng.uniform(0.55, 0.68, m)))
    fever = temp >= 38.0
    hr = 72 + 14 * fever + 18 * low + rng.normal(0, 8, m) + np.where(age < 12, 20, 0)
    rows.add("HR", subject, minute, number=np.rint(np.clip(hr, 45, 190)))
    device = g["o2_device"][subject, column]
    on_oxygen = device != O2_NONE
    spo2 = np.where(on_oxygen, rng.integers(89, 97, m), rng.integers(94, 100, m))
    rows.add("SPO2", subject, minute, number=spo2.astype(np.float64))
    rows.add("O2_DEVICE", subject, minute, category=np.array(O2_DEVICES, dtype=object)[device])
    flow = g["o2_flow"][subject, column]
    has_flow = ~np.isnan(flow)
    rows.add("O2_FLOW", subject[has_flow], minute[has_flow], number=flow[has_flow])
    # day -1 (admission) and outpatient visits: one set of vital signs on room air
    pre = np.full((c.n, 1), -1)
    visit_days = np.concatenate([pre, np.broadcast_to(VISIT_DAYS, (c.n, VISIT_DAYS.size))], axis=1)
    valid = ((visit_days < 0) & (visit_days <= last[:, None])) | (
        (visit_days > c.discharge_day[:, None]) & (visit_days <= c.monitoring_end[:, None])
    )
    subject, _, minute = _day_rows(visit_days, valid, 600, rng, 240)
    m = subject.size
    age = c.age[subject]
    threshold = sbp_threshold_mmhg(age)
    rows.add("TEMP", subject, minute, number=rng.uniform(36.1, 37.4, m))
    sbp = (threshold + rng.integers(10, 41, m)).astype(np.float64)
    rows.add("SBP", subject, minute, number=sbp)
    rows.add("DBP", subject, minute, number=np.rint(sbp * rng.uniform(0.55, 0.68, m)))
    rows.add(
        "HR", subject, minute, number=np.rint(rng.normal(76, 9, m) + np.where(age < 12, 20, 0))
    )
    rows.add("SPO2", subject, minute, number=rng.integers(95, 100, m).astype(np.float64))
    rows.add("O2_DEVICE", subject, minute, category=np.full(m, "none", dtype=object))


def _neurology(c: Courses, rng: np.random.Generator, rows: _Rows, inpatient: BoolArray) -> None:
    g = c.grid
    subject, column, slot, minute = _grid_rows(inpatient, NEURO_MINUTES, rng, 30)
    m = subject.size
    # the day's worst assessment is at one of the two times; the other is at most as bad
    worst_slot = rng.integers(0, NEURO_MINUTES.size, (c.n, N_GRID))[subject, column]
    at_worst = slot == worst_slot
    ice, capd = g["ice"][subject, column], g["capd"][subject, column]
    ice = np.where(at_worst | np.isnan(ice), ice, np.minimum(10, ice + rng.integers(0, 4, m)))
    capd = np.where(at_worst | np.isnan(capd), capd, np.maximum(0, capd - rng.integers(0, 4, m)))
    has_ice, has_capd = ~np.isnan(ice), ~np.isnan(capd)
    rows.add("ICE", subject[has_ice], minute[has_ice], number=ice[has_ice])
    rows.add("CAPD", subject[has_capd], minute[has_capd], number=capd[has_capd])
    loc = g["loc"][subject, column]
    milder = np.where(g["sedated"][subject, column], loc, np.minimum(loc, 1))
    loc = np.where(at_worst, loc, milder)
    rows.add("LOC", subject, minute, category=np.array(CONSCIOUSNESS_LEVELS, dtype=object)[loc])
    # daily neurological examination at the first assessment time
    exam = slot == 0
    s, col, t = subject[exam], column[exam], minute[exam]
    seizure_names = np.array(SEIZURE_TYPES, dtype=object)
    rows.add("SEIZURE", s, t, category=seizure_names[g["seizure"][s, col]])
    boolean = np.array(["false", "true"], dtype=object)
    rows.add("MOTOR_WEAKNESS", s, t, category=boolean[g["motor_weakness"][s, col].astype(int)])
    rows.add("ICP_SIGNS", s, t, category=boolean[g["icp_signs"][s, col].astype(int)])
    rows.add("SEDATED", s, t, category=boolean[g["sedated"][s, col].astype(int)])
    imaged = g["imaging"][s, col]
    edema = np.array(CEREBRAL_EDEMA_FINDINGS, dtype=object)[g["edema"][s, col]]
    rows.add("CEREBRAL_EDEMA", s[imaged], t[imaged] + 300, category=edema[imaged])


def _laboratory(
    c: Courses,
    rng: np.random.Generator,
    rows: _Rows,
    inpatient: BoolArray,
    last: IntArray,
    monitoring_end: IntArray,
) -> None:
    g = c.grid
    days = np.broadcast_to(GRID_DAYS, (c.n, N_GRID))
    baseline_day = (days == -5) & (last[:, None] >= -5)
    panel_days = inpatient | baseline_day
    cytopenic = (g["ANC"] <= 0.5) | (g["PLT"] < 20)
    cbc_days = (days > 0) & (days <= last[:, None]) & cytopenic & ~panel_days
    subject, column, _, minute = _grid_rows(panel_days, np.array([LAB_MINUTE]), rng, 90)
    for code in INPATIENT_LABS:
        rows.add(code, subject, minute, number=g[code][subject, column])
    day = GRID_DAYS[column]
    il6 = np.isin(day, IL6_DAYS) | (day == -5)
    rows.add("IL6", subject[il6], minute[il6], number=g["IL6"][subject[il6], column[il6]])
    trig = np.isin(day, TRIG_DAYS)
    rows.add("TRIG", subject[trig], minute[trig], number=g["TRIG"][subject[trig], column[trig]])
    subject, column, _, minute = _grid_rows(cbc_days, np.array([LAB_MINUTE]), rng, 90)
    for code in ("PLT", "ANC", "HGB"):
        rows.add(code, subject, minute, number=g[code][subject, column])
    # outpatient visits
    visit = np.broadcast_to(VISIT_DAYS, (c.n, VISIT_DAYS.size))
    valid = (visit > c.discharge_day[:, None]) & (visit <= monitoring_end[:, None])
    subject, day, minute = _day_rows(visit, valid, 540, rng, 120)
    p = c.params
    m = subject.size
    on_grid = day <= GRID_FIRST_DAY + N_GRID - 1
    column = np.clip(day - GRID_FIRST_DAY, 0, N_GRID - 1)
    noise = rng.lognormal(0, 0.2, (4, m))
    values = {
        "CRP": np.minimum(
            np.where(on_grid, g["CRP"][subject, column], p["baseline_CRP"][subject] * noise[0]),
            CRP_CEILING_MG_L,
        ),
        "FERRITIN": np.where(
            on_grid,
            g["FERRITIN"][subject, column],
            p["baseline_FERRITIN"][subject] * 0.8 * noise[1],
        ),
        "LDH": np.where(on_grid, g["LDH"][subject, column], p["baseline_LDH"][subject] * noise[2]),
        "CREAT": np.where(
            on_grid, g["CREAT"][subject, column], p["baseline_CREAT"][subject] * noise[3] ** 0.3
        ),
        "ALT": p["baseline_ALT"][subject] * rng.lognormal(0, 0.2, m),
        "AST": p["baseline_AST"][subject] * rng.lognormal(0, 0.2, m),
    }
    visited = {key: value[subject] for key, value in c.params.items()}
    for code, curve in (("PLT", plt_curve), ("ANC", anc_curve), ("HGB", hgb_curve)):
        values[code] = curve(visited, day[:, None], rng)[:, 0]
    for code in VISIT_LABS:
        rows.add(code, subject, minute, number=values[code])


def _disease_markers(
    c: Courses, rng: np.random.Generator, rows: _Rows, monitoring_end: IntArray
) -> None:
    p = c.params
    cd19 = c.target == "CD19"
    # B cells (cells/uL): baseline at day -5, then aplasia under a CD19 CAR until recovery
    schedule = np.concatenate(
        [np.full((c.n, 1), -5), np.broadcast_to(MARKER_DAYS, (c.n, MARKER_DAYS.size))], axis=1
    )
    valid = schedule <= monitoring_end[:, None]
    subject, day, minute = _day_rows(schedule, valid, 420, rng, 60)
    m = subject.size
    recovery = c.bcell_recovery_day[subject]
    recovered_level = 250 / (1 + np.exp(np.clip(-(day - recovery - 30) / 15, -50, 50)))
    aplastic = cd19[subject] & (day >= 0) & (day < recovery)
    bcell = np.where(
        day < 0,
        p["baseline_BCELL"][subject],
        np.where(
            aplastic,
            rng.uniform(0, 0.9, m),
            np.maximum(recovered_level, 5) * rng.lognormal(0, 0.2, m),
        ),
    )
    rows.add("BCELL", subject, minute, number=bcell)
    after = day > 0
    s, d, t = subject[after], day[after], minute[after]
    peak, peak_day, loss = c.car_peak[s], c.car_peak_day[s], c.car_loss_day[s]
    tau = np.maximum(loss - peak_day, 1) / np.log(np.maximum(peak / 10.0, 1.01))
    expanding = peak * np.exp(-((peak_day - d) / 3.0))
    decaying = peak * np.exp(-(d - peak_day) / tau)
    car = np.where(d < peak_day, expanding, decaying) * rng.lognormal(0, 0.15, s.size)
    car = np.where(d >= loss, 0.0, car)  # not detected once the CAR is lost
    rows.add("CAR_TRANSGENE", s, t, number=np.rint(car))
    # responses, relapse and its antigen phenotype
    response_days = np.broadcast_to(RESPONSE_DAYS, (c.n, RESPONSE_DAYS.size))
    refractory_call = (c.response == "PD")[:, None] & (response_days == 28)
    valid = (
        (c.response != "")[:, None]
        & (response_days <= c.last_day[:, None])
        & ((response_days < c.relapse_day[:, None]) | refractory_call)
    )
    subject, day, minute = _day_rows(response_days, valid, 660, rng, 120)
    rows.add("RESPONSE", subject, minute, category=c.response[subject])
    relapsed = np.flatnonzero((c.relapse_day < NEVER) & (c.response != "PD"))
    mm = c.diagnosis[relapsed] == "MM"
    called = c.relapse_day[relapsed] + np.where(mm, 28, 0)  # IMWG: two consecutive assessments
    shown = called <= c.last_day[relapsed]
    subject, day = relapsed[shown], called[shown]
    minute = day * 1440 + 660
    label = np.where(c.diagnosis[subject] == "B-ALL", "relapse", "PD").astype(object)
    rows.add("RESPONSE", subject, minute, category=label)
    rows.add("ANTIGEN_STATUS", subject, minute + 1, category=c.antigen_status[subject])
    # MRD in bone marrow (B-ALL), as a fraction; 0 means not detected
    all_rows = c.diagnosis == "B-ALL"
    mrd_days = np.broadcast_to(MRD_DAYS, (c.n, MRD_DAYS.size))
    valid = all_rows[:, None] & (mrd_days <= monitoring_end[:, None]) & (c.response != "")[:, None]
    subject, day, minute = _day_rows(mrd_days, valid, 600, rng, 60)
    m = subject.size
    to_relapse = c.relapse_day[subject] - day
    refractory = c.response[subject] == "PD"
    positive = np.where(
        day == 28, c.mrd_day28_positive[subject], (to_relapse < 120) & (rng.random(m) < 0.8)
    )
    level = np.where(refractory, rng.uniform(0.05, 0.6, m), 10 ** rng.uniform(-5.5, -2.5, m))
    rows.add("MRD", subject, minute, number=np.where(positive | refractory, level, 0.0))
    relapse_all = relapsed[c.diagnosis[relapsed] == "B-ALL"]
    relapse_all = relapse_all[c.relapse_day[relapse_all] <= c.last_day[relapse_all]]
    rows.add(
        "MRD",
        relapse_all,
        c.relapse_day[relapse_all] * 1440 + 600,
        number=rng.uniform(0.05, 0.8, relapse_all.size),
    )
    _myeloma_markers(c, rng, rows)


def _myeloma_markers(c: Courses, rng: np.random.Generator, rows: _Rows) -> None:
    """M-protein, FLC difference and soluble BCMA; progression shows on two assessments."""
    p = c.params
    mm = c.diagnosis == "MM"
    progressing = mm & (c.relapse_day < NEVER) & (c.response != "PD")
    extra = np.stack([c.relapse_day, c.relapse_day + 28], axis=1)
    extra = np.where(progressing[:, None], extra, NEVER)
    schedule = np.concatenate(
        [np.broadcast_to(MYELOMA_DAYS, (c.n, MYELOMA_DAYS.size)), extra], axis=1
    )
    stop = np.minimum(c.last_day, np.where(progressing, c.relapse_day + 28, NEVER))
    scheduled_before = (
        schedule[:, : MYELOMA_DAYS.size] < np.where(progressing, c.relapse_day, NEVER)[:, None]
    )
    valid = mm[:, None] & (schedule <= stop[:, None])
    valid[:, : MYELOMA_DAYS.size] &= scheduled_before
    subject, day, minute = _day_rows(schedule, valid, 480, rng, 60)
    base, nadir = p["mprotein_baseline"][subject], p["mprotein_nadir"][subject]
    t = day.astype(np.float64)
    falling = nadir + (base - nadir) * np.exp(-np.clip(t, 0, None) / 30.0)
    since = t - c.relapse_day[subject]
    # >= 25% and >= 0.5 g/dL above the nadir at progression, higher again 4 weeks later
    rising = nadir + np.where(since >= 28, 1.1, 0.65) + 0.2 * nadir
    mprotein = np.where((since >= 0) & progressing[subject], rising, falling)
    mprotein = np.where(t < 0, base, mprotein) * rng.lognormal(0, 0.04, subject.size)
    rows.add("M_PROTEIN", subject, minute, number=mprotein)
    rows.add(
        "FLC_DIFF", subject, minute, number=mprotein * 15 * rng.lognormal(0, 0.1, subject.size)
    )
    bcma_product = c.target[subject] == "BCMA"
    cleared = np.where(
        bcma_product & (t > 14), rng.uniform(0.5, 4.0, subject.size), p["sbcma_baseline"][subject]
    )
    escape = c.antigen_status[subject] == "negative"
    sbcma = np.where(
        (since >= 0) & progressing[subject] & ~escape,
        p["sbcma_baseline"][subject] * 0.4 * (mprotein / base),
        cleared,
    )
    rows.add("SBCMA", subject, minute, number=np.where(t < 0, p["sbcma_baseline"][subject], sbcma))


def _observation_table(
    c: Courses, rows: _Rows, keys: npt.NDArray[np.object_], profile: IntArray
) -> pa.Table:
    codes, subjects, minutes, texts, units, canonical, others = [], [], [], [], [], [], []
    for code, subject, minute, number, category, other in rows.blocks:
        spec = OBSERVATION_CODES[code]
        m = subject.size
        if number is not None:
            site_units = [
                SITE_UNITS[k].get(code, spec.canonical_unit) for k in range(len(SITE_UNITS))
            ]
            unit_index = profile[subject]
            reported = np.round(number.astype(np.float64), DECIMALS[code])
            stored = reported.copy()  # what a loader computes from the reported value and unit
            for k, unit in enumerate(site_units):
                if unit != spec.canonical_unit:
                    chosen = unit_index == k
                    places = UNIT_DECIMALS.get((code, str(unit)), DECIMALS[code])
                    shown = np.round(from_canonical(code, number[chosen], str(unit)), places)
                    reported[chosen] = shown
                    stored[chosen] = to_canonical(code, shown, str(unit))
            texts.append(pc.cast(pa.array(reported), pa.string()))
            units.append(string_lookup(unit_index, site_units))
            canonical.append(np.round(stored, 9))  # no float noise such as 22.799999999999997
        else:
            assert category is not None
            texts.append(pa.array(category, pa.string()))
            units.append(pa.nulls(m, pa.string()))
            canonical.append(np.full(m, np.nan))
        codes.append(np.full(m, CODE_ORDER[code], np.int64))
        subjects.append(subject)
        minutes.append(minute)
        others.append(other if other is not None else np.zeros(m, bool))
    subject = np.concatenate(subjects)
    minute = np.concatenate(minutes)
    code_index = np.concatenate(codes)
    # one sort key: subject, then minute (shifted positive), then code order
    key = (subject << 40) + ((minute + (1 << 30)) << 6) + code_index
    order = np.argsort(key, kind="stable")
    subject, minute, code_index = subject[order], minute[order], code_index[order]
    take = pa.array(order)
    return pa.table(
        {
            "subject_id": string_lookup(subject, keys),
            "observed_at": _iso_minutes(c.infusion_epoch_day[subject], minute),
            "code": string_lookup(code_index, list(OBSERVATION_CODES)),
            "value": pa.concat_arrays(texts).take(take),
            "unit": pa.concat_arrays(units).take(take),
            "other_cause": pa.array(np.concatenate(others)[order]),
            "_canonical_value": pa.array(np.concatenate(canonical)[order]),
            "_study_day": pa.array(np.floor_divide(minute, 1440).astype(np.int32)),
            "_subject": pa.array(subject.astype(np.int32)),
            "_code_index": pa.array(code_index.astype(np.int16)),
        }
    )


def _subject_table(
    c: Courses, keys: npt.NDArray[np.object_], profile: IntArray, study_id: str
) -> pa.Table:
    naming = np.array(
        [
            [getattr(product, PRODUCT_NAMING[k]) for product in APPROVED_PRODUCTS]
            for k in range(len(PRODUCT_NAMING))
        ],
        dtype=object,
    )
    product_index = {product.short_name: i for i, product in enumerate(APPROVED_PRODUCTS)}
    which = np.array([product_index[s] for s in c.short_name])
    product_name = naming[profile % len(PRODUCT_NAMING), which]
    died = c.death_day < NEVER
    death_epoch = c.infusion_epoch_day + np.where(died, c.death_day, 0)
    last_contact = c.infusion_epoch_day + c.last_day
    return pa.table(
        {
            "subject_id": pa.array(keys, pa.string()),
            "study_id": pa.array(np.full(c.n, study_id, dtype=object), pa.string()),
            "site_id": pa.array([f"S{s:02d}" for s in c.site], pa.string()),
            "sex": pa.array(np.where(c.is_male, "M", "F"), pa.string()),
            "age_years": pa.array(c.age.astype(np.int32)),
            "diagnosis": pa.array(c.diagnosis, pa.string()),
            "product": pa.array(product_name, pa.string()),
            "infusion_date": _iso_days(c.infusion_epoch_day),
            "weight_kg": pa.array(c.weight_kg),
            "dose_cells": pa.array(c.dose_cells.astype(np.int64)),
            "lymphodepletion": pa.array(
                np.full(c.n, "fludarabine/cyclophosphamide", dtype=object), pa.string()
            ),
            "death_date": _iso_days(death_epoch, died),
            "death_cause": pa.array(c.death_cause, pa.string(), mask=~died),
            "last_contact_date": _iso_days(last_contact),
            "_short_name": pa.array(c.short_name, pa.string()),
            "_infusion_epoch_day": pa.array(c.infusion_epoch_day),
            "_death_day": pa.array(np.where(died, c.death_day, -1)),
            "_last_day": pa.array(c.last_day),
            "_completed": pa.array(c.last_day >= 730),
        }
    )


def _medication_table(
    c: Courses, rng: np.random.Generator, keys: npt.NDArray[np.object_]
) -> pa.Table:
    g = c.grid
    subjects: list[IntArray] = []
    drugs: list[npt.NDArray[np.object_]] = []
    starts: list[IntArray] = []
    ends: list[IntArray] = []
    doses: list[FloatArray] = []
    units: list[npt.NDArray[np.object_]] = []
    routes: list[npt.NDArray[np.object_]] = []
    last = c.last_day

    def add(
        drug: str,
        subject: IntArray,
        start: IntArray,
        dose: float | FloatArray,
        unit: str,
        route: str,
        *,
        minutes: int | None = None,
        end: IntArray | None = None,
    ) -> None:
        """Administrations of ``drug``: lasting ``minutes``, until ``end``, or single doses."""
        if end is None:
            end = start + minutes if minutes is not None else np.full(subject.size, NO_END)
        keep = np.floor_divide(start, 1440) <= last[subject]
        m = int(keep.sum())
        subjects.append(subject[keep])
        drugs.append(np.full(m, drug, dtype=object))
        starts.append(start[keep])
        ends.append(end[keep])
        doses.append(np.broadcast_to(np.asarray(dose, dtype=np.float64), subject.shape)[keep])
        units.append(np.full(m, unit, dtype=object))
        routes.append(np.full(m, route, dtype=object))

    def daily(flag: npt.NDArray[np.bool_], minute_of_day: int) -> tuple[IntArray, IntArray]:
        subject, column = np.nonzero(flag)
        return subject, GRID_DAYS[column] * 1440 + minute_of_day + rng.integers(0, 30, subject.size)

    weight = c.weight_kg
    everyone = np.arange(c.n)
    for day in (-5, -4, -3):  # lymphodepletion
        start = np.full(c.n, day * 1440 + 540)
        add("fludarabine", everyone, start, 30.0, "mg/m2", "IV", minutes=30)
        add("cyclophosphamide", everyone, start + 45, 500.0, "mg/m2", "IV", minutes=60)
    # tocilizumab 8 mg/kg IV over 1 h, at most 800 mg (ASCO 2021, clinical.md §8)
    subject, start = daily(g["tocilizumab"], 660)
    add("tocilizumab", subject, start, np.minimum(8 * weight[subject], 800).round(), "mg", "IV",
        minutes=60)  # fmt: skip
    # acetaminophen on febrile CRS days
    subject, start = daily(g["antipyretic"], 180)
    dose = np.where(c.age[subject] < 12, np.minimum(15 * weight[subject], 650).round(), 650.0)
    add("acetaminophen", subject, start, dose, "mg", "PO")
    # dexamethasone 10 mg IV every 6 h; methylprednisolone 1 g daily; anakinra 100 mg SC q6h
    for hour in (0, 6, 12, 18):
        subject, start = daily(g["dexamethasone"], hour * 60)
        add("dexamethasone", subject, start, 10.0, "mg", "IV")
        subject, start = daily(g["anakinra"], hour * 60 + 30)
        add("anakinra", subject, start, 100.0, "mg", "SC")
    subject, start = daily(g["methylprednisolone"], 600)
    add("methylprednisolone", subject, start, 1000.0, "mg", "IV", minutes=60)
    # vasopressors: one continuous infusion per agent per run of days
    rates = {
        NOREPINEPHRINE: (0.05, 0.3, "ug/kg/min"),
        EPINEPHRINE: (0.02, 0.2, "ug/kg/min"),
        PHENYLEPHRINE: (0.5, 3.0, "ug/kg/min"),
        VASOPRESSIN: (0.03, 0.03, "units/min"),
    }
    for bit, (low, high, unit) in rates.items():
        running = (g["pressors"] & bit) > 0
        previous = np.concatenate([np.zeros((c.n, 1), bool), running[:, :-1]], axis=1)
        following = np.concatenate([running[:, 1:], np.zeros((c.n, 1), bool)], axis=1)
        subject, first = np.nonzero(running & ~previous)
        _, final = np.nonzero(running & ~following)
        start = GRID_DAYS[first] * 1440 + 600 + rng.integers(0, 120, subject.size)
        end = GRID_DAYS[final] * 1440 + 1080 + rng.integers(0, 240, subject.size)
        dose = np.round(rng.uniform(low, high, subject.size), 2)
        add(VASOPRESSOR_NAMES[bit], subject, start, dose, unit, "IV", end=end)
    # levetiracetam for 7 days after a seizure
    seizure = g["seizure"] > 0
    had = seizure.any(axis=1)
    subject = np.flatnonzero(had)
    start = GRID_DAYS[np.argmax(seizure[had], axis=1)] * 1440 + 720
    add("levetiracetam", subject, start, 500.0, "mg", "PO", minutes=7 * 1440)

    subject = np.concatenate(subjects)
    start = np.concatenate(starts)
    end = np.concatenate(ends)
    order = np.lexsort((start, subject))
    subject, start, end = subject[order], start[order], end[order]
    drug = np.concatenate(drugs)[order]
    epoch = c.infusion_epoch_day[subject]
    ended = end != NO_END
    return pa.table(
        {
            "subject_id": string_lookup(subject, keys),
            "drug": pa.array(drug, pa.string()),
            "started_at": _iso_minutes(epoch, start),
            "ended_at": pc.if_else(
                pa.array(ended),
                _iso_minutes(epoch, np.where(ended, end, start)),
                pa.scalar(None, pa.string()),
            ),
            "dose": pa.array(np.concatenate(doses)[order]),
            "dose_unit": pa.array(np.concatenate(units)[order], pa.string()),
            "route": pa.array(np.concatenate(routes)[order], pa.string()),
            "_drug_class": pa.array([DRUG_CLASSES[d].value for d in drug], pa.string()),
            "_start_day": pa.array(np.floor_divide(start, 1440).astype(np.int32)),
            "_end_day": pa.array(
                np.where(ended, np.floor_divide(end, 1440), -99999).astype(np.int32)
            ),
            "_subject": pa.array(subject.astype(np.int32)),
        }
    )


def _adverse_event_table(
    c: Courses, rng: np.random.Generator, keys: npt.NDArray[np.object_]
) -> pa.Table:
    records: list[tuple[int, str, int, int, int, str, bool, bool]] = []
    last = c.last_day

    def add_events(
        term_of: npt.NDArray[np.object_],
        onset: IntArray,
        end: IntArray,
        grade: IntArray,
        scale: GradingScale,
        partial: BoolArray | None = None,
    ) -> None:
        for i in np.flatnonzero((grade > 0) & (onset <= last)):
            resolved = int(end[i]) if end[i] <= last[i] and grade[i] < 5 else -1
            records.append(
                (
                    int(i),
                    str(term_of[i]),
                    int(onset[i]),
                    resolved,
                    int(grade[i]),
                    scale.value,
                    bool(grade[i] >= 3),
                    bool(partial[i]) if partial is not None else False,
                )
            )

    n = c.n
    crs_term = np.full(n, "Cytokine release syndrome", dtype=object)
    add_events(crs_term, c.crs_onset, c.crs_end + 1, c.crs_peak, GradingScale.ASTCT_2019)
    icans_term = np.full(n, "Immune effector cell-associated neurotoxicity syndrome", dtype=object)
    add_events(icans_term, c.icans_onset, c.icans_end + 1, c.icans_peak, GradingScale.ASTCT_2019)
    infection_term = np.array(INFECTION_TERMS, dtype=object)[c.infection_term]
    add_events(
        infection_term,
        c.infection_day,
        c.infection_day + rng.integers(5, 21, n),
        c.infection_grade,
        GradingScale.CTCAE_V5_0,
    )
    iec_term = np.full(n, "Immune effector cell-associated HLH-like syndrome", dtype=object)
    add_events(iec_term, c.iec_hs_onset, c.iec_hs_end + 1, c.iec_hs_grade, GradingScale.HINES_2023)
    late_terms = {
        LATE_MYELOID: ("Myelodysplastic syndrome", 4),
        LATE_T_CELL: ("T-cell lymphoma", 4),
        LATE_CNP: ("Facial paralysis", 2),
        LATE_MNT: ("Parkinsonism", 3),
    }
    term = np.array([late_terms.get(int(k), ("", 0))[0] for k in c.late_event], dtype=object)
    grade = np.array([late_terms.get(int(k), ("", 0))[1] for k in c.late_event], dtype=np.int64)
    resolves = np.where(c.late_event == LATE_CNP, c.late_event_day + rng.integers(20, 61, n), NEVER)
    # second malignancies are often reported with the month only (partial ISO 8601 dates)
    partial = np.isin(c.late_event, [LATE_MYELOID, LATE_T_CELL]) & (rng.random(n) < 0.3)
    add_events(term, c.late_event_day, resolves, grade, GradingScale.CTCAE_V5_0, partial=partial)

    if records:
        columns = list(zip(*records, strict=True))
        subject, terms, onset, resolved, grades, scales, serious, partial_dates = (
            np.array(column) for column in columns
        )
    else:
        subject = np.zeros(0, np.int64)
        terms = scales = np.zeros(0, dtype=object)
        onset = resolved = grades = np.zeros(0, np.int64)
        serious = partial_dates = np.zeros(0, bool)
    order = np.lexsort((onset, subject))
    subject, onset, resolved = subject[order], onset[order], resolved[order]
    grades, serious, partial_dates = grades[order], serious[order], partial_dates[order]
    epoch = c.infusion_epoch_day[subject]
    fatal = grades == 5
    onset_text = _iso_days(epoch + onset)
    month_only = pc.utf8_slice_codeunits(onset_text, 0, 7)
    onset_text = pc.if_else(pa.array(partial_dates), month_only, onset_text)
    outcome = np.where(fatal, "fatal", np.where(resolved >= 0, "recovered", "not_recovered"))
    return pa.table(
        {
            "subject_id": pa.array(keys[subject], pa.string()),
            "term": pa.array(terms[order].astype(object), pa.string()),
            "onset_date": onset_text,
            "resolved_date": _iso_days(epoch + np.maximum(resolved, 0), resolved >= 0),
            "grade": pa.array(grades.astype(np.int32)),
            "grading_scale": pa.array(scales[order].astype(object), pa.string()),
            "serious": pa.array(serious.astype(bool)),
            "outcome": pa.array(outcome.astype(object), pa.string()),
            "_onset_day": pa.array(onset.astype(np.int32)),
            "_resolved_day": pa.array(np.where(resolved >= 0, resolved, -99999).astype(np.int32)),
            "_subject": pa.array(subject.astype(np.int32)),
        }
    )
