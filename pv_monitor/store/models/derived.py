"""Derived tables written by the pipeline: assessments, grades, episodes, scores and alerts.

Every derived row is recomputable from the observation tables; the pipeline replaces the rows of
the subjects a new batch touched.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pv_monitor.store.base import (
    Base,
    BigId,
    ClinicalDateTime,
    Code,
    JsonValue,
    Key,
    LongText,
    Name,
    Sha256,
    Timestamp,
)
from pv_monitor.store.models._mixins import SubjectScoped, check_in
from pv_monitor.store.models.subject import Subject
from pv_monitor.vocabulary import ALERT_STATUSES, PIPELINE_RUN_STATUSES, SYNDROMES


class InfusionScoped(SubjectScoped):
    """A derived row about one subject's course after one infusion."""

    infusion_id: Mapped[int] = mapped_column(
        ForeignKey("infusion.infusion_id"), comment="Infusion whose day 0 the row counts from."
    )


class DailyAssessment(InfusionScoped, Base):
    """One row per subject per day (or per time point) from day -7 to day +100: contract 2.

    Columns follow architecture contract 2; ``granularity`` says whether the row is a day's worst
    values (``day``) or a single time point (``time_point``).
    """

    __tablename__ = "daily_assessment"
    __table_args__ = (
        UniqueConstraint("infusion_id", "granularity", "assessed_at"),
        Index("ix_daily_assessment_subject_day", "subject_id", "study_day"),
        CheckConstraint(check_in("granularity", ("day", "time_point")), "granularity"),
        {"comment": "Assessment frame (contract 2): one row per subject per day or time point."},
    )

    daily_assessment_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    study_day: Mapped[int] = mapped_column(comment="Days since infusion (day 0 = infusion).")
    granularity: Mapped[Code] = mapped_column(comment="day or time_point.")
    assessed_at: Mapped[ClinicalDateTime] = mapped_column(
        comment="Midnight of the day for day rows; the time point otherwise."
    )
    age_years: Mapped[float | None] = mapped_column(comment="Age; ICE >= 12 y, CAPD below.")
    temp_c_max: Mapped[float | None] = mapped_column(comment="Highest temperature, Celsius.")
    crs_treated: Mapped[bool | None] = mapped_column(
        comment="Antipyretic, tocilizumab or corticosteroid already given in this CRS episode."
    )
    hypotension: Mapped[bool | None] = mapped_column(comment="Hypotension present.")
    vasopressors: Mapped[Name | None] = mapped_column(
        comment="';'-separated vasopressor agents running; empty if none."
    )
    o2_device: Mapped[Code | None] = mapped_column(comment="Highest oxygen support.")
    o2_flow_l_min: Mapped[float | None] = mapped_column(comment="Oxygen flow, L/min.")
    ice_score: Mapped[float | None] = mapped_column(comment="Worst ICE score (0-10).")
    capd_score: Mapped[float | None] = mapped_column(comment="Worst CAPD score (0-32).")
    loc: Mapped[Code | None] = mapped_column(comment="Worst level of consciousness.")
    seizure: Mapped[Code | None] = mapped_column(comment="Worst seizure finding.")
    motor_weakness: Mapped[bool | None] = mapped_column(comment="Deep focal motor weakness.")
    cerebral_edema: Mapped[Code | None] = mapped_column(comment="none, focal or diffuse.")
    icp_signs: Mapped[bool | None] = mapped_column(comment="Signs of raised ICP.")
    sedated: Mapped[bool | None] = mapped_column(comment="Under sedating drugs.")
    computed_at: Mapped[Timestamp] = mapped_column(comment="When the pipeline wrote the row.")


