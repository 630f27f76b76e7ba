"""Interpret validated tidy rows: dates, numbers, units, vocabularies, ranges, identities, flags.

Pure functions: a chunk of text rows (tidy format v1 columns, ``_row`` and the optional internal
columns below) and the subjects it may refer to go in; store-ready frames and rejections come
out. Nothing here reads or writes the store.

Internal columns a reader may add (never part of the tidy contract):

``_key``
    The row's identity in its source (e.g. ``LB|12``). Without it the identity is ``source_id``
    when given, else the row's natural key (code and time, drug and start, term, onset and scale).
``_started_unknown``
    Medications only: the source says the drug was given but not when (start left empty).
``_specimen``, ``_mrd_method``, ``_decoded_term``, ``_verbatim``
    Specimen of a measurement, MRD method, dictionary-coded AE term, free-text AE description.
``_day_zero_anchored``
    Subjects only: the source gives days after infusion, not calendar dates.
``_target_antigen``
    Subjects only: the antigen an investigational product targets (e.g. CD22).

Imputation of partial dates (kept as given in ``*_source_value`` and flagged):

* onset and start dates take the first day of the period, but not a day before the infusion when
  the infusion falls inside the period (an AE reported as ``2024-03`` with infusion on 15 March
  starts on 15 March);
* resolution and end dates take the last day of the period, but not after death;
* death dates take the first day of the period, but not before the infusion;
* disease assessments (response, MRD, antigen status) take the first day of the period, but not
  before the infusion; every other observation must give at least the day (a vital sign or a
  lab value in "2024-03" cannot be graded).

Flags (the row is loaded and ``date_flag`` says why it is suspect): ``after_death`` for anything
dated after the day of death; ``before_day_0`` for adverse events and relapses dated before the
infusion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl import rejections
from etl.contracts import Kind
from etl.normalise import (
    MAX_YEAR,
    MIN_YEAR,
    controlled,
    factorize_pairs,
    impute,
    parse_dates,
    parse_numbers,
    to_canonical_units,
)
from etl.sources.files import ROW
from pv_monitor.vocabulary import (
    AE_OUTCOMES,
    DIAGNOSES,
    DRUG_ALIASES,
    DRUG_CLASSES,
    OBSERVATION_CODES,
    REPORTED_GRADE_CODES,
    VALUE_ALIASES,
    GradingScale,
)

DISEASE_CODES = ("MRD", "RESPONSE", "ANTIGEN_STATUS")
_DATE_HINT = f" (a real calendar date from {MIN_YEAR} to {MAX_YEAR}, e.g. 2024-03-15 or 2024-03)"
_DATE_TIME_HINT = (
    f" (a real date from {MIN_YEAR} to {MAX_YEAR}, e.g. 2024-03-15T08:30 or 2024-03-15)"
)
SYNDROME_TERMS = {
    "cytokine release syndrome": "crs",
    "crs": "crs",
    "immune effector cell-associated neurotoxicity syndrome": "icans",
    "immune effector cell associated neurotoxicity syndrome": "icans",
    "icans": "icans",
    "immune effector cell-associated hlh-like syndrome": "iec_hs",
    "iec-hs": "iec_hs",
    "hlh-like syndrome (carhlh)": "iec_hs",
    "carhlh": "iec_hs",
    "haemophagocytic lymphohistiocytosis": "iec_hs",
    "hemophagocytic lymphohistiocytosis": "iec_hs",
}
"""Reported terms filed under a monitored syndrome (case-insensitive, exact)."""


@dataclass
class Prepared:
    """Store-ready frames of one chunk, by store table, and what was rejected."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=rejections.empty)


