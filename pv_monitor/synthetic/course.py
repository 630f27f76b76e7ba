"""What happens to each synthetic subject, vectorised over a chunk of subjects.

The course is decided here (grades, onset and duration, treatment, cytopenias, response,
relapse, death); :mod:`pv_monitor.synthetic.records` writes down what a site would have
recorded. Daily quantities live on a grid of study days ``GRID_FIRST_DAY..GRID_LAST_DAY``
(day 0 = infusion); later quantities come from the curve functions at the end of the module.

The raw signals are built so that ASTCT 2019 grading of the recorded data (clinical.md §1-2)
gives back each day's intended grade:

* CRS: grade >= 1 needs fever >= 38.0 °C unless CRS treatment was already given in the episode
  (fever is then masked on half of the grade >= 2 days); grade 2 is hypotension without
  vasopressors and/or low-flow oxygen (nasal cannula <= 6 L/min or blow-by); grade 3 one
  vasopressor (vasopressin may run beside it) or high-flow nasal cannula, facemask,
  non-rebreather, Venturi or nasal cannula > 6 L/min; grade 4 two vasopressors other than
  vasopressin or positive pressure. Grade 5 is death from CRS after grade 4 days.
* ICANS (ICE from age 12, CAPD below): grade 1 ICE 7-9 or CAPD 1-8, awake; grade 2 ICE 3-6 or
  awakens to voice; grade 3 ICE 0-2 awake, CAPD >= 9, tactile arousal, a rapidly resolving
  seizure or focal oedema; grade 4 unarousable, a prolonged seizure, deep focal weakness, or
  diffuse oedema with signs of raised ICP. Invasive ventilation (with sedation, which makes ICE
  and consciousness ungradable) is only used for subjects without ICANS.

Days outside an episode are clean (afebrile unless the fever is attributed to an infection,
normotensive, room air, ICE 10 / CAPD 0, alert), so an episode's peak is its reported grade.
Everything else (lab trajectories, doses, disease course) is a synthetic assumption.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from pv_monitor.synthetic.parameters import Arm, CohortParameters, DayDistribution

GRID_FIRST_DAY = -5
GRID_LAST_DAY = 30
GRID_DAYS = np.arange(GRID_FIRST_DAY, GRID_LAST_DAY + 1)
N_GRID = GRID_DAYS.size
NEVER = 1_000_000
"""Day of an event that does not happen."""
LAST_EPISODE_ONSET = 25
"""Episodes are simulated inside the monitoring window; later published onsets are moved here."""
MIN_DISCHARGE_DAY = 14

# Oxygen support: indices into pv_monitor.vocabulary.O2_DEVICES.
O2_NONE, O2_BLOW_BY, O2_NC, O2_HFNC, O2_FACEMASK, O2_NRB, O2_VENTURI = 0, 1, 2, 3, 4, 5, 6
O2_CPAP, O2_BIPAP, O2_MV = 7, 8, 9
# Vasopressors: bit flags.
NOREPINEPHRINE, EPINEPHRINE, PHENYLEPHRINE, VASOPRESSIN = 1, 2, 4, 8
VASOPRESSOR_NAMES = {
    NOREPINEPHRINE: "norepinephrine",
    EPINEPHRINE: "epinephrine",
    PHENYLEPHRINE: "phenylephrine",
    VASOPRESSIN: "vasopressin",
}
# Indices into CONSCIOUSNESS_LEVELS, SEIZURE_TYPES and CEREBRAL_EDEMA_FINDINGS.
LOC_ALERT, LOC_SPONTANEOUS, LOC_VOICE, LOC_TACTILE, LOC_UNAROUSABLE = 0, 1, 2, 3, 4
SEIZURE_NONE, SEIZURE_RESOLVING, SEIZURE_NONCONVULSIVE, SEIZURE_PROLONGED = 0, 1, 2, 3
EDEMA_NONE, EDEMA_FOCAL, EDEMA_DIFFUSE = 0, 1, 2

INFECTION_TERMS = (
    "Pneumonia",
    "Bacteraemia",
    "Sepsis",
    "Urinary tract infection",
    "COVID-19",
    "Cytomegalovirus infection reactivation",
)
LATE_NONE, LATE_MYELOID, LATE_T_CELL, LATE_CNP, LATE_MNT = 0, 1, 2, 3, 4

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


@dataclass
class Courses:
    """Courses of a chunk of subjects.

    Subject-level arrays have shape ``(n,)``; ``grid`` holds ``(n, N_GRID)`` arrays of daily
    values (keys listed in :data:`GRID_KEYS`); lab grids are in canonical units and NaN where
    a value does not apply.
    """

    number: IntArray
    arm: IntArray
    short_name: ObjectArray
    target: ObjectArray
    costim: ObjectArray
    diagnosis: ObjectArray
    site: IntArray
    is_male: BoolArray
    age: IntArray
    weight_kg: FloatArray
    infusion_epoch_day: IntArray
    dose_cells: FloatArray
    follow_up_end: IntArray
    death_day: IntArray
    death_cause: ObjectArray
    discharge_day: IntArray
    crs_peak: IntArray
    crs_onset: IntArray
    crs_end: IntArray
    icans_peak: IntArray
    icans_onset: IntArray
    icans_end: IntArray
    infection_day: IntArray
    infection_grade: IntArray
    infection_term: IntArray
    iec_hs_onset: IntArray
    iec_hs_end: IntArray
    iec_hs_grade: IntArray
    late_event: IntArray
    late_event_day: IntArray
    response: ObjectArray
    relapse_day: IntArray
    antigen_status: ObjectArray
    car_peak_day: IntArray
    car_peak: FloatArray
    car_loss_day: IntArray
    bcell_recovery_day: IntArray
    mrd_day28_positive: BoolArray
    params: dict[str, FloatArray] = field(default_factory=dict)
    grid: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of subjects."""
        return int(self.number.size)

    @property
    def last_day(self) -> IntArray:
        """Last study day anything is recorded: death, else end of follow-up."""
        return np.minimum(self.death_day, self.follow_up_end)

    @property
    def monitoring_end(self) -> IntArray:
        """Last day of routine monitoring: relapse (confirmation for myeloma) ends it."""
        confirm = np.where(self.diagnosis == "MM", 28, 0)
        return np.minimum(
            self.last_day, np.where(self.relapse_day < NEVER, self.relapse_day + confirm, NEVER)
        )


