"""The alert rule catalogue: declared rules, each a pure predicate over the derived frames.

A rule has an id, a version, a syndrome, a rationale citing its source, and a predicate that
returns **candidates**: one row per subject and *episode key* (what one alert is about: a CRS
episode, an infusion's screen, a reported event), with a ``level`` that orders escalation, a
severity, a title a clinician reads in the queue, and the evidence (values, days, reasons) that
made it fire. The engine (:mod:`pv_monitor.alerts.engine`) turns candidates into alerts.

Severities: ``info`` < ``warning`` < ``high`` < ``critical``; escalation (a higher ``level`` for
the same episode key) raises the alert again, never a second alert.

Examples
--------
>>> [rule.rule_id for rule in RULES][:4]
['crs', 'icans', 'icans_sedated', 'crs_fever_persisting']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pv_monitor.grading.criteria import contains, load_criteria
from pv_monitor.grading.crs import CRS_CRITERIA
from pv_monitor.relapse.markers import relapse_signals

CANDIDATE_COLUMNS = (
    "subject_id",
    "infusion_id",
    "rule_id",
    "rule_version",
    "severity",
    "syndrome",
    "episode_key",
    "study_day",
    "level",
    "title",
    "evidence",
)
BOXED_WARNING = (
    "FDA boxed warning (18 April 2024) for all BCMA- and CD19-directed autologous CAR-T: T-cell "
    "malignancies, including CAR-positive lymphoma, can present as soon as weeks after infusion "
    "and may be fatal; monitor life-long for new malignancies and, if one occurs, contact the "
    "manufacturer to test the tumour for the CAR transgene (clinical.md §7.3)."
)
SECONDARY_MALIGNANCY_TERMS = (
    "t-cell lymphoma",
    "t-cell malignancy",
    "car-positive lymphoma",
    "myelodysplastic syndrome",
    "acute myeloid leukaemia",
    "acute myeloid leukemia",
    "secondary malignancy",
    "second primary malignancy",
    "myeloid neoplasm",
)
BCMA_LATE_NEURO_TERMS = (
    "facial paralysis",
    "cranial nerve palsy",
    "facial nerve disorder",
    "bell's palsy",
    "parkinsonism",
    "movement and neurocognitive toxicity",
    "guillain-barre syndrome",
)


@dataclass(frozen=True)
class DerivedFrames:
    """What the rules read, for the subjects being evaluated.

    Attributes
    ----------
    daily : DataFrame
        Day rows: ``subject_id, infusion_id, study_day, temp_c_max, sedated, crs_grade,
        crs_reason, icans_grade, icans_reason, icans_provisional``.
    episodes : DataFrame
        ``toxicity_episode`` rows.
    scores : DataFrame
        ``risk_score`` rows (``inputs`` as dicts).
    course_grades : DataFrame
        ICAHT grades: ``subject_id, infusion_id, study_day, criteria_version, grade, reason``.
    adverse_events : DataFrame
        ``subject_id, infusion_id, term, onset_day, reported_grade, grading_scale``.
    infusions : DataFrame
        ``subject_id, infusion_id, product, target_antigen``.
    reconciliation : DataFrame
        :func:`pv_monitor.grading.reconcile.reconcile` output with ``subject_id`` and
        ``infusion_id`` added.
    markers : DataFrame
        ``subject_id, code, at, value, unit`` of B cells, CAR transgene and M-protein.
    assessments : DataFrame
        ``subject_id, assessed_on, response, is_relapse, mrd_fraction, antigen_status``.
    """

    daily: pd.DataFrame
    episodes: pd.DataFrame
    scores: pd.DataFrame
    course_grades: pd.DataFrame
    adverse_events: pd.DataFrame
    infusions: pd.DataFrame
    reconciliation: pd.DataFrame
    markers: pd.DataFrame = field(default_factory=pd.DataFrame)
    assessments: pd.DataFrame = field(default_factory=pd.DataFrame)


Predicate = Callable[[DerivedFrames], pd.DataFrame]


@dataclass(frozen=True)
class Rule:
    """One alert rule.

    Attributes
    ----------
    rule_id, version : str
        Stored with every alert; a new version of the logic gets a new version string.
    syndrome : str
        ``crs``, ``icans``, ``iec_hs``, ``icaht``, ``relapse`` or ``other``.
    rationale : str
        Why the rule exists, with its source (shown beside the alert).
    predicate : callable
        ``DerivedFrames -> DataFrame`` of candidates (columns :data:`CANDIDATE_COLUMNS` but
        ``rule_id``, ``rule_version`` and ``syndrome``, which the rule adds).
    """

    rule_id: str
    version: str
    syndrome: str
    rationale: str
    predicate: Predicate = field(repr=False)

    def candidates(self, frames: DerivedFrames) -> pd.DataFrame:
        """The predicate's candidates, labelled with this rule."""
        found = self.predicate(frames)
        if found.empty:
            return pd.DataFrame(columns=list(CANDIDATE_COLUMNS))
        found = found.assign(
            rule_id=self.rule_id, rule_version=self.version, syndrome=self.syndrome
        )
        return found[list(CANDIDATE_COLUMNS)]