class _Rejector:
    """Collects rejections of one chunk and the rows still standing."""

    def __init__(self, frame: pd.DataFrame, file: str) -> None:
        self.frame = frame
        self.file = file
        self.alive = pd.Series(True, index=frame.index)
        self.found: list[pd.DataFrame] = []

    def reject(
        self,
        mask: pd.Series,
        field: str | None,
        rule: str,
        reason: str | pd.Series,
        values: pd.Series | None = None,
    ) -> None:
        mask = mask & self.alive
        if not mask.any():
            return
        picked = (
            values[mask]
            if values is not None
            else (self.frame.loc[mask, field] if field in self.frame else None)
        )
        self.found.append(
            rejections.rejections(
                self.file,
                rows=self.frame.loc[mask, ROW],
                field=field,
                values=picked,
                rule=rule,
                reason=reason[mask] if isinstance(reason, pd.Series) else reason,
            )
        )
        self.alive &= ~mask

    def duplicates(
        self,
        key: pd.Series,
        what: str,
        compared: pd.Series,
        differs: tuple[str, pd.Series, str] | None = None,
    ) -> None:
        """Reject later rows whose identity repeats an earlier row of the chunk.

        ``compared`` names, per row, the identity that was actually compared (e.g. "same
        subject, code ICANS_GRADE and observed_at 2024-01-03T00:00"); ``differs`` is
        ``(field, values, hint)``: when a duplicate's ``field`` differs from the first row's
        (its key did not include it), the reason says so and adds ``hint``.
        """
        live = key[self.alive]
        repeated = live.duplicated(keep="first")
        if not repeated.any():
            return
        groups = live.to_numpy()
        first_row = self.frame.loc[live.index, ROW].groupby(groups).transform("first")
        mask = pd.Series(False, index=self.frame.index)
        mask.loc[repeated[repeated].index] = True
        reason = (
            "duplicate " + what + " of row " + first_row.astype(str) + ": " + compared[live.index]
        )
        if differs is not None:
            field, values, hint = differs
            first_value = values[live.index].groupby(groups).transform("first")
            other = values[live.index] != first_value
            reason = reason.where(
                ~other,
                reason
                + " (its "
                + field
                + " "
                + values[live.index]
                + " differs from row "
                + first_row.astype(str)
                + "'s "
                + first_value
                + ": "
                + hint
                + ")",
            )
        shown = key.str.replace("\x1f", " | ", regex=False)
        self.reject(mask, None, "duplicate", reason.reindex(self.frame.index), values=shown)

    def result(self) -> pd.DataFrame:
        return rejections.combine(self.found)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].fillna("").astype(str).str.strip()


def _nullable(values: pd.Series) -> pd.Series:
    """Empty text -> None (object dtype)."""
    return values.astype(object).where(values != "", None)


def _identity(frame: pd.DataFrame, natural: pd.Series) -> pd.Series:
    """``_key`` when the reader gave one, else ``source_id`` when given, else the natural key."""
    key = natural.astype(str)
    source_id = _text(frame, "source_id")
    key = key.where(source_id == "", "id|" + source_id)
    reader_key = _text(frame, "_key")
    return key.where(reader_key == "", reader_key)


def _compared(frame: pd.DataFrame, natural: pd.Series) -> pd.Series:
    """The identity :func:`_identity` compares, in words: the reader's key, else the
    ``source_id``, else ``natural`` (the natural key's fields and values)."""
    source_id = _text(frame, "source_id")
    words = natural.where(source_id == "", "same subject and source_id '" + source_id + "'")
    reader_key = _text(frame, "_key")
    return words.where(reader_key == "", "same subject and source key '" + reader_key + "'")


def _subject_dates(context: pd.DataFrame, keys: pd.Series, column: str) -> pd.Series:
    """A date column of the context for each row's subject (looked up once per distinct
    subject); always datetimes, NaT for a subject the context does not hold (so that a chunk
    whose subjects are all unknown is rejected row by row, not failed on a column of objects)."""
    codes, distinct = pd.factorize(keys, use_na_sentinel=False)
    values = pd.to_datetime(context[column].reindex(distinct)).to_numpy()
    return pd.Series(values[codes], index=keys.index, dtype="datetime64[ns]")


def _known_subjects(rej: _Rejector, subject: pd.Series, context: pd.DataFrame) -> None:
    unknown = ~subject.isin(context.index)
    if unknown.any():
        rej.reject(
            unknown,
            "subject_id",
            "unknown_subject",
            "subject " + subject + " is not in subjects.csv or already in the store",
        )


def _after_death(when: pd.Series, death: pd.Series) -> pd.Series:
    after: pd.Series = death.notna() & (when.dt.normalize() > death)
    return after


# ------------------------------------------------------------------------------------------
# subjects