GRID_KEYS = (
    "crs",
    "icans",
    "tmax",
    "fever_other_cause",
    "hypotension",
    "pressors",
    "o2_device",
    "o2_flow",
    "ice",
    "capd",
    "loc",
    "seizure",
    "motor_weakness",
    "edema",
    "imaging",
    "icp_signs",
    "sedated",
    "tocilizumab",
    "antipyretic",
    "dexamethasone",
    "methylprednisolone",
    "anakinra",
    "CRP",
    "FERRITIN",
    "IL6",
    "LDH",
    "CREAT",
    "FIBRINOGEN",
    "ALT",
    "AST",
    "BILI",
    "TRIG",
    "ANC",
    "PLT",
    "HGB",
)


def _draw_days(rng: np.random.Generator, spec: DayDistribution, n: int) -> IntArray:
    """Whole days, log-normal around the median, kept inside the published range."""
    low, high = max(spec.low, 1.0), max(spec.high, spec.low, 1.0)
    median = min(max(spec.median, low), high)
    spread = max(np.log(high / median), np.log(median / low), 0.1) / 1.96
    draws = np.exp(np.log(median) + spread * rng.standard_normal(n))
    return np.asarray(np.clip(np.rint(draws), low, high), dtype=np.int64)


def grades_from_uniform(
    u: FloatArray, any_rate: float, g3_rate: float, shares: tuple[float, float, float], cap: int
) -> IntArray:
    """Map a uniform latent to a peak grade with P(>=1) = ``any_rate``, P(>=3) = ``g3_rate``.

    ``shares`` are grade 2 within grades 1-2, and grades 4 and 5 within grades >= 3. Grades
    above ``cap`` become ``cap``.

    Examples
    --------
    >>> u = np.linspace(0.0005, 0.9995, 1000)
    >>> g = grades_from_uniform(u, 0.9, 0.2, (0.5, 0.2, 0.05), 5)
    >>> float((g >= 1).mean()), float((g >= 3).mean())
    (0.9, 0.2)
    """
    grade2_share, grade4_share, grade5_share = shares
    g3_rate = min(g3_rate, any_rate)
    cuts = np.array(
        [
            1.0 - any_rate,
            1.0 - any_rate + (any_rate - g3_rate) * (1.0 - grade2_share),
            1.0 - g3_rate,
            1.0 - g3_rate * (grade4_share + grade5_share),
            1.0 - g3_rate * grade5_share,
        ]
    )
    grade = np.searchsorted(cuts, u, side="right")
    return np.minimum(grade, cap).astype(np.int64)


def episode_grid(
    rng: np.random.Generator, onset: IntArray, duration: IntArray, peak: IntArray
) -> tuple[IntArray, IntArray]:
    """Daily grades of unimodal episodes: ramp up, plateau at the peak, ramp down.

    A grade-5 episode is grade-4 days ending in death on the last plateau day. Returns the
    ``(n, N_GRID)`` grid and each episode's last day (``NEVER`` without an episode); every day of
    an episode has grade >= 1 and its maximum is ``min(peak, 4)``.
    """
    n = onset.size
    g = np.minimum(peak, 4)[:, None].astype(np.float64)
    duration = np.where(peak > 0, np.maximum(duration, 1), 0)
    ramp = np.minimum(rng.integers(0, 3, n), np.maximum(duration - 1, 0))
    plateau = np.maximum(1, np.rint(duration * rng.uniform(0.2, 0.5, n))).astype(np.int64)
    plateau = np.minimum(plateau, np.maximum(duration - ramp, 1))
    duration = np.where(peak == 5, ramp + plateau, duration)
    end = np.where(peak > 0, np.minimum(onset + duration - 1, GRID_LAST_DAY), NEVER)
    k = GRID_DAYS[None, :] - onset[:, None]
    active = (k >= 0) & (GRID_DAYS[None, :] <= end[:, None])
    up = np.floor(1 + (g - 1) * (k + 1) / (ramp[:, None] + 1))
    rest = np.maximum(duration - ramp - plateau, 1)[:, None]
    j = k - ramp[:, None] - plateau[:, None]
    down = np.floor(1 + (g - 1) * (rest - j) / (rest + 1))
    grid = np.where(k < ramp[:, None], up, np.where(j < 0, g, down))
    return np.where(active, np.clip(grid, 1, g), 0).astype(np.int64), end


def _choice(rng: np.random.Generator, k: int, n: int, p: list[float]) -> IntArray:
    """``n`` draws of 0..k-1 with probabilities ``p``."""
    return np.asarray(rng.choice(k, size=n, p=p), dtype=np.int64)


def _correlated_uniform(
    rng: np.random.Generator, driver: FloatArray, rho: float
) -> tuple[FloatArray, FloatArray]:
    """A standard-normal latent with correlation ``rho`` to ``driver``, and its uniform."""
    z = rho * driver + np.sqrt(1.0 - rho**2) * rng.standard_normal(driver.size)
    return z, ndtr(z)


def _ema(values: FloatArray, keep: float) -> FloatArray:
    """Exponentially smoothed running sum along days: ``s_t = keep * s_{t-1} + x_t``."""
    out = np.empty_like(values, dtype=np.float64)
    running = np.zeros(values.shape[0])
    for column in range(values.shape[1]):
        running = keep * running + values[:, column]
        out[:, column] = running
    return out


def _per_arm(arms: tuple[Arm, ...], arm: IntArray, getter: str) -> FloatArray:
    return np.array([float(getattr(a, getter)) for a in arms])[arm]


