"""Parameters of the synthetic cohort: the TOML parameter set resolved against the reference table.

Every arm (product and diagnosis) gets its incidence, onset and duration figures from
``pv_monitor/reference/pivotal_trial_rates_v1.csv`` where the table has them, and from the
parameter set's ``assumed`` values otherwise. :attr:`Arm.sources` records, for every figure,
which it was, so tests and documentation can say what the cohort was given.

Examples
--------
>>> params = load_parameters()
>>> arm = params.arm("axi-cel/LBCL")
>>> arm.crs_any, arm.crs_grade3plus, arm.crs_onset_day
(0.94, 0.13, DayDistribution(median=2.0, low=1.0, high=12.0))
>>> arm.sources["crs_any"]
'ZUMA-1 (label Study 1) [C]'
>>> arm.sources["neuro_duration_days"]
'synthetic assumption'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib.resources import files
from typing import Any, NamedTuple

import pandas as pd

from pv_monitor.reference import Product, find_product, load_pivotal_rates

PARAMETER_SET_VERSION = "1"
RATE_METRICS = (
    "crs_any",
    "crs_grade3plus",
    "neuro_any",
    "neuro_grade3plus",
    "infection_grade3plus",
    "severe_icaht",
)
DAY_METRICS = ("crs_onset_day", "crs_duration_days", "neuro_onset_day", "neuro_duration_days")
OPTIONAL_RATE_METRICS = ("cranial_nerve_palsy", "movement_neurocognitive_toxicity")
ASSUMPTION = "synthetic assumption"


class DayDistribution(NamedTuple):
    """A median number of days with the range the draws are kept in."""

    median: float
    low: float
    high: float


@dataclass(frozen=True)
class Arm:
    """One product and diagnosis of the synthetic cohort with everything it was given."""

    key: str
    product: Product
    diagnosis: str
    share: float
    age: DayDistribution
    crs_any: float
    crs_grade3plus: float
    neuro_any: float
    neuro_grade3plus: float
    infection_grade3plus: float
    severe_icaht: float
    crs_onset_day: DayDistribution
    crs_duration_days: DayDistribution
    neuro_onset_day: DayDistribution
    neuro_duration_days: DayDistribution
    cranial_nerve_palsy: float = 0.0
    movement_neurocognitive_toxicity: float = 0.0
    max_icans_grade: int = 5
    cerebral_edema: bool = True
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DiseaseCourse:
    """Response, relapse and relapse antigen phenotype of one diagnosis (synthetic)."""

    response: dict[str, float]
    relapse_2y: dict[str, float]
    antigen: dict[str, float]


@dataclass(frozen=True)
class CohortParameters:
    """The resolved parameter set."""

    version: str
    study_id: str
    sites: int
    infusion_first: date
    infusion_last: date
    data_cut: date
    follow_up_days: int
    grades: dict[str, float]
    events: dict[str, float]
    arms: tuple[Arm, ...]
    diseases: dict[str, DiseaseCourse]

    def arm(self, key: str) -> Arm:
        """The arm with ``key`` (e.g. ``"axi-cel/LBCL"``)."""
        for arm in self.arms:
            if arm.key == key:
                return arm
        raise KeyError(key)


def _reference_figure(
    rates: pd.DataFrame, arm: dict[str, Any], metric: str
) -> tuple[pd.Series, str] | None:
    """The reference row for ``metric``: same trial and population, else same trial, else (for
    severe ICAHT) the diagnosis-level row."""
    candidates = [
        (rates.trial == arm["trial"]) & (rates.population == arm["population"]),
        rates.trial == arm["trial"],
    ]
    if metric == "severe_icaht":
        candidates.append(rates["product"].isna() & (rates.indication == arm["diagnosis"]))
    for where in candidates:
        rows = rates[where & (rates.metric == metric)]
        if len(rows):
            row = rows.iloc[0]
            return row, f"{row.trial} ({row.population}) [{row.evidence}]"
    return None


def _day_distribution(row: pd.Series, range_factor: float) -> DayDistribution:
    median = float(row.value)
    low = float(row.low) if pd.notna(row.low) else max(1.0, median / range_factor)
    high = float(row.high) if pd.notna(row.high) else median * range_factor
    return DayDistribution(median, low, high)


def _resolve_arm(raw: dict[str, Any], rates: pd.DataFrame, range_factor: float) -> Arm:
    product = find_product(raw["product"])
    if product is None:
        raise ValueError(f"arm {raw['key']}: unknown product {raw['product']!r}")
    assumed = raw.get("assumed", {})
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for metric in (*RATE_METRICS, *DAY_METRICS, *OPTIONAL_RATE_METRICS):
        if metric in assumed:
            value = assumed[metric]
            values[metric] = DayDistribution(*map(float, value)) if metric in DAY_METRICS else value
            sources[metric] = ASSUMPTION
            continue
        found = _reference_figure(rates, raw, metric)
        if found is None:
            if metric in OPTIONAL_RATE_METRICS:
                continue
            raise ValueError(f"arm {raw['key']}: no reference figure or assumption for {metric}")
        row, source = found
        is_day = metric in DAY_METRICS
        values[metric] = _day_distribution(row, range_factor) if is_day else float(row.value)
        sources[metric] = source
    return Arm(
        key=raw["key"],
        product=product,
        diagnosis=raw["diagnosis"],
        share=float(raw["share"]),
        age=DayDistribution(*map(float, raw["age"])),
        max_icans_grade=int(raw.get("max_icans_grade", 5)),
        cerebral_edema=bool(raw.get("cerebral_edema", True)),
        sources=sources,
        **values,
    )


def load_parameters(version: str = PARAMETER_SET_VERSION) -> CohortParameters:
    """Read parameter set ``version`` and resolve it against the pivotal-trial rate table."""
    resource = files("pv_monitor.synthetic").joinpath(f"cohort_v{version}.toml")
    raw = tomllib.loads(resource.read_text(encoding="utf-8"))
    rates = load_pivotal_rates()
    arms = tuple(_resolve_arm(arm, rates, float(raw["default_range_factor"])) for arm in raw["arm"])
    total = sum(arm.share for arm in arms)
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"arm shares sum to {total}, not 1")
    diseases = {name: DiseaseCourse(**course) for name, course in raw["disease"].items()}
    missing = {arm.diagnosis for arm in arms} - set(diseases)
    if missing:
        raise ValueError(f"no disease course for {sorted(missing)}")
    return CohortParameters(
        version=str(raw["version"]),
        study_id=raw["study_id"],
        sites=int(raw["sites"]),
        infusion_first=date.fromisoformat(raw["infusion_first"]),
        infusion_last=date.fromisoformat(raw["infusion_last"]),
        data_cut=date.fromisoformat(raw["data_cut"]),
        follow_up_days=int(raw["follow_up_days"]),
        grades=dict(raw["grades"]),
        events=dict(raw["events"]),
        arms=arms,
        diseases=diseases,
    )