def prepare_subjects(frame: pd.DataFrame, file: str) -> Prepared:
    """Interpret ``subjects.csv`` rows: one store-ready row per subject."""
    rej = _Rejector(frame, file)
    sex = controlled(_text(frame, "sex"), ("F", "M", "U"), dict(VALUE_ALIASES["SEX"]))
    rej.reject(sex["invalid"], "sex", "vocabulary", "sex must be F, M or U")
    age = parse_numbers(_text(frame, "age_years"))
    rej.reject(age["invalid"], "age_years", "number", "age_years is not a number")
    rej.reject(
        ~age["value"].between(0, 130) & age["value"].notna(),
        "age_years",
        "range",
        "age_years must be between 0 and 130",
    )
    diagnosis = controlled(
        _text(frame, "diagnosis"), tuple(DIAGNOSES), dict(VALUE_ALIASES["DIAGNOSIS"])
    )
    rej.reject(
        diagnosis["invalid"],
        "diagnosis",
        "vocabulary",
        f"diagnosis must be one of {', '.join(DIAGNOSES)}",
    )
    infusion = parse_dates(_text(frame, "infusion_date"))
    complete = infusion["precision"].isin(["day", "minute", "second"])
    rej.reject(
        ~complete,
        "infusion_date",
        "date",
        "infusion_date must be a full date (YYYY-MM-DD, a real calendar date from "
        f"{MIN_YEAR} to {MAX_YEAR}): it is day 0 of everything",
    )
    weight = parse_numbers(_text(frame, "weight_kg"))
    rej.reject(
        weight["invalid"] | (weight["value"].notna() & ~weight["value"].between(0.3, 400)),
        "weight_kg",
        "range",
        "weight_kg must be a number between 0.3 and 400",
    )
    dose = parse_numbers(_text(frame, "dose_cells"))
    rej.reject(
        dose["invalid"] | (dose["value"] <= 0),
        "dose_cells",
        "range",
        "dose_cells must be a positive number of cells",
    )
    death = parse_dates(_text(frame, "death_date"))
    rej.reject(
        death["invalid"], "death_date", "date", "death_date is not an ISO 8601 date" + _DATE_HINT
    )
    contact = parse_dates(_text(frame, "last_contact_date"))
    rej.reject(
        contact["invalid"] | contact["precision"].isin(["year", "month"]),
        "last_contact_date",
        "date",
        "last_contact_date must be a full date",
    )
    infusion_day = infusion["datetime"].dt.normalize()
    death_day, death_flag = impute(death, "first")
    death_day = death_day.where(death_day >= infusion_day, infusion_day).where(death_day.notna())
    rej.reject(death_day < infusion_day, "death_date", "date", "death_date is before the infusion")
    key = _text(frame, "study_id") + "|" + _text(frame, "subject_id")
    same = (
        "same study_id '"
        + _text(frame, "study_id")
        + "' and subject_id '"
        + _text(frame, "subject_id")
        + "'"
    )
    rej.duplicates(key, "subject", same)
    alive = rej.alive
    out = pd.DataFrame(
        {
            "subject_key": _text(frame, "subject_id"),
            "study_key": _text(frame, "study_id"),
            "site_key": _text(frame, "site_id"),
            "sex": sex["value"],
            "age_years": age["value"],
            "diagnosis": diagnosis["value"],
            "weight_kg": weight["value"],
            "product_name": _text(frame, "product"),
            "product_target": _nullable(_text(frame, "_target_antigen")),
            "infusion_date": infusion_day,
            "day_zero_anchored": _text(frame, "_day_zero_anchored").eq("true"),
            "dose_cells": dose["value"],
            "lymphodepletion": _nullable(_text(frame, "lymphodepletion")),
            "death_date": death_day.dt.date.where(death_day.notna(), None),
            "death_date_source_value": _nullable(_text(frame, "death_date")),
            "death_date_imputation": death_flag,
            "death_cause": _nullable(_text(frame, "death_cause")),
            "last_contact_date": contact["datetime"].dt.date.where(
                contact["datetime"].notna(), None
            ),
            "source_key": "subject|" + _text(frame, "subject_id"),
            "source_row": frame[ROW],
        }
    )[alive]
    return Prepared({"subject": out}, rej.result())