def simulate_courses(
    rng: np.random.Generator, params: CohortParameters, n: int, first_number: int
) -> Courses:
    """Simulate the courses of ``n`` subjects numbered from ``first_number``."""
    arms = params.arms
    shares = np.array([a.share for a in arms])
    arm = rng.choice(len(arms), size=n, p=shares / shares.sum())

    def by_arm(values: list[object]) -> ObjectArray:
        return np.array(values, dtype=object)[arm]

    short = by_arm([a.product.short_name for a in arms])
    diagnosis = by_arm([a.diagnosis for a in arms])
    age = np.rint(
        rng.triangular(
            np.array([a.age.low for a in arms])[arm],
            np.array([a.age.median for a in arms])[arm],
            np.array([a.age.high for a in arms])[arm],
        )
    ).astype(np.int64)
    is_male = rng.random(n) < 0.6
    weight = np.where(
        age >= 16,
        np.clip(rng.normal(np.where(is_male, 84.0, 70.0), 14.0), 40, 160),
        np.clip((2.4 * age + 9) * rng.lognormal(0.0, 0.15, n), 12, 90),
    )
    first = np.datetime64(params.infusion_first, "D").astype(np.int64)
    last = np.datetime64(params.infusion_last, "D").astype(np.int64)
    infusion = rng.integers(first, last + 1, n)
    cut = np.datetime64(params.data_cut, "D").astype(np.int64)
    follow_up_end = np.minimum(cut - infusion, params.follow_up_days)

    # latent risks: baseline inflammation / tumour burden and marrow reserve drive CRS, ICANS
    # and haematotoxicity, and the baseline labs from which EASIX and CAR-HEMATOTOX are computed
    inflammation = rng.standard_normal(n)
    marrow = rng.standard_normal(n)
    g = params.grades
    z_crs, u_crs = _correlated_uniform(rng, inflammation, g["inflammation_crs_correlation"])
    _, u_icans = _correlated_uniform(rng, z_crs, g["crs_icans_correlation"])
    _, u_icaht = _correlated_uniform(
        rng, (0.8 * -marrow + 0.6 * inflammation), g["hematotox_icaht_correlation"]
    )
    crs_shares = (
        g["crs_grade2_share_of_1_2"],
        g["crs_grade4_share_of_3plus"],
        g["crs_grade5_share_of_3plus"],
    )
    icans_shares = (
        g["icans_grade2_share_of_1_2"],
        g["icans_grade4_share_of_3plus"],
        g["icans_grade5_share_of_3plus"],
    )
    crs_peak, icans_peak = np.zeros(n, np.int64), np.zeros(n, np.int64)
    crs_onset, crs_duration = np.zeros(n, np.int64), np.zeros(n, np.int64)
    icans_onset, icans_duration = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for index, spec in enumerate(arms):
        rows = np.flatnonzero(arm == index)
        crs_peak[rows] = grades_from_uniform(
            u_crs[rows], spec.crs_any, spec.crs_grade3plus, crs_shares, 5
        )
        icans_peak[rows] = grades_from_uniform(
            u_icans[rows],
            spec.neuro_any,
            spec.neuro_grade3plus,
            icans_shares,
            spec.max_icans_grade,
        )
        crs_onset[rows] = _draw_days(rng, spec.crs_onset_day, rows.size)
        crs_duration[rows] = _draw_days(rng, spec.crs_duration_days, rows.size)
        icans_onset[rows] = _draw_days(rng, spec.neuro_onset_day, rows.size)
        icans_duration[rows] = _draw_days(rng, spec.neuro_duration_days, rows.size)
    crs_onset = np.minimum(crs_onset, LAST_EPISODE_ONSET)
    icans_onset = np.minimum(icans_onset, LAST_EPISODE_ONSET)
    # one death per subject: when both would be fatal, the later one stops at grade 4
    crs_grid, crs_end = episode_grid(rng, crs_onset, crs_duration, crs_peak)
    icans_grid, icans_end = episode_grid(rng, icans_onset, icans_duration, icans_peak)
    both_fatal = (crs_peak == 5) & (icans_peak == 5)
    icans_later = both_fatal & (icans_end >= crs_end)
    icans_peak = np.where(icans_later, 4, icans_peak)
    crs_peak = np.where(both_fatal & ~icans_later, 4, crs_peak)
    toxic_death = np.minimum(
        np.where(crs_peak == 5, crs_end, NEVER), np.where(icans_peak == 5, icans_end, NEVER)
    )
    alive = GRID_DAYS[None, :] <= toxic_death[:, None]
    crs_grid, icans_grid = crs_grid * alive, icans_grid * alive
    # an episode cut short by the other syndrome's fatal course keeps the grades it reached
    crs_peak = np.where(crs_peak == 5, 5, crs_grid.max(axis=1))
    icans_peak = np.where(icans_peak == 5, 5, icans_grid.max(axis=1))
    crs_end = np.where(crs_peak > 0, np.minimum(crs_end, toxic_death), NEVER)
    icans_end = np.where(icans_peak > 0, np.minimum(icans_end, toxic_death), NEVER)
    crs_onset = np.where(crs_peak > 0, crs_onset, NEVER)
    icans_onset = np.where(icans_peak > 0, icans_onset, NEVER)

    grid: dict[str, npt.NDArray[Any]] = {"crs": crs_grid, "icans": icans_grid}
    cerebral_edema = _per_arm(arms, arm, "cerebral_edema") > 0
    grid.update(_crs_signals(rng, age, crs_grid, crs_peak, icans_grid))
    grid.update(_icans_signals(rng, age, icans_grid, grid["sedated"], cerebral_edema))
    grid["dexamethasone"] = grid["dexamethasone"] | grid.pop("dexamethasone_icans")
    grid["methylprednisolone"] = grid["methylprednisolone"] | grid.pop("methylprednisolone_icans")
    grid["anakinra"] = grid["anakinra"] | (icans_grid >= 4) & (rng.random(n)[:, None] < 0.5)

    c = Courses(
        number=np.arange(first_number, first_number + n, dtype=np.int64),
        arm=arm,
        short_name=short,
        target=by_arm([a.product.target_antigen for a in arms]),
        costim=by_arm([a.product.costimulatory_domain for a in arms]),
        diagnosis=diagnosis,
        site=rng.integers(1, params.sites + 1, n),
        is_male=is_male,
        age=age,
        weight_kg=np.round(weight, 1).astype(np.float64),
        infusion_epoch_day=infusion,
        dose_cells=_dose_cells(rng, short, weight),
        follow_up_end=follow_up_end,
        death_day=np.full(n, NEVER),
        death_cause=np.full(n, "", dtype=object),
        discharge_day=np.zeros(n, np.int64),
        crs_peak=crs_peak,
        crs_onset=crs_onset,
        crs_end=crs_end,
        icans_peak=icans_peak,
        icans_onset=icans_onset,
        icans_end=icans_end,
        infection_day=np.full(n, NEVER),
        infection_grade=np.zeros(n, np.int64),
        infection_term=np.zeros(n, np.int64),
        iec_hs_onset=np.full(n, NEVER),
        iec_hs_end=np.full(n, NEVER),
        iec_hs_grade=np.zeros(n, np.int64),
        late_event=np.zeros(n, np.int64),
        late_event_day=np.full(n, NEVER),
        response=np.full(n, "", dtype=object),
        relapse_day=np.full(n, NEVER),
        antigen_status=np.full(n, "", dtype=object),
        car_peak_day=np.zeros(n, np.int64),
        car_peak=np.zeros(n),
        car_loss_day=np.full(n, NEVER),
        bcell_recovery_day=np.full(n, NEVER),
        mrd_day28_positive=np.zeros(n, bool),
        grid=grid,
    )
    _baseline_and_inflammation(rng, c, inflammation, marrow)
    _hematology(rng, c, u_icaht, _per_arm(arms, arm, "severe_icaht"), params)
    _infections_and_late_events(rng, c, arms, params)
    _iec_hs(rng, c, params)
    _disease_course(rng, c, params)
    _deaths_and_discharge(rng, c, toxic_death)
    return c