class ToxicityGrade(InfusionScoped, Base):
    """A grade for one syndrome on one assessment row under one versioned criteria table."""

    __tablename__ = "toxicity_grade"
    __table_args__ = (
        UniqueConstraint("daily_assessment_id", "syndrome", "criteria_version"),
        Index("ix_toxicity_grade_subject_syndrome_day", "subject_id", "syndrome", "study_day"),
        CheckConstraint("grade IS NULL OR grade BETWEEN 0 AND 5", "grade"),
        CheckConstraint(check_in("syndrome", SYNDROMES), "syndrome"),
        {"comment": "Derived grades per assessment row, syndrome and criteria version."},
    )

    toxicity_grade_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    daily_assessment_id: Mapped[BigId] = mapped_column(
        ForeignKey("daily_assessment.daily_assessment_id"), comment="Assessment row graded."
    )
    study_day: Mapped[int] = mapped_column(comment="Days since infusion.")
    syndrome: Mapped[Code] = mapped_column(comment="crs, icans, ...")
    criteria_version: Mapped[Name] = mapped_column(
        comment="Criteria table used, e.g. astct_2019_crs or ctcae_v5_0_labs:anemia."
    )
    grade: Mapped[int | None] = mapped_column(
        comment="0-5; empty when nothing gradable was observed (never 0 for missing data)."
    )
    reason: Mapped[LongText | None] = mapped_column(
        comment="Which domain set the grade, in words a clinician reads."
    )
    provisional: Mapped[bool] = mapped_column(
        comment="True when sedation or missing domains make the grade a lower bound."
    )
    computed_at: Mapped[Timestamp] = mapped_column(comment="When the pipeline wrote the row.")


class ToxicityEpisode(InfusionScoped, Base):
    """Graded days folded into an episode: onset, peak, resolution, treatments."""

    __tablename__ = "toxicity_episode"
    __table_args__ = (
        UniqueConstraint("infusion_id", "syndrome", "criteria_version", "episode_number"),
        Index("ix_toxicity_episode_subject_syndrome", "subject_id", "syndrome"),
        CheckConstraint(check_in("syndrome", SYNDROMES), "syndrome"),
        CheckConstraint("peak_grade BETWEEN 0 AND 5", "peak_grade"),
        {"comment": "CRS and ICANS episodes derived from graded days."},
    )

    toxicity_episode_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    syndrome: Mapped[Code] = mapped_column(comment="crs, icans, ...")
    criteria_version: Mapped[Name] = mapped_column(comment="Criteria table used.")
    episode_number: Mapped[int] = mapped_column(comment="1 for the first episode, 2, ...")
    onset_day: Mapped[int] = mapped_column(comment="Study day of onset.")
    peak_grade: Mapped[int] = mapped_column(comment="Highest grade in the episode.")
    peak_day: Mapped[int] = mapped_column(comment="Study day the peak grade was first reached.")
    resolution_day: Mapped[int | None] = mapped_column(
        comment="Study day of resolution; empty while ongoing."
    )
    duration_days: Mapped[int | None] = mapped_column(comment="Days from onset to resolution.")
    treatments: Mapped[Name | None] = mapped_column(
        comment="';'-separated treatments given during the episode."
    )
    closure_rule: Mapped[Code] = mapped_column(
        comment="Rule that closed the episode, e.g. grade0_2_days."
    )
    computed_at: Mapped[Timestamp] = mapped_column(comment="When the pipeline wrote the row.")


class RiskScore(InfusionScoped, Base):
    """A risk score (EASIX, m-EASIX, CAR-HEMATOTOX, model probability) at a time point."""

    __tablename__ = "risk_score"
    __table_args__ = (
        UniqueConstraint("infusion_id", "score", "score_version", "timepoint"),
        Index("ix_risk_score_subject_score", "subject_id", "score"),
        {"comment": "Risk scores with their inputs; missing inputs leave the value empty."},
    )

    risk_score_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    score: Mapped[Code] = mapped_column(comment="easix, m_easix, car_hematotox, ...")
    score_version: Mapped[Code] = mapped_column(comment="Version of the score definition.")
    timepoint: Mapped[Code] = mapped_column(
        comment="When it applies, e.g. pre_lymphodepletion, day_0, day_3."
    )
    study_day: Mapped[int | None] = mapped_column(comment="Study day of the inputs used.")
    value: Mapped[float | None] = mapped_column(comment="Score value; empty when not computable.")
    category: Mapped[Code | None] = mapped_column(comment="Risk group, e.g. high or low.")
    inputs: Mapped[JsonValue | None] = mapped_column(
        comment="Input values, units and days used (JSON)."
    )
    reason: Mapped[LongText | None] = mapped_column(
        comment="Why the score is what it is, or which input is missing."
    )
    computed_at: Mapped[Timestamp] = mapped_column(comment="When the pipeline wrote the row.")