def subject_context(subjects: pd.DataFrame) -> pd.DataFrame:
    """What child rows need to know about their subject, indexed by subject key."""
    death = pd.to_datetime(subjects["death_date"])
    return pd.DataFrame(
        {
            "infusion_date": pd.to_datetime(subjects["infusion_date"]).to_numpy(),
            "death_date": death.to_numpy(),
        },
        index=subjects["subject_key"].to_numpy(),
    )


# ------------------------------------------------------------------------------------------
# observations


def prepare_observations(frame: pd.DataFrame, file: str, context: pd.DataFrame) -> Prepared:
    """Interpret ``observations.csv`` rows into measurement, observation and disease_assessment."""
    rej = _Rejector(frame, file)
    subject = _text(frame, "subject_id")
    _known_subjects(rej, subject, context)
    code = _text(frame, "code").str.upper()
    rej.reject(
        ~code.isin(OBSERVATION_CODES),
        "code",
        "unknown_code",
        "not a tidy format v1 observation code (see docs/data_formats.md)",
    )
    observed_at = _text(frame, "observed_at")
    when = parse_dates(observed_at)
    rej.reject(
        when["invalid"],
        "observed_at",
        "date",
        "observed_at is not an ISO 8601 date-time" + _DATE_TIME_HINT,
    )
    in_disease = code.isin(DISEASE_CODES)
    rej.reject(
        when["precision"].isin(["year", "month"]) & ~in_disease,
        "observed_at",
        "date",
        "observed_at must give at least the day (only disease assessments may be partial)",
    )
    other = controlled(
        _text(frame, "other_cause"), ("true", "false"), dict(VALUE_ALIASES["BOOLEAN"])
    )
    rej.reject(other["invalid"], "other_cause", "vocabulary", "other_cause must be true or false")
    value_text = _text(frame, "value")
    unit_text = _text(frame, "unit")
    numeric = pd.Series(_per_value(code, _KINDS) == "numeric", index=frame.index)
    number = parse_numbers(value_text.where(numeric & rej.alive, ""))
    rej.reject(
        numeric & number["empty"], "value", "required", "value is empty; a value is required"
    )
    rej.reject(numeric & number["invalid"], "value", "number", "value is not a number")
    grade_code = code.isin(REPORTED_GRADE_CODES)
    doubled = number["value"] * 2
    rej.reject(
        grade_code
        & number["value"].notna()
        & ((doubled != doubled.round()) | ~doubled.between(0, 10)),
        "value",
        "range",
        code + " is a grade from 0 to 5 in steps of 0.5 (a half grade is kept as given)",
    )
    converted = _convert(code, number, unit_text, numeric & rej.alive)
    scale_reason = (
        "the unit of "
        + code
        + " is its grading scale: "
        + ("'" + unit_text + "' is not a scale accepted for it").where(
            unit_text != "", "none given"
        )
        + " (accepted: "
        + code.map(_ACCEPTED).fillna("")
        + ")"
    )
    converted["reason"] = converted["reason"].where(~grade_code, scale_reason)
    rej.reject(converted["invalid_unit"], "unit", "unit", converted["reason"], values=unit_text)
    rej.reject(converted["out_of_range"], "value", "range", converted["range_reason"])
    categorical = ~numeric & rej.alive
    category = _categories(code, value_text, categorical)
    rej.reject(category["invalid"], "value", "vocabulary", category["reason"])
    at = iso_minutes(observed_at, when)
    key = _identity(frame, code + "|" + at)
    same = _compared(frame, "same subject, code " + code + " and observed_at " + at)
    rej.duplicates(subject + "\x1f" + key, "observation", same)
    alive = rej.alive.to_numpy()
    death = _subject_dates(context, subject, "death_date")
    has_time = when["precision"].isin(["minute", "second"])
    other_cause = other["value"].eq("true")

    def common(
        rows: np.ndarray, day: pd.Series, before_day_0: pd.Series | None
    ) -> dict[str, object]:
        flags = {"after_death": _after_death(day[rows], death[rows])}
        if before_day_0 is not None:
            flags["before_day_0"] = before_day_0
        return {
            "subject_key": subject[rows],
            "source_key": key[rows],
            "source_row": frame[ROW][rows],
            "date_flag": _flags(**flags),
            "value_source_value": _nullable(value_text[rows]),
        }

    rows = alive & numeric.to_numpy() & ~in_disease.to_numpy()
    measurement = pd.DataFrame(
        {
            **common(rows, when["datetime"], None),
            "code": code[rows],
            "measured_at": when["datetime"][rows],
            "has_time": has_time[rows],
            "value": converted["value"][rows],
            "unit": converted["unit"][rows],
            "operator": number["operator"][rows],
            "unit_source_value": _nullable(unit_text[rows]),
            "specimen": _nullable(_text(frame, "_specimen")[rows]),
            "other_cause": other_cause[rows],
        }
    )
    rows = alive & categorical.to_numpy() & ~in_disease.to_numpy()
    observation = pd.DataFrame(
        {
            **common(rows, when["datetime"], None),
            "code": code[rows],
            "observed_at": when["datetime"][rows],
            "has_time": has_time[rows],
            "value": category["value"][rows],
            "other_cause": other_cause[rows],
        }
    )
    rows = alive & in_disease.to_numpy()
    infusion = _subject_dates(context, subject[rows], "infusion_date")
    assessed, imputed = impute(when[rows], "first")
    day = _not_before_infusion(assessed.dt.normalize(), when[rows], infusion)
    response = category["value"][rows].where(code[rows] == "RESPONSE", None)
    relapse = response.isin(["PD", "relapse"])
    disease = pd.DataFrame(
        {
            **common(rows, day.reindex(frame.index), relapse & (day < infusion)),
            "assessed_on": day.dt.date,
            "assessed_on_source_value": _nullable(observed_at[rows]),
            "date_imputation": imputed,
            "response": response,
            "is_relapse": relapse,
            "mrd_fraction": converted["value"][rows].where(code[rows] == "MRD"),
            "mrd_method": _nullable(_text(frame, "_mrd_method")[rows]),
            "antigen_status": category["value"][rows].where(code[rows] == "ANTIGEN_STATUS", None),
        }
    )
    tables = {
        "measurement": measurement,
        "observation": observation,
        "disease_assessment": disease,
    }
    return Prepared(tables, rej.result())