def _dose_cells(rng: np.random.Generator, short: ObjectArray, weight: FloatArray) -> FloatArray:
    """Label-like CAR-positive cell doses (synthetic assumption, not dosing guidance)."""
    per_kg = {"axi-cel": 2e6, "brexu-cel": 2e6}
    flat = {"tisa-cel": 3e8, "liso-cel": 1e8, "ide-cel": 4e8, "cilta-cel": 6e7, "obe-cel": 4.1e8}
    dose = np.zeros(weight.size)
    for name, value in per_kg.items():
        dose = np.where(short == name, np.minimum(value * weight, 2e8), dose)
    for name, value in flat.items():
        dose = np.where(short == name, value, dose)
    return np.rint(dose * rng.uniform(0.85, 1.05, weight.size) / 1e5) * 1e5


def _crs_signals(
    rng: np.random.Generator,
    age: IntArray,
    crs: IntArray,
    crs_peak: IntArray,
    icans: IntArray,
) -> dict[str, npt.NDArray[Any]]:
    """Fever, hypotension, vasopressors, oxygen and CRS treatment for each day's CRS grade."""
    n, shape = int(crs.shape[0]), crs.shape
    in_crs, g2plus = crs > 0, crs >= 2
    # Tocilizumab from the first grade >= 2 day, daily while grade >= 2 (at most 4 days), and
    # for grade 1 fever persisting more than 3 days (ASCO 2021; clinical.md §8).
    tocilizumab = g2plus & (np.cumsum(g2plus, axis=1) <= 4)
    tocilizumab |= in_crs & (np.cumsum(in_crs, axis=1) == 4) & (crs_peak[:, None] == 1)
    dexamethasone_crs = crs >= 3
    anti_cytokine = tocilizumab | dexamethasone_crs
    treated_before = (np.cumsum(anti_cytokine, axis=1) - anti_cytokine) > 0
    masked = g2plus & treated_before & (rng.random(shape) < 0.5)
    febrile = in_crs & ~masked
    tmax = np.where(
        febrile,
        np.clip(38.05 + 0.3 * crs + rng.gamma(2.0, 0.25, shape), 38.05, 41.0),
        rng.uniform(36.2, 37.6, shape),
    )
    # Per subject, CRS is hypotension-led (0), hypoxia-led (1) or both at grade 2 (2).
    path = _choice(rng, 3, n, [0.45, 0.4, 0.15])[:, None]
    hypo_tier = np.where(g2plus & (path != 1), crs, 0)
    hypoxia_tier = np.where(g2plus & (path == 1), crs, np.where((crs == 2) & (path == 2), 2, 0))
    pressors = np.where(hypo_tier >= 3, NOREPINEPHRINE, 0)
    with_vasopressin = rng.random(n)[:, None] < 0.2
    pressors = np.where((hypo_tier >= 3) & with_vasopressin, pressors | VASOPRESSIN, pressors)
    second = np.where(rng.random(n) < 0.6, EPINEPHRINE, PHENYLEPHRINE)[:, None]
    pressors = np.where(hypo_tier == 4, pressors | second, pressors)
    # oxygen
    blow_by = (age < 8)[:, None] & (rng.random(n)[:, None] < 0.4)
    device = np.full(shape, O2_NONE)
    flow = np.full(shape, np.nan)
    low = hypoxia_tier == 2
    device = np.where(low, np.where(blow_by, O2_BLOW_BY, O2_NC), device)
    flow = np.where(low & ~blow_by, rng.integers(1, 7, shape), flow)  # 6 L/min is still low flow
    kind3 = _choice(rng, 5, n, [0.5, 0.15, 0.15, 0.1, 0.1])[:, None]
    device3 = np.choose(kind3, [O2_HFNC, O2_FACEMASK, O2_NRB, O2_VENTURI, O2_NC])
    flow3 = np.choose(
        kind3,
        [
            rng.integers(10, 61, shape),
            rng.integers(6, 11, shape),
            rng.integers(10, 16, shape),
            rng.integers(4, 13, shape),
            rng.integers(7, 9, shape),
        ],
    )
    high = hypoxia_tier == 3
    device = np.where(high, device3, device)
    flow = np.where(high, flow3, flow)
    kind4 = _choice(rng, 3, n, [0.4, 0.2, 0.4])[:, None]
    device4 = np.choose(kind4, [O2_BIPAP, O2_CPAP, O2_MV])
    has_icans = np.asarray((icans > 0).any(axis=1))[:, None]
    device4 = np.where(has_icans & (device4 == O2_MV), O2_BIPAP, device4)
    top = hypoxia_tier == 4
    device = np.where(top, device4, device)
    flow = np.where(top, rng.integers(8, 16, shape), flow)
    return {
        "tmax": tmax,
        "fever_other_cause": np.zeros(shape, bool),
        "hypotension": hypo_tier >= 2,
        "pressors": pressors,
        "o2_device": device,
        "o2_flow": flow.astype(np.float64),
        "sedated": device == O2_MV,
        "tocilizumab": tocilizumab,
        "antipyretic": febrile.copy(),
        "dexamethasone": dexamethasone_crs,
        "methylprednisolone": crs >= 4,
        "anakinra": (crs >= 4) & (rng.random(n)[:, None] < 0.5),
    }


