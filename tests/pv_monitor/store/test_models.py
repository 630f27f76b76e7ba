"""Every table the architecture names exists, and every table and column explains itself."""

from __future__ import annotations

import pv_monitor.store.models  # noqa: F401
from pv_monitor.store.base import Base

ARCHITECTURE_TABLES = {
    # architecture.md, "The store"
    "study",
    "site",
    "product",
    "subject",
    "infusion",
    "death",
    "follow_up",
    "measurement",
    "observation",
    "drug_exposure",
    "adverse_event",
    "disease_assessment",
    "daily_assessment",
    "toxicity_grade",
    "toxicity_episode",
    "risk_score",
    "alert",
    "alert_event",
    "icsr_case",
    "icsr_drug",
    "icsr_reaction",
    "load_batch",
    "load_rejection",
    "audit_log",
    "app_user",
    "signal",
    "signal_event",
}


def test_every_architecture_table_is_modelled() -> None:
    assert set(Base.metadata.tables) >= ARCHITECTURE_TABLES
    # Tables added beyond the architecture (docs/store.md): the site scope of users, the
    # manifest of pipeline runs that makes the pipeline incremental, and signal-detection runs.
    assert set(Base.metadata.tables) - ARCHITECTURE_TABLES == {
        "app_user_site",
        "pipeline_run",
        "analysis_run",
    }


def test_every_table_and_column_has_a_comment() -> None:
    missing = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if not column.comment
    ]
    missing += [table.name for table in Base.metadata.tables.values() if not table.comment]
    assert missing == []


def test_loaded_rows_keep_their_batch_and_source_key() -> None:
    loaded = {
        "subject",
        "infusion",
        "death",
        "follow_up",
        "measurement",
        "observation",
        "drug_exposure",
        "adverse_event",
        "disease_assessment",
        "icsr_case",
        "icsr_drug",
        "icsr_reaction",
    }
    for name in loaded:
        columns = Base.metadata.tables[name].columns
        assert not columns["load_batch_id"].nullable, name
        assert not columns["source_key"].nullable, name


def test_subject_and_time_are_indexed_for_event_tables() -> None:
    expected = {
        "measurement": ("subject_id", "code", "measured_at"),
        "observation": ("subject_id", "code", "observed_at"),
        "drug_exposure": ("subject_id", "started_at"),
        "adverse_event": ("subject_id", "onset_date"),
        "disease_assessment": ("subject_id", "assessed_on"),
        "daily_assessment": ("subject_id", "study_day"),
    }
    for name, columns in expected.items():
        indexed = {
            tuple(c.name for c in index.columns) for index in Base.metadata.tables[name].indexes
        }
        assert columns in indexed, name