class PipelineRun(Base):
    """One run of the pipeline (``pv-monitor run``): what it covered and with which criteria."""

    __tablename__ = "pipeline_run"
    __table_args__ = (
        CheckConstraint(check_in("status", PIPELINE_RUN_STATUSES), "status"),
        CheckConstraint(check_in("mode", ("incremental", "full")), "mode"),
        {"comment": "Pipeline runs: the load batches they covered, criteria versions, counts."},
    )

    pipeline_run_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    run_by: Mapped[Name] = mapped_column(comment="User or process that ran it.")
    started_at: Mapped[Timestamp] = mapped_column(comment="Start (UTC).")
    finished_at: Mapped[Timestamp | None] = mapped_column(comment="End (UTC).")
    status: Mapped[Code] = mapped_column(comment="running, committed or failed.")
    mode: Mapped[Code] = mapped_column(
        comment="incremental (subjects touched since the last run) or full."
    )
    last_load_batch_id: Mapped[int] = mapped_column(
        comment="Highest load batch whose rows this run took into account."
    )
    criteria: Mapped[JsonValue] = mapped_column(
        comment="Criteria, score and closure-rule versions used (JSON)."
    )
    subjects: Mapped[int] = mapped_column(comment="Subjects recomputed.")
    counts: Mapped[JsonValue | None] = mapped_column(comment="Rows written per table (JSON).")
    pv_monitor_version: Mapped[Code] = mapped_column(comment="pv-monitor version that ran it.")


class Alert(SubjectScoped, Base):
    """An alert raised by a rule; one open alert per subject, rule and episode."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_status_severity", "status", "severity"),
        Index("ix_alert_subject_raised", "subject_id", "raised_at"),
        CheckConstraint(check_in("status", ALERT_STATUSES), "status"),
        CheckConstraint(check_in("syndrome", SYNDROMES), "syndrome"),
        {"comment": "Alerts with their evidence and workflow status."},
    )

    alert_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    infusion_id: Mapped[int | None] = mapped_column(
        ForeignKey("infusion.infusion_id"), comment="Infusion the alert is about, when any."
    )
    rule_id: Mapped[Code] = mapped_column(comment="Rule that raised it.")
    rule_version: Mapped[Code] = mapped_column(comment="Version of the rule.")
    severity: Mapped[Code] = mapped_column(comment="Severity declared by the rule.")
    syndrome: Mapped[Code] = mapped_column(comment="crs, icans, relapse, ...")
    episode_key: Mapped[Key | None] = mapped_column(
        comment="Episode the alert belongs to (deduplication key), when any."
    )
    status: Mapped[Code] = mapped_column(comment="open, acknowledged, resolved or dismissed.")
    title: Mapped[Name] = mapped_column(comment="One-line summary shown in the queue.")
    study_day: Mapped[int | None] = mapped_column(comment="Study day of the triggering evidence.")
    evidence: Mapped[JsonValue] = mapped_column(
        comment="Values, days and source rows that made the rule fire (JSON)."
    )
    evidence_sha256: Mapped[Sha256] = mapped_column(
        comment="Digest of the evidence, so resolved alerts are never re-raised for it."
    )
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.app_user_id"), comment="User the alert is assigned to."
    )
    raised_at: Mapped[Timestamp] = mapped_column(comment="When the alert was first raised.")
    updated_at: Mapped[Timestamp] = mapped_column(comment="Last change of status or evidence.")

    subject: Mapped[Subject] = relationship()
    events: Mapped[list[AlertEvent]] = relationship(
        back_populates="alert", order_by="AlertEvent.alert_event_id"
    )


class AlertEvent(Base):
    """One change of an alert (raised, escalated, acknowledged, assigned, resolved, ...)."""

    __tablename__ = "alert_event"
    __table_args__ = {"comment": "Append-only history of every alert change."}

    alert_event_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alert.alert_id"), index=True, comment="The alert."
    )
    event_type: Mapped[Code] = mapped_column(
        comment="raised, escalated, acknowledged, assigned, resolved, dismissed, commented."
    )
    from_status: Mapped[Code | None] = mapped_column(comment="Status before.")
    to_status: Mapped[Code | None] = mapped_column(comment="Status after.")
    actor: Mapped[Name] = mapped_column(comment="User name, or 'pipeline' for the engine.")
    occurred_at: Mapped[Timestamp] = mapped_column(comment="When (UTC, server clock).")
    comment_text: Mapped[LongText | None] = mapped_column(comment="Comment given by the user.")
    details: Mapped[JsonValue | None] = mapped_column(comment="What changed (JSON).")

    alert: Mapped[Alert] = relationship(back_populates="events")


__all__ = [
    "Alert",
    "AlertEvent",
    "DailyAssessment",
    "PipelineRun",
    "RiskScore",
    "ToxicityEpisode",
    "ToxicityGrade",
]