def _icans_signals(
    rng: np.random.Generator,
    age: IntArray,
    icans: IntArray,
    sedated: BoolArray,
    cerebral_edema: BoolArray,
) -> dict[str, npt.NDArray[Any]]:
    """ICE/CAPD, consciousness, seizure, motor, oedema and ICP signs for each day's ICANS grade."""
    shape = icans.shape
    child = (age < 12)[:, None]
    edema_allowed = cerebral_edema[:, None]
    ice = np.full(shape, 10.0)
    capd = np.zeros(shape)
    loc = np.full(shape, LOC_ALERT)
    seizure = np.full(shape, SEIZURE_NONE)
    edema = np.full(shape, EDEMA_NONE)
    mild_ice, mild_capd = rng.integers(3, 10, shape), rng.integers(1, 9, shape)
    # grade 1: ICE 7-9 (CAPD 1-8), alert or awakens spontaneously
    g1 = icans == 1
    ice = np.where(g1, rng.integers(7, 10, shape), ice)
    capd = np.where(g1, mild_capd, capd)
    loc = np.where(g1 & (rng.random(shape) < 0.5), LOC_SPONTANEOUS, loc)
    # grade 2: ICE 3-6 awake, or awakens to voice (children: CAPD 1-8 and voice)
    g2 = icans == 2
    by_voice = g2 & (child | (rng.random(shape) < 0.3))
    ice = np.where(g2, np.where(by_voice, mild_ice, rng.integers(3, 7, shape)), ice)
    capd = np.where(g2, mild_capd, capd)
    loc = np.where(by_voice, LOC_VOICE, np.where(g2, LOC_SPONTANEOUS, loc))
    # grade 3: ICE 0-2 awake / CAPD >= 9, tactile arousal, resolving seizure, focal oedema
    g3 = icans == 3
    route3 = np.where(g3, rng.choice(4, size=shape, p=[0.55, 0.25, 0.1, 0.1]), -1)
    route3 = np.where((route3 == 3) & ~edema_allowed, 0, route3)
    ice = np.where(route3 == 0, rng.integers(0, 3, shape), np.where(g3, mild_ice, ice))
    capd = np.where(route3 == 0, rng.integers(9, 25, shape), np.where(g3, mild_capd, capd))
    loc = np.where(route3 == 1, LOC_TACTILE, np.where(g3, LOC_SPONTANEOUS, loc))
    resolving = np.where(rng.random(shape) < 0.7, SEIZURE_RESOLVING, SEIZURE_NONCONVULSIVE)
    seizure = np.where(route3 == 2, resolving, seizure)
    edema = np.where(route3 == 3, EDEMA_FOCAL, edema)
    # grade 4: unarousable, prolonged seizure, deep focal weakness, diffuse oedema + ICP signs
    g4 = icans == 4
    route4 = np.where(g4, rng.choice(4, size=shape, p=[0.55, 0.15, 0.15, 0.15]), -1)
    route4 = np.where((route4 == 3) & ~edema_allowed, 0, route4)
    unarousable = route4 == 0
    ice = np.where(unarousable, 0.0, np.where(g4, rng.integers(0, 7, shape), ice))
    capd = np.where(unarousable, np.nan, np.where(g4, rng.integers(9, 25, shape), capd))
    loc = np.where(unarousable, LOC_UNAROUSABLE, np.where(g4, LOC_VOICE, loc))
    seizure = np.where(route4 == 1, SEIZURE_PROLONGED, seizure)
    edema = np.where(route4 == 3, EDEMA_DIFFUSE, edema)
    # children are scored with CAPD, everyone else with ICE; sedation makes both impossible
    ice = np.where(child | sedated, np.nan, ice)
    capd = np.where(~child | sedated, np.nan, capd)
    loc = np.where(sedated, LOC_UNAROUSABLE, loc)
    first_g2 = (icans >= 2) & (np.cumsum(icans >= 2, axis=1) == 1)
    return {
        "ice": ice,
        "capd": capd,
        "loc": loc,
        "seizure": seizure,
        "motor_weakness": route4 == 2,
        "edema": edema,
        "imaging": first_g2 | (edema > EDEMA_NONE),
        "icp_signs": route4 == 3,
        "dexamethasone_icans": icans >= 2,
        "methylprednisolone_icans": icans >= 4,
    }


CRP_CEILING_MG_L = 500.0
"""Synthetic assumption: CRP never exceeds 500 mg/L. The log-normal model has a tail that
reached 1,275 mg/L in 88 million rows, which the loader rightly rejects as impossible."""