def _per_value(values: pd.Series, table: dict[str, object]) -> np.ndarray:
    """``table[value]`` for every value (None when absent), looked up once per distinct value."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    looked_up = np.array([table.get(v) for v in distinct] + [None], dtype=object)
    return looked_up[codes]


def iso_minutes(text: pd.Series, when: pd.DataFrame) -> pd.Series:
    """``YYYY-MM-DDTHH:MM`` of each complete date-time; partial dates as written."""
    already = (
        (text.str.len() == 16) & (when["precision"] == "minute") & (text.str.slice(10, 11) == "T")
    )
    iso = text.copy()
    rest = ~already & when["datetime"].notna()
    if rest.any():
        iso.loc[rest] = when.loc[rest, "datetime"].dt.strftime("%Y-%m-%dT%H:%M")
    return iso


def _flags(**conditions: pd.Series) -> pd.Series:
    """The first date flag whose condition holds, else None."""
    names = list(conditions)
    masks = [conditions[name].fillna(False).to_numpy(dtype=bool) for name in names]
    index = next(iter(conditions.values())).index
    flag = pd.Series(np.select(masks, names, default=""), index=index)
    return flag.astype(object).where(flag != "", None)


def _convert(
    code: pd.Series, number: pd.DataFrame, unit: pd.Series, rows: pd.Series
) -> pd.DataFrame:
    """Canonical values and units of the numeric ``rows``, and which of them have a unit that is
    not accepted or a value outside the code's possible range (with the reasons)."""
    out = pd.DataFrame(
        {
            "value": np.nan,
            "unit": pd.Series(None, index=code.index, dtype=object),
            "invalid_unit": False,
            "out_of_range": False,
            "reason": "",
            "range_reason": "",
        },
        index=code.index,
    )
    if not rows.any():
        return out
    picked = rows.to_numpy()
    converted = to_canonical_units(code[rows], number.loc[rows, "value"], unit[rows])
    value = converted["value"].to_numpy()
    lower = _per_value(code[rows], _LOWER).astype(float)
    upper = _per_value(code[rows], _UPPER).astype(float)
    invalid_unit = converted["invalid_unit"].to_numpy()
    out.loc[picked, "value"] = value
    out.loc[picked, "unit"] = converted["unit"].to_numpy()
    out.loc[picked, "invalid_unit"] = invalid_unit
    out.loc[picked, "out_of_range"] = ~invalid_unit & ((value < lower) | (value > upper))
    wrong_unit = out["invalid_unit"]
    if wrong_unit.any():
        out.loc[wrong_unit, "reason"] = (
            "unit '"
            + unit[wrong_unit]
            + "' is not accepted for "
            + code[wrong_unit]
            + " (accepted: "
            + code[wrong_unit].map(_ACCEPTED)
            + "); units are never guessed"
        )
    impossible = out["out_of_range"]
    if impossible.any():
        out.loc[impossible, "range_reason"] = (
            code[impossible]
            + " "
            + out.loc[impossible, "value"].round(4).astype(str)
            + " "
            + code[impossible].map(_CANONICAL)
            + " is impossible (possible range "
            + code[impossible].map(_LOWER).astype(str)
            + " to "
            + code[impossible].map(_UPPER).astype(str)
            + ")"
        )
    return out