def _rows(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    return frame.assign(**columns)


def _episode_severity(grade: pd.Series) -> np.ndarray:
    return np.select([grade >= 3, grade >= 2], ["critical", "high"], "warning")


def _episodes(syndrome: str, name: str) -> Predicate:
    """One alert per episode; its level is the episode's peak grade (escalation re-raises it)."""

    def predicate(frames: DerivedFrames) -> pd.DataFrame:
        episodes = frames.episodes[frames.episodes["syndrome"] == syndrome]
        if episodes.empty:
            return pd.DataFrame()
        days = frames.daily[["infusion_id", "study_day", f"{syndrome}_grade", f"{syndrome}_reason"]]
        evidence = []
        for ep in episodes.to_dict("records"):
            end = ep["resolution_day"] if not pd.isna(ep["resolution_day"]) else np.inf
            span = days[
                (days["infusion_id"] == ep["infusion_id"])
                & days["study_day"].between(ep["onset_day"], end)
            ]
            evidence.append(
                {
                    "onset_day": int(ep["onset_day"]),
                    "peak_grade": int(ep["peak_grade"]),
                    "peak_day": int(ep["peak_day"]),
                    "resolution_day": None if end == np.inf else int(end),
                    "treatments": ep["treatments"],
                    "criteria_version": ep["criteria_version"],
                    "days": [
                        {"day": int(d), "grade": None if pd.isna(g) else int(g), "reason": r}
                        for d, g, r in zip(
                            span["study_day"],
                            span[f"{syndrome}_grade"],
                            span[f"{syndrome}_reason"],
                            strict=True,
                        )
                    ],
                }
            )
        peak = episodes["peak_grade"].astype(int)
        return _rows(
            episodes[["subject_id", "infusion_id"]],
            severity=_episode_severity(peak),
            episode_key=[
                f"{syndrome}:{i}:{n}"
                for i, n in zip(episodes["infusion_id"], episodes["episode_number"], strict=True)
            ],
            study_day=episodes["peak_day"].astype(int),
            level=peak,
            title=[
                f"{name} grade {g} (ASTCT 2019) from day {d}"
                for g, d in zip(peak, episodes["onset_day"], strict=True)
            ],
            evidence=evidence,
        )

    return predicate


def _runs(days: pd.Series) -> pd.Series:
    """Run number of consecutive days (a new run starts after a gap)."""
    return (days.diff() != 1).cumsum()


def _icans_sedated(frames: DerivedFrames) -> pd.DataFrame:
    daily = frames.daily
    sedated = daily[daily["sedated"].fillna(False).astype(bool) & daily["icans_provisional"]]
    if sedated.empty:
        return pd.DataFrame()
    sedated = sedated.assign(run=sedated.groupby("infusion_id")["study_day"].transform(_runs))
    first = sedated.sort_values("study_day").drop_duplicates(["infusion_id", "run"])
    return _rows(
        first[["subject_id", "infusion_id"]],
        severity="warning",
        episode_key=[
            f"icans_sedated:{i}:{d}"
            for i, d in zip(first["infusion_id"], first["study_day"], strict=True)
        ],
        study_day=first["study_day"].astype(int),
        level=0,
        title=[
            f"ICANS not gradable under sedation from day {d}: re-assess off sedation"
            for d in first["study_day"]
        ],
        evidence=[
            {"day": int(d), "icans_grade": None if pd.isna(g) else int(g), "reason": r}
            for d, g, r in zip(
                first["study_day"], first["icans_grade"], first["icans_reason"], strict=True
            )
        ],
    )


FEVER_DAYS = 3


def _crs_fever_persisting(frames: DerivedFrames) -> pd.DataFrame:
    episodes = frames.episodes[frames.episodes["syndrome"] == "crs"]
    fever = load_criteria(CRS_CRITERIA).interval("fever", "temperature_c")
    daily = frames.daily[contains(fever, frames.daily["temp_c_max"].to_numpy(dtype=float))]
    found = []
    for ep in episodes.to_dict("records"):
        end = ep["resolution_day"] if not pd.isna(ep["resolution_day"]) else np.inf
        fever = daily[
            (daily["infusion_id"] == ep["infusion_id"])
            & daily["study_day"].between(ep["onset_day"], end)
        ]
        if len(fever) <= FEVER_DAYS:
            continue
        runs = fever.assign(run=_runs(fever["study_day"]))
        longest = runs.groupby("run").filter(lambda r: len(r) > FEVER_DAYS)
        if longest.empty:
            continue
        day = int(longest["study_day"].iloc[FEVER_DAYS])
        found.append(
            {
                "subject_id": ep["subject_id"],
                "infusion_id": ep["infusion_id"],
                "severity": "high",
                "episode_key": f"crs_fever:{ep['infusion_id']}:{ep['episode_number']}",
                "study_day": day,
                "level": 0,
                "title": f"CRS fever persisting more than {FEVER_DAYS} days (day {day}): "
                "manage as grade 2 (ASCO 2021)",
                "evidence": {
                    "febrile_days": [
                        {"day": int(d), "temp_c_max": float(t)}
                        for d, t in zip(longest["study_day"], longest["temp_c_max"], strict=True)
                    ]
                },
            }
        )
    return pd.DataFrame(found)


_SCORE_TITLES = {
    ("easix", "pre_lymphodepletion"): "EASIX before lymphodepletion above 4.67: high risk of "
    "grade >= 3 CRS and/or ICANS (Korell 2022)",
    ("car_hematotox", "pre_lymphodepletion"): "CAR-HEMATOTOX high: risk of prolonged severe "
    "neutropenia (Rejeski 2021; cut-offs [UNCONFIRMED])",
    ("early_neurotoxicity", "first_36_hours"): "Fever >= 38.9 C, IL-6 >= 16 and MCP-1 >= 1343.5 "
    "pg/mL within 36 h: high risk of grade 4-5 neurotoxicity (Gust 2017)",
}


def _high_scores(frames: DerivedFrames) -> pd.DataFrame:
    scores = frames.scores
    keys = list(zip(scores["score"], scores["timepoint"], strict=True))
    known = np.array([k in _SCORE_TITLES for k in keys], dtype=bool)
    high = scores[known & (scores["category"] == "high").to_numpy(dtype=bool)]
    if high.empty:
        return pd.DataFrame()
    return _rows(
        high[["subject_id", "infusion_id"]],
        severity="warning",
        episode_key=[
            f"score:{s}:{i}" for s, i in zip(high["score"], high["infusion_id"], strict=True)
        ],
        study_day=high["study_day"],
        level=0,
        title=[
            _SCORE_TITLES[(s, t)] for s, t in zip(high["score"], high["timepoint"], strict=True)
        ],
        evidence=[
            {"score": s, "value": v, "inputs": i, "reason": r}
            for s, v, i, r in zip(
                high["score"], high["value"], high["inputs"], high["reason"], strict=True
            )
        ],
    )


_MODEL_OUTCOMES = {"crs": "grade >= 3 CRS", "icans": "grade >= 3 ICANS"}


def _model_risk(syndrome: str) -> Predicate:
    """Predictions of a trained model (``score_version`` ``model...``) that the run categorised
    ``high``: the model reached the site's minimum AUROC and the probability its alert
    threshold (:func:`pv_monitor.risk.models.predictions`)."""

    def predicate(frames: DerivedFrames) -> pd.DataFrame:
        scores = frames.scores
        high = scores[
            scores["score_version"].astype(str).str.startswith("model")
            & scores["score"].astype(str).str.startswith(f"{syndrome}_")
            & (scores["category"] == "high")
        ]
        if high.empty:
            return pd.DataFrame()
        return _rows(
            high[["subject_id", "infusion_id"]],
            severity="warning",
            episode_key=[
                f"model:{s}:{i}" for s, i in zip(high["score"], high["infusion_id"], strict=True)
            ],
            study_day=high["study_day"],
            level=0,
            title=[
                f"Trained model: {v:.0%} predicted risk of {_MODEL_OUTCOMES[syndrome]} by day "
                f"{int(d)}, at or above the site's alert threshold"
                for v, d in zip(high["value"], high["study_day"], strict=True)
            ],
            evidence=[
                {"score": s, "model_version": m, "value": v, "inputs": i, "reason": r}
                for s, m, v, i, r in zip(
                    high["score"],
                    high["score_version"],
                    high["value"],
                    high["inputs"],
                    high["reason"],
                    strict=True,
                )
            ],
        )

    return predicate


def _iec_hs(frames: DerivedFrames) -> pd.DataFrame:
    scores = frames.scores
    positive = scores[(scores["score"] == "iec_hs_screen") & (scores["category"] == "positive")]
    if positive.empty:
        return pd.DataFrame()
    strong = positive["reason"].str.contains("ALT|AST|fibrinogen", regex=True)
    return _rows(
        positive[["subject_id", "infusion_id"]],
        severity=np.where(strong, "high", "warning"),
        episode_key=[f"iec_hs:{i}" for i in positive["infusion_id"]],
        study_day=positive["study_day"],
        level=strong.astype(int),
        title=[
            f"IEC-HS screen positive on day {int(d)} (a screen, not a diagnosis)"
            for d in positive["study_day"]
        ],
        evidence=[
            {"inputs": i, "reason": r}
            for i, r in zip(positive["inputs"], positive["reason"], strict=True)
        ],
    )


_ICAHT_WINDOWS = {"early_anc": "neutropenia, days 0-30", "late_anc": "neutropenia after day 30"}


def _icaht(frames: DerivedFrames) -> pd.DataFrame:
    grades = frames.course_grades
    severe = grades[grades["criteria_version"].str.contains("_anc") & (grades["grade"] >= 3)]
    if severe.empty:
        return pd.DataFrame()
    part = severe["criteria_version"].str.split(":").str[1]
    grade = severe["grade"].astype(int)
    return _rows(
        severe[["subject_id", "infusion_id"]],
        severity=np.where(grade >= 4, "critical", "high"),
        episode_key=[f"icaht:{p}:{i}" for p, i in zip(part, severe["infusion_id"], strict=True)],
        study_day=severe["study_day"],
        level=grade,
        title=[f"ICAHT grade {g} ({_ICAHT_WINDOWS[p]})" for g, p in zip(grade, part, strict=True)],
        evidence=[
            {"grade": int(g), "reason": r} for g, r in zip(grade, severe["reason"], strict=True)
        ],
    )


def _discordance(frames: DerivedFrames) -> pd.DataFrame:
    table = frames.reconciliation
    discordant = table[table["status"] == "discordant"]
    if discordant.empty:
        return pd.DataFrame()
    reported = discordant["reported_grade"].astype(int)
    derived = discordant["derived_grade"].astype(int)
    return _rows(
        discordant[["subject_id", "infusion_id"]],
        severity="info",
        episode_key=[
            f"discordance:{s}:{y}:{o}"
            for s, y, o in zip(
                discordant["subject_id"],
                discordant["syndrome"],
                discordant["reported_onset_day"].fillna(-999).astype(int),
                strict=True,
            )
        ],
        study_day=discordant["derived_onset_day"],
        level=0,
        title=[
            f"{y.upper()} reported grade {r} (ASTCT 2019) but derived grade {d}: review"
            for y, r, d in zip(discordant["syndrome"], reported, derived, strict=True)
        ],
        evidence=[
            {"reported_grade": int(r), "derived_grade": int(d), "scale": s}
            for r, d, s in zip(reported, derived, discordant["scale"], strict=True)
        ],
    )


def _reported_terms(
    terms: tuple[str, ...],
    *,
    bcma_only: bool,
    key: str,
    severity: str,
    title: str,
    context: dict[str, str] | None = None,
) -> Predicate:
    """One candidate per subject and reported term among ``terms`` (after a BCMA product only,
    when ``bcma_only``); ``title`` is formatted with the term."""

    def predicate(frames: DerivedFrames) -> pd.DataFrame:
        events = frames.adverse_events
        hit = events[events["term"].str.strip().str.lower().isin(terms)]
        if bcma_only:
            infusions = frames.infusions
            bcma = infusions.loc[infusions["target_antigen"] == "BCMA", "infusion_id"]
            hit = hit[hit["infusion_id"].isin(bcma)]
        if hit.empty:
            return pd.DataFrame()
        pairs = list(zip(hit["subject_id"], hit["term"], hit["onset_day"], strict=True))
        return _rows(
            hit[["subject_id", "infusion_id"]],
            severity=severity,
            episode_key=[f"{key}:{s}:{term.lower()}" for s, term, _ in pairs],
            study_day=hit["onset_day"],
            level=0,
            title=[title.format(term=term) for _, term, _ in pairs],
            evidence=[
                {"term": term, "onset_day": None if pd.isna(d) else int(d), **(context or {})}
                for _, term, d in pairs
            ],
        )

    return predicate


_secondary_malignancy = _reported_terms(
    SECONDARY_MALIGNANCY_TERMS,
    bcma_only=False,
    key="malignancy",
    severity="critical",
    title="Secondary malignancy reported: {term}",
    context={"boxed_warning": BOXED_WARNING},
)
_bcma_late_neuro = _reported_terms(
    BCMA_LATE_NEURO_TERMS,
    bcma_only=True,
    key="bcma_neuro",
    severity="high",
    title="{term} after a BCMA CAR-T: cranial nerve palsy or movement/neurocognitive toxicity "
    "(cilta-cel label; Cohen 2022)",
)


_SIGNAL_SEVERITY = {
    "bca_loss": "high",
    "mrd_positive": "high",
    "probable_escape": "critical",
    "car_loss": "warning",
    "imwg_progression": "high",
}


def _relapse_signals(frames: DerivedFrames) -> pd.DataFrame:
    if frames.markers.empty and frames.assessments.empty:
        return pd.DataFrame()
    markers = frames.markers
    if markers.empty:
        markers = pd.DataFrame(columns=["subject_id", "code", "at", "value", "unit"])
    signals = relapse_signals(frames.infusions, markers, frames.assessments)
    if signals.empty:
        return pd.DataFrame()
    return _rows(
        signals[["subject_id", "infusion_id"]],
        severity=signals["signal"].map(_SIGNAL_SEVERITY),
        episode_key=[
            f"relapse:{s}:{k}"
            for s, k in zip(signals["subject_id"], signals["signal"], strict=True)
        ],
        study_day=signals["study_day"],
        level=0,
        title=signals["message"],
        evidence=[
            {"signal": k, "samples": s}
            for k, s in zip(signals["signal"], signals["samples"], strict=True)
        ],
    )


RULES = (
    Rule(
        "crs",
        "1",
        "crs",
        "ASTCT 2019 CRS grade derived from raw observations; one alert per "
        "episode, raised again when the grade rises (ASCO 2021 management changes at grades 2 "
        "and 3; clinical.md §8).",
        _episodes("crs", "CRS"),
    ),
    Rule(
        "icans",
        "1",
        "icans",
        "ASTCT 2019 ICANS grade derived from raw observations; one alert "
        "per episode, raised again when the grade rises (clinical.md §2, §8).",
        _episodes("icans", "ICANS"),
    ),
    Rule(
        "icans_sedated",
        "1",
        "icans",
        "Sedation makes ICE and consciousness ungradable (ASTCT "
        "2019): the ICANS grade is a lower bound until the patient is re-assessed off sedation.",
        _icans_sedated,
    ),
    Rule(
        "crs_fever_persisting",
        "1",
        "crs",
        "ASCO 2021: CRS grade 1 with fever persisting more "
        "than 3 days is managed as grade 2 (clinical.md §8).",
        _crs_fever_persisting,
    ),
    Rule(
        "high_risk_score",
        "1",
        "other",
        "Published pre-infusion and early risk scores: EASIX "
        "> 4.67 before lymphodepletion (Korell 2022), CAR-HEMATOTOX high (Rejeski 2021), early "
        "fever/IL-6/MCP-1 rule (Gust 2017) (clinical.md §5).",
        _high_scores,
    ),
    Rule(
        "model_crs_risk",
        "1",
        "crs",
        "A trained grade >= 3 CRS model (docs/models.md) whose cross-validated AUROC reached the "
        "site's minimum (default 0.75), at or above the site's probability threshold, which "
        "no default sets (docs/models.md; it complements the published scores of clinical.md "
        "§5).",
        _model_risk("crs"),
    ),
    Rule(
        "model_icans_risk",
        "1",
        "icans",
        "A trained grade >= 3 ICANS model (docs/models.md) whose cross-validated AUROC reached "
        "the site's minimum (default 0.75), at or above the site's probability threshold, which "
        "no default sets (docs/models.md; it complements the published scores of clinical.md "
        "§5).",
        _model_risk("icans"),
    ),
    Rule(
        "iec_hs_screen",
        "1",
        "iec_hs",
        "IEC-HS screen (Hines 2023 proposal [UNCONFIRMED]); "
        "high severity when transaminases or fibrinogen are among its findings (clinical.md "
        "§4.1).",
        _iec_hs,
    ),
    Rule(
        "icaht_severe",
        "1",
        "icaht",
        "ICAHT grade >= 3 (EHA/EBMT 2023): associated with severe "
        "infection and non-relapse mortality (clinical.md §4.2).",
        _icaht,
    ),
    Rule(
        "grade_discordance",
        "1",
        "other",
        "A reported ASTCT grade that differs from the grade "
        "derived from the raw observations of the same days needs a clinician's review "
        "(clinical.md §3.3).",
        _discordance,
    ),
    Rule(
        "secondary_malignancy",
        "1",
        "other",
        "Secondary haematological and T-cell "
        "malignancies are a class boxed warning for CD19 and BCMA CAR-T (FDA, April 2024; "
        "clinical.md §7.3).",
        _secondary_malignancy,
    ),
    Rule(
        "antigen_escape",
        "1",
        "relapse",
        "Early signals of relapse and antigen escape: loss of B-cell aplasia within 6 months, "
        "MRD at day 28 or month 3, MRD or relapse with persisting aplasia (probable "
        "CD19-negative escape), loss of the CAR transgene, IMWG progression after BCMA CAR-T "
        "(clinical.md §6.3-6.7).",
        _relapse_signals,
    ),
    Rule(
        "bcma_late_neurotoxicity",
        "1",
        "icans",
        "Cranial nerve palsies and movement/"
        "neurocognitive toxicity (parkinsonism, Guillain-Barré) after BCMA CAR-T (cilta-cel "
        "label; Cohen 2022; clinical.md §7.3).",
        _bcma_late_neuro,
    ),
)
"""Every rule pv-monitor evaluates, in display order."""


def evaluate(frames: DerivedFrames, rules: tuple[Rule, ...] = RULES) -> pd.DataFrame:
    """All candidates of all ``rules`` (columns :data:`CANDIDATE_COLUMNS`)."""
    found = [rule.candidates(frames) for rule in rules]
    found = [frame for frame in found if not frame.empty]
    if not found:
        return pd.DataFrame(columns=list(CANDIDATE_COLUMNS))
    return pd.concat(found, ignore_index=True)