def _baseline_and_inflammation(
    rng: np.random.Generator, c: Courses, inflammation: FloatArray, marrow: FloatArray
) -> None:
    """Baseline labs (day -5, before lymphodepletion) and inflammatory markers on the grid."""
    n, shape = c.n, (c.n, N_GRID)
    child = c.age < 12

    def lognormal(median: float, weight_l: float, sd: float) -> FloatArray:
        draws = np.log(median) + weight_l * inflammation + sd * rng.standard_normal(n)
        return np.asarray(np.exp(draws), dtype=np.float64)

    base = {
        "CRP": np.minimum(lognormal(8.0, 1.0, 0.6), CRP_CEILING_MG_L),
        "FERRITIN": lognormal(500.0, 0.8, 0.5),
        "LDH": lognormal(230.0, 0.35, 0.2),
        "IL6": lognormal(4.0, 0.6, 0.5),
        "CREAT": np.exp(np.log(np.where(child, 0.45, 0.85)) + 0.2 * rng.standard_normal(n)),
        "FIBRINOGEN": np.clip(350 + 60 * inflammation + 50 * rng.standard_normal(n), 150, 800),
        "ALT": np.exp(np.log(22) + 0.4 * rng.standard_normal(n)),
        "AST": np.exp(np.log(24) + 0.35 * rng.standard_normal(n)),
        "BILI": np.exp(np.log(0.5) + 0.3 * rng.standard_normal(n)),
        "TRIG": np.exp(np.log(140) + 0.3 * rng.standard_normal(n)),
        "PLT": np.exp(
            np.log(170) + 0.35 * marrow - 0.15 * inflammation + 0.25 * rng.standard_normal(n)
        ),
        "ANC": np.exp(np.log(2.8) + 0.4 * marrow + 0.3 * rng.standard_normal(n)),
        "HGB": np.clip(11.2 + 1.2 * marrow + 0.8 * rng.standard_normal(n), 6.5, 16.5),
        "BCELL": np.where(c.diagnosis == "B-ALL", rng.uniform(0, 20, n), rng.uniform(20, 200, n)),
    }
    c.params.update({f"baseline_{k}": v for k, v in base.items()})
    crs = c.grid["crs"].astype(np.float64)
    fast, slow = _ema(crs, 0.5), _ema(crs, 0.75)
    above2 = _ema(np.maximum(crs - 2, 0), 0.6)
    noise = rng.lognormal(0.0, 0.12, (8, *shape))
    toci_recent = _ema(c.grid["tocilizumab"].astype(np.float64), 0.5) > 0.2
    lag = np.concatenate([np.zeros((n, 1)), crs[:, :-1]], axis=1)
    c.grid["CRP"] = np.minimum((base["CRP"][:, None] + 35.0 * fast) * noise[0], CRP_CEILING_MG_L)
    c.grid["FERRITIN"] = base["FERRITIN"][:, None] * (1 + 0.6 * slow) * noise[1]
    il6 = base["IL6"][:, None] * np.exp(0.8 * crs + 0.3 * lag) * noise[2]
    c.grid["IL6"] = il6 * np.where(toci_recent, 3.0, 1.0)  # IL-6 rises under IL-6R blockade
    c.grid["LDH"] = base["LDH"][:, None] * (1 + 0.12 * fast) * noise[3]
    c.grid["CREAT"] = base["CREAT"][:, None] * (1 + 0.2 * above2) * noise[4]
    c.grid["FIBRINOGEN"] = np.maximum(
        base["FIBRINOGEN"][:, None] * (1 - 0.1 * np.maximum(crs - 1, 0)) * noise[5], 80
    )
    c.grid["ALT"] = base["ALT"][:, None] * (1 + 0.5 * above2) * noise[6]
    c.grid["AST"] = base["AST"][:, None] * (1 + 0.5 * above2) * noise[7]
    c.grid["BILI"] = base["BILI"][:, None] * (1 + 0.2 * above2)
    c.grid["TRIG"] = np.broadcast_to(base["TRIG"][:, None], shape).copy()


def _hematology(
    rng: np.random.Generator,
    c: Courses,
    u_icaht: FloatArray,
    severe_rate: FloatArray,
    params: CohortParameters,
) -> None:
    """Neutropenia (early ICAHT by days with ANC <= 0.5 x 10^9/L), platelets, haemoglobin.

    Early ICAHT (clinical.md §4.2, [C2]) counts days with ANC <= 500/µL in days 0-30: grade 3 is
    14-30 days (or >= 7 days <= 100/µL), grade 4 no recovery. Severe ICAHT happens at the arm's
    rate; the neutropenic days form one block so the count is unambiguous.
    """
    n = c.n
    severe = u_icaht > 1.0 - severe_rate
    start = rng.integers(0, 3, n)
    never_recovers = severe & (rng.random(n) < 0.25)
    mild_days = np.choose(
        _choice(rng, 3, n, [0.1, 0.45, 0.45]),
        [np.zeros(n, np.int64), rng.integers(1, 7, n), rng.integers(7, 14, n)],
    )
    severe_days = np.where(
        never_recovers, rng.integers(31, 61, n) - start, rng.integers(14, 31, n) - start
    )
    severe_days = np.maximum(severe_days, 14)
    days = np.where(severe, severe_days, mild_days)
    profound = np.where(severe, rng.integers(0, days + 1), np.minimum(days, rng.integers(0, 7, n)))
    late = rng.random(n) < params.events["late_neutropenia"]
    c.params.update(
        {
            "anc_start": start.astype(np.float64),
            "anc_days": days.astype(np.float64),
            "anc_profound": profound.astype(np.float64),
            "anc_recovered": c.params["baseline_ANC"] * rng.uniform(0.6, 1.1, n) + 0.6,
            "anc_late": np.where(late, np.where(rng.random(n) < 1 / 3, 0.35, 1.0), np.nan),
            "plt_nadir": np.where(severe, rng.uniform(0.04, 0.15, n), rng.uniform(0.2, 0.6, n)),
            "plt_nadir_day": rng.integers(7, 11, n).astype(np.float64),
            "plt_tau": np.where(severe, rng.uniform(25, 60, n), rng.uniform(8, 20, n)),
            "hgb_drop": rng.uniform(1.5, 3.5, n),
        }
    )
    days_grid = np.broadcast_to(GRID_DAYS, (n, N_GRID))
    c.grid["ANC"] = anc_curve(c.params, days_grid, rng)
    c.grid["PLT"] = plt_curve(c.params, days_grid, rng)
    c.grid["HGB"] = hgb_curve(c.params, days_grid, rng)


def anc_curve(p: dict[str, FloatArray], days: IntArray, rng: np.random.Generator) -> FloatArray:
    """ANC (10^9/L) on ``days`` (shape ``(n, k)``) for subjects with parameters ``p``: one
    neutropenic block, then recovery."""
    base, start = p["baseline_ANC"][:, None], p["anc_start"][:, None]
    block_end = start + p["anc_days"][:, None]  # first day above 0.5
    profound_end = start + p["anc_profound"][:, None]
    t = days.astype(np.float64)
    before = np.maximum(base * 0.7 ** np.clip(t + 5, 0, None), 0.55 + 0.3 * rng.random(t.shape))
    in_block = (t >= start) & (t < block_end)
    nadir = np.where(
        t < profound_end, rng.uniform(0.01, 0.1, t.shape), rng.uniform(0.12, 0.48, t.shape)
    )
    recovered = p["anc_recovered"][:, None]
    recovery = recovered - (recovered - 0.7) * np.exp(-(t - block_end) / 4.0)
    recovery = recovery * rng.lognormal(0, 0.1, t.shape)
    recovery = np.maximum(recovery, 0.55)
    late = p["anc_late"][:, None]
    late_window = (t >= 42) & (t <= 90) & ~np.isnan(late)
    recovery = np.where(late_window, late * rng.uniform(0.8, 1.4, t.shape), recovery)
    value = np.where(t < start, before, np.where(in_block, nadir, recovery))
    value = np.where(t < -4, base, value)
    return np.asarray(np.round(value, 2), dtype=np.float64)