_LOWER: dict[str, object] = {c: spec.lower for c, spec in OBSERVATION_CODES.items()}
_UPPER: dict[str, object] = {c: spec.upper for c, spec in OBSERVATION_CODES.items()}
_CANONICAL = {c: spec.canonical_unit or "" for c, spec in OBSERVATION_CODES.items()}
_ACCEPTED = {c: ", ".join(spec.units) or "none" for c, spec in OBSERVATION_CODES.items()}
_KINDS: dict[str, object] = {c: spec.kind for c, spec in OBSERVATION_CODES.items()}


def _categories(code: pd.Series, value: pd.Series, rows: pd.Series) -> pd.DataFrame:
    """Controlled values of the categorical ``rows``: each distinct (code, text) looked up once."""
    out = pd.DataFrame(
        {"value": pd.Series(None, index=code.index, dtype=object), "invalid": False, "reason": ""}
    )
    if not rows.any():
        return out
    codes, distinct = factorize_pairs(code[rows], value[rows])
    names = pd.Series([name for name, _ in distinct])
    mapped = pd.Series(None, index=names.index, dtype=object)
    invalid = pd.Series(False, index=names.index)
    reason = pd.Series("", index=names.index)
    for name, these in names.groupby(names).groups.items():
        spec = OBSERVATION_CODES[str(name)]
        vocabulary = "BOOLEAN" if spec.kind == "boolean" else str(name)
        aliases = dict(VALUE_ALIASES[vocabulary]) if vocabulary in VALUE_ALIASES else {}
        texts = pd.Series([distinct[i][1] for i in these], index=these)
        found = controlled(texts, spec.values, aliases)
        mapped[these] = found["value"]
        invalid[these] = found["invalid"] | found["empty"]
        reason[these] = f"value is not an allowed {name} value (allowed: {', '.join(spec.values)})"
    picked = rows.to_numpy()
    out.loc[picked, "value"] = mapped.to_numpy()[codes]
    out.loc[picked, "invalid"] = invalid.to_numpy()[codes]
    out.loc[picked, "reason"] = reason.to_numpy()[codes]
    return out


# ------------------------------------------------------------------------------------------
# medications