def plt_curve(p: dict[str, FloatArray], days: IntArray, rng: np.random.Generator) -> FloatArray:
    """Platelets (10^9/L): fall after lymphodepletion to a nadir, then recover."""
    base = p["baseline_PLT"][:, None]
    nadir, nadir_day, tau = (p[k][:, None] for k in ("plt_nadir", "plt_nadir_day", "plt_tau"))
    t = days.astype(np.float64)
    falling = base * (1 - (1 - nadir) * np.clip((t + 3) / (nadir_day + 3), 0, 1))
    rising = base * (1 - (1 - nadir) * np.exp(-(t - nadir_day) / tau))
    value = np.where(t <= nadir_day, falling, rising) * rng.lognormal(0, 0.08, t.shape)
    return np.asarray(np.maximum(np.round(value), 2.0), dtype=np.float64)


def hgb_curve(p: dict[str, FloatArray], days: IntArray, rng: np.random.Generator) -> FloatArray:
    """Haemoglobin (g/dL): a dip around day 10-14, recovering over about two months."""
    t = days.astype(np.float64)
    dip = p["hgb_drop"][:, None] * np.exp(-(((t - 12) / 12) ** 2)) * (t >= -3)
    slow = p["hgb_drop"][:, None] * 0.5 * np.exp(-np.clip(t - 12, 0, None) / 40) * (t > 12)
    value = p["baseline_HGB"][:, None] - np.maximum(dip, slow) + rng.normal(0, 0.2, t.shape)
    return np.asarray(np.round(np.clip(value, 5.0, 18.0), 1), dtype=np.float64)


def _infections_and_late_events(
    rng: np.random.Generator, c: Courses, arms: tuple[Arm, ...], params: CohortParameters
) -> None:
    """Grade >= 3 infections at the arm's rate; second malignancies; cilta-cel CNP and MNT."""
    n = c.n
    rate = _per_arm(arms, c.arm, "infection_grade3plus")
    infected = rng.random(n) < rate
    early = rng.random(n) < 0.5
    day = np.where(early, rng.integers(5, 31, n), rng.integers(31, 366, n))
    death_share = params.events["infection_death_share"]
    grade = rng.choice([3, 4, 5], size=n, p=[0.76 - death_share, 0.24, death_share])
    c.infection_day = np.where(infected, day, NEVER)
    c.infection_grade = np.where(infected, grade, 0)
    c.infection_term = rng.integers(0, len(INFECTION_TERMS), n)
    # fever attributed to the infection on its first two days (outside any CRS episode)
    fever_days = (GRID_DAYS[None, :] >= c.infection_day[:, None]) & (
        GRID_DAYS[None, :] < c.infection_day[:, None] + 2
    )
    fever_days &= c.grid["crs"] == 0
    c.grid["tmax"] = np.where(fever_days, rng.uniform(38.2, 39.6, (n, N_GRID)), c.grid["tmax"])
    c.grid["fever_other_cause"] = fever_days
    # late events, at most one per subject
    cnp = _per_arm(arms, c.arm, "cranial_nerve_palsy")
    mnt = _per_arm(arms, c.arm, "movement_neurocognitive_toxicity")
    ev = params.events
    u = rng.random(n)
    kind = np.select(
        [
            u < ev["t_cell_malignancy"],
            u < ev["t_cell_malignancy"] + ev["secondary_myeloid_neoplasm"],
            rng.random(n) < cnp,
            rng.random(n) < mnt,
        ],
        [LATE_T_CELL, LATE_MYELOID, LATE_CNP, LATE_MNT],
        LATE_NONE,
    )
    when = np.select(
        [kind == LATE_T_CELL, kind == LATE_MYELOID, kind == LATE_CNP, kind == LATE_MNT],
        [
            rng.integers(60, 731, n),
            rng.integers(180, 731, n),
            np.clip(np.rint(rng.lognormal(np.log(21), 0.35, n)), 10, 60),
            np.clip(np.rint(rng.lognormal(np.log(27), 0.4, n)), 14, 100),
        ],
        NEVER,
    ).astype(np.int64)
    c.late_event, c.late_event_day = kind.astype(np.int64), when


def _iec_hs(rng: np.random.Generator, c: Courses, params: CohortParameters) -> None:
    """IEC-HS after CRS resolves: ferritin surge, low fibrinogen, transaminitis, cytopenias.

    The signature follows the proposed (not confirmed) criteria of clinical.md §4.1; the rate
    is a synthetic assumption. No fever is written, so CRS grading is not disturbed.
    """
    n = c.n
    eligible = (c.crs_peak >= 1) & (c.crs_peak < 5) & (c.crs_end <= 22)
    hit = eligible & (rng.random(n) < params.events["iec_hs_share_of_crs"])
    onset = np.where(hit, c.crs_end + rng.integers(2, 7, n), NEVER)
    end = np.where(hit, np.minimum(onset + rng.integers(5, 11, n), GRID_LAST_DAY), NEVER)
    c.iec_hs_onset, c.iec_hs_end = onset, end
    c.iec_hs_grade = np.where(hit, rng.choice([2, 3, 4], size=n, p=[0.5, 0.4, 0.1]), 0)
    days = GRID_DAYS[None, :]
    active = (days >= onset[:, None]) & (days <= end[:, None])
    shape = (n, N_GRID)
    ramp = np.clip((days - onset[:, None] + 1) / 3, 0, 1)
    g = c.grid
    g["FERRITIN"] = np.where(
        active,
        np.maximum(g["FERRITIN"], c.params["baseline_FERRITIN"][:, None] * (4 + 26 * ramp)),
        g["FERRITIN"],
    )
    g["FIBRINOGEN"] = np.where(active, rng.uniform(70, 140, shape), g["FIBRINOGEN"])
    g["ALT"] = np.where(active, rng.uniform(250, 700, shape), g["ALT"])
    g["AST"] = np.where(active, rng.uniform(250, 800, shape), g["AST"])
    g["TRIG"] = np.where(active, rng.uniform(300, 520, shape), g["TRIG"])
    g["LDH"] = np.where(active, g["LDH"] * 2.5, g["LDH"])
    g["PLT"] = np.where(active, np.maximum(np.round(g["PLT"] * 0.4), 2), g["PLT"])
    g["anakinra"] = g["anakinra"] | active
    g["dexamethasone"] = g["dexamethasone"] | active  # with anakinra


def _disease_course(rng: np.random.Generator, c: Courses, params: CohortParameters) -> None:
    """Response at day 28, relapse or progression, relapse antigen phenotype, CAR persistence,
    B-cell aplasia and MRD (synthetic; relapse phenotype shares cited in the parameter set)."""
    n = c.n
    for name, course in params.diseases.items():
        rows = np.flatnonzero(c.diagnosis == name)
        if rows.size == 0:
            continue
        labels = list(course.response)
        probs = np.array([course.response[k] for k in labels])
        c.response[rows] = np.array(labels, dtype=object)[
            rng.choice(len(labels), size=rows.size, p=probs / probs.sum())
        ]
        p2y = np.array([course.relapse_2y.get(str(r), 0.0) for r in c.response[rows]])
        rate = -np.log1p(-np.minimum(p2y, 0.999)) / (730 - 45)
        waiting = rng.exponential(1.0, rows.size) / np.where(rate > 0, rate, np.inf)
        relapse = np.where(rate > 0, 45 + np.rint(waiting), NEVER)
        relapse = np.where(c.response[rows] == "PD", 28, relapse)
        c.relapse_day[rows] = relapse
        phenotypes = list(course.antigen)
        pp = np.array([course.antigen[k] for k in phenotypes])
        status = np.array(phenotypes, dtype=object)[
            rng.choice(len(phenotypes), size=rows.size, p=pp / pp.sum())
        ]
        c.antigen_status[rows] = np.where(relapse < NEVER, status, "")
    c.antigen_status = np.where(c.response == "PD", "", c.antigen_status)
    # CAR persistence: shorter with CD28 than 4-1BB (synthetic medians 150 vs 365 days)
    cd28 = c.costim == "CD28"
    persistence = np.where(
        cd28, rng.lognormal(np.log(150), 0.6, n), rng.lognormal(np.log(365), 0.6, n)
    )
    car_loss = np.maximum(np.rint(persistence), 30).astype(np.int64)
    relapsed = (c.relapse_day < NEVER) & (c.response != "PD")
    escape = np.isin(c.antigen_status, ["negative", "lineage_switch"])
    # antigen-positive relapse follows loss of CAR and of B-cell aplasia; antigen-negative
    # escape happens with persisting CAR and aplasia (clinical.md §6.1, Dourthe 2021, Pulsipher
    # 2022)
    car_loss = np.where(
        relapsed & ~escape,
        np.maximum(np.minimum(car_loss, c.relapse_day - rng.integers(60, 121, n)), 21),
        car_loss,
    )
    car_loss = np.where(relapsed & escape, np.maximum(car_loss, c.relapse_day + 90), car_loss)
    c.car_loss_day = car_loss
    c.bcell_recovery_day = np.where(c.target == "CD19", car_loss + rng.integers(20, 41, n), 60)
    c.car_peak_day = rng.integers(7, 15, n)
    c.car_peak = 10 ** rng.uniform(4.0, 5.5, n) * np.where(cd28, 2.0, 1.0)
    risky = np.select([relapsed & escape, relapsed], [0.6, 0.3], 0.05)
    c.mrd_day28_positive = (c.diagnosis == "B-ALL") & (
        (c.response == "PD") | (rng.random(n) < risky)
    )
    # myeloma markers: baseline, nadir by response, rise at progression
    c.params["mprotein_baseline"] = np.clip(rng.lognormal(np.log(2.0), 0.5, n), 0.5, 6.0)
    factor = np.select(
        [c.response == "CR", c.response == "PR", c.response == "SD"],
        [np.zeros(n), rng.uniform(0.1, 0.5, n), rng.uniform(0.6, 0.9, n)],
        rng.uniform(1.3, 1.8, n),
    )
    c.params["mprotein_nadir"] = c.params["mprotein_baseline"] * factor
    c.params["sbcma_baseline"] = rng.lognormal(np.log(200), 0.6, n)


def _deaths_and_discharge(rng: np.random.Generator, c: Courses, toxic_death: IntArray) -> None:
    """Death day and cause (toxicity, infection, progression) and discharge from hospital."""
    n = c.n
    infection_death = np.where(
        c.infection_grade == 5, c.infection_day + rng.integers(2, 15, n), NEVER
    )
    median = np.where(c.antigen_status == "lineage_switch", 90.0, 180.0)
    after = np.rint(rng.exponential(median / np.log(2), n)).astype(np.int64)
    after = np.maximum(after, np.where(c.diagnosis == "MM", 35, 7))  # myeloma PD is confirmed first
    progression_death = np.where(c.relapse_day < NEVER, c.relapse_day + after, NEVER)
    candidates = np.stack([toxic_death, infection_death, progression_death])
    causes = np.array(["", "infection", "disease progression"], dtype=object)
    first = np.argmin(candidates, axis=0)
    death = candidates[first, np.arange(n)]
    cause = causes[first]
    toxic_cause = np.where(
        c.crs_peak == 5,
        "cytokine release syndrome",
        "immune effector cell-associated neurotoxicity syndrome",
    )
    cause = np.where(first == 0, toxic_cause, cause)
    observed = death <= c.follow_up_end
    c.death_day = np.where(observed, death, NEVER)
    c.death_cause = np.where(observed, cause, "")
    # events after death or after the end of follow-up are not observed
    c.relapse_day = np.where(c.relapse_day <= c.last_day, c.relapse_day, NEVER)
    c.antigen_status = np.where(c.relapse_day < NEVER, c.antigen_status, "")
    c.response = np.where(c.last_day >= 28, c.response, "")
    c.relapse_day = np.where(c.response == "", NEVER, c.relapse_day)
    for name in ("infection", "late_event"):
        day = getattr(c, f"{name}_day")
        keep = day <= c.last_day
        setattr(c, f"{name}_day", np.where(keep, day, NEVER))
    c.infection_grade = np.where(c.infection_day < NEVER, c.infection_grade, 0)
    c.late_event = np.where(c.late_event_day < NEVER, c.late_event, LATE_NONE)
    stay = np.maximum.reduce(
        [
            np.full(n, MIN_DISCHARGE_DAY),
            np.where(c.crs_end < NEVER, c.crs_end + 2, 0),
            np.where(c.icans_end < NEVER, c.icans_end + 2, 0),
            np.where(c.iec_hs_end < NEVER, c.iec_hs_end + 2, 0),
        ]
    )
    c.discharge_day = np.minimum(np.minimum(stay, GRID_LAST_DAY), c.last_day)