def prepare_medications(frame: pd.DataFrame, file: str, context: pd.DataFrame) -> Prepared:
    """Interpret ``medications.csv`` rows into drug_exposure rows."""
    rej = _Rejector(frame, file)
    subject = _text(frame, "subject_id")
    _known_subjects(rej, subject, context)
    source_drug = _text(frame, "drug")
    drug_key = source_drug.str.lower().str.replace(r"[\s\-]+", "_", regex=True)
    drug = drug_key.map(dict(DRUG_ALIASES)).fillna(source_drug.str.lower())
    started = parse_dates(_text(frame, "started_at"))
    unknown_start = _text(frame, "_started_unknown").eq("true") & started["empty"]
    rej.reject(
        started["empty"] & ~unknown_start,
        "started_at",
        "required",
        "started_at is empty; a value is required",
    )
    rej.reject(
        started["invalid"], "started_at", "date", "started_at is not an ISO 8601 date" + _DATE_HINT
    )
    ended = parse_dates(_text(frame, "ended_at"))
    rej.reject(
        ended["invalid"], "ended_at", "date", "ended_at is not an ISO 8601 date" + _DATE_HINT
    )
    infusion = _subject_dates(context, subject, "infusion_date")
    death = _subject_dates(context, subject, "death_date")
    start, start_flag = impute(started, "first")
    start = _not_before_infusion(start, started, infusion)
    end, end_flag = impute(ended, "last")
    rej.reject(
        end.notna() & start.notna() & (end < start),
        "ended_at",
        "order",
        "ended_at is before started_at",
    )
    # a course recorded past the day of death ends on that day (never before it started)
    after_death = death.notna() & (end > death + pd.Timedelta(days=1))
    end = end.where(~after_death, np.maximum(death, start.fillna(death)))
    dose = parse_numbers(_text(frame, "dose"))
    rej.reject(
        dose["invalid"] | (dose["value"] < 0),
        "dose",
        "number",
        "dose must be a number of at least 0",
    )
    started = start.dt.strftime("%Y-%m-%dT%H:%M").fillna("unknown")
    key = _identity(frame, drug + "|" + started)
    same = _compared(frame, "same subject, drug " + drug + " and started_at " + started)
    rej.duplicates(subject + "\x1f" + key, "administration", same)
    imputation = _join_flags(start=start_flag, end=end_flag)
    out = pd.DataFrame(
        {
            "subject_key": subject,
            "drug": drug,
            "drug_class": drug.map({name: cls.value for name, cls in DRUG_CLASSES.items()}).astype(
                object
            ),
            "drug_source_value": _nullable(source_drug),
            "started_at": start,
            "ended_at": end,
            "date_imputation": imputation,
            "dose": dose["value"],
            "dose_unit": _nullable(_text(frame, "dose_unit")),
            "route": _nullable(_text(frame, "route")),
            "source_key": key,
            "source_row": frame[ROW],
            "date_flag": _flags(after_death=_after_death(start, death)),
        }
    )
    out["drug_class"] = out["drug_class"].where(out["drug_class"].notna(), None)
    return Prepared({"drug_exposure": out[rej.alive]}, rej.result())


def _not_before_infusion(value: pd.Series, parsed: pd.DataFrame, infusion: pd.Series) -> pd.Series:
    """An imputed start inside the infusion's month or year moves to the infusion day."""
    partial = parsed["precision"].isin(["year", "month"])
    same_period = (parsed["year"] == infusion.dt.year) & (
        parsed["month"].isna() | (parsed["month"] == infusion.dt.month)
    )
    moved = partial & same_period & (value < infusion)
    return value.where(~moved, infusion)


def _join_flags(**flags: pd.Series) -> pd.Series:
    """``start:day;end:month`` style imputation flags; None when nothing was imputed."""
    parts = [name + ":" + flag for name, flag in flags.items()]
    text = pd.Series("", index=next(iter(flags.values())).index)
    for part in parts:
        text = text.where(part.isna(), text.where(text == "", text + ";") + part.fillna(""))
    return text.astype(object).where(text != "", None)


# ------------------------------------------------------------------------------------------
# adverse events


def prepare_adverse_events(frame: pd.DataFrame, file: str, context: pd.DataFrame) -> Prepared:
    """Interpret ``adverse_events.csv`` rows into adverse_event rows (reported grades kept as
    reported: never converted between scales)."""
    rej = _Rejector(frame, file)
    subject = _text(frame, "subject_id")
    _known_subjects(rej, subject, context)
    term = _text(frame, "term")
    onset = parse_dates(_text(frame, "onset_date"))
    rej.reject(
        onset["invalid"], "onset_date", "date", "onset_date is not an ISO 8601 date" + _DATE_HINT
    )
    resolved = parse_dates(_text(frame, "resolved_date"))
    rej.reject(
        resolved["invalid"], "resolved_date", "date", "resolved_date is not an ISO 8601 date"
    )
    grade = parse_numbers(_text(frame, "grade"))
    bad_grade = grade["invalid"] | (
        grade["value"].notna() & (~grade["value"].isin([0, 1, 2, 3, 4, 5]))
    )
    rej.reject(bad_grade, "grade", "range", "grade must be a whole number from 0 to 5")
    scale = controlled(
        _text(frame, "grading_scale"),
        tuple(s.value for s in GradingScale),
        dict(VALUE_ALIASES["GRADING_SCALE"]),
    )
    rej.reject(
        scale["invalid"],
        "grading_scale",
        "vocabulary",
        "grading_scale must be one of " + ", ".join(s.value for s in GradingScale),
    )
    rej.reject(
        grade["value"].notna() & scale["empty"],
        "grading_scale",
        "required",
        "a reported grade needs its grading_scale",
    )
    serious = controlled(_text(frame, "serious"), ("true", "false"), dict(VALUE_ALIASES["BOOLEAN"]))
    rej.reject(serious["invalid"], "serious", "vocabulary", "serious must be true or false")
    outcome = controlled(_text(frame, "outcome"), AE_OUTCOMES, dict(VALUE_ALIASES["AE_OUTCOME"]))
    rej.reject(
        outcome["invalid"],
        "outcome",
        "vocabulary",
        "outcome must be one of " + ", ".join(AE_OUTCOMES),
    )
    infusion = _subject_dates(context, subject, "infusion_date")
    death = _subject_dates(context, subject, "death_date")
    start, start_flag = impute(onset, "first")
    start = _not_before_infusion(start, onset, infusion)
    end, end_flag = impute(resolved, "last")
    end = end.where(~(death.notna() & (end > death)), death)
    rej.reject(
        end.notna() & start.notna() & (end < start),
        "resolved_date",
        "order",
        "resolved_date is before onset_date",
    )
    onset_day = start.dt.strftime("%Y-%m-%d").fillna("unknown")
    scale_text = scale["value"].fillna("")
    key = _identity(frame, term.str.lower() + "|" + onset_day + "|" + scale_text)
    same = _compared(
        frame,
        "same subject, term '"
        + term
        + "', onset "
        + onset_day
        + " and grading_scale "
        + scale_text.where(scale_text != "", "(none)"),
    )
    daily = (
        "this key does not include the onset; a grade recorded every day is an observation "
        "with code CRS_GRADE or ICANS_GRADE, see docs/data_formats.md"
    )
    rej.duplicates(subject + "\x1f" + key, "adverse event", same, ("onset", onset_day, daily))
    out = pd.DataFrame(
        {
            "subject_key": subject,
            "term": term,
            "decoded_term": _nullable(_text(frame, "_decoded_term")),
            "syndrome": term.str.lower().map(SYNDROME_TERMS).astype(object),
            "onset_date": start.dt.date.where(start.notna(), None),
            "onset_date_source_value": _nullable(_text(frame, "onset_date")),
            "resolved_date": end.dt.date.where(end.notna(), None),
            "resolved_date_source_value": _nullable(_text(frame, "resolved_date")),
            "date_imputation": _join_flags(onset=start_flag, resolution=end_flag),
            "reported_grade": grade["value"].where(~bad_grade).astype("Int64"),
            "grading_scale": scale["value"],
            "serious": serious["value"].map({"true": True, "false": False}),
            "outcome": outcome["value"],
            "verbatim": _nullable(_text(frame, "_verbatim")),
            "source_key": key,
            "source_row": frame[ROW],
            "date_flag": _flags(
                after_death=_after_death(start, death),
                before_day_0=start.notna() & (start < infusion),
            ),
        }
    )
    out["syndrome"] = out["syndrome"].where(out["syndrome"].notna(), None)
    return Prepared({"adverse_event": out[rej.alive]}, rej.result())


PREPARERS = {
    Kind.OBSERVATIONS: prepare_observations,
    Kind.MEDICATIONS: prepare_medications,
    Kind.ADVERSE_EVENTS: prepare_adverse_events,
}
"""How to prepare each child file (subjects are prepared first, by :func:`prepare_subjects`)."""
