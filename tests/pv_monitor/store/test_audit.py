"""The audit trail: who, when, what, old and new value, reason; append-only; hash-chained."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pv_monitor.store.audit import (
    GENESIS_SHA256,
    REDACTED,
    AuditError,
    audit_history,
    audited_delete,
    audited_insert,
    audited_update,
    record_change,
    verify_audit_chain,
)
from pv_monitor.store.engine import create_store_engine
from pv_monitor.store.migrate import upgrade
from pv_monitor.store.models import (
    Alert,
    AlertEvent,
    AppUser,
    AuditLog,
    LoadBatch,
    Signal,
    SignalEvent,
    Study,
    Subject,
)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    engine = create_store_engine(store_url)
    yield engine
    engine.dispose()


def _three_entries(session: Session) -> None:
    for n in range(3):
        record_change(
            session,
            actor="jdoe",
            action="update",
            table="alert",
            key=str(n),
            old={"status": "open"},
            new={"status": "acknowledged"},
            reason=f"review {n}",
        )
    session.commit()


def test_record_change_writes_who_when_what_old_new_and_reason(engine: Engine) -> None:
    before = datetime.now(UTC)
    with Session(engine) as session:
        record_change(
            session,
            actor="jdoe",
            action="update",
            table="alert",
            key="42",
            old={"status": "open"},
            new={"status": "acknowledged", "on": datetime(2025, 1, 2, 3, 4, tzinfo=UTC)},
            reason="seen on the ward round",
        )
        session.commit()
    with Session(engine) as session:
        entry = session.scalars(select(AuditLog)).one()
    assert (entry.actor, entry.action, entry.table_name, entry.record_key) == (
        "jdoe",
        "update",
        "alert",
        "42",
    )
    assert json.loads(entry.old_value or "") == {"status": "open"}
    assert json.loads(entry.new_value or "") == {
        "on": "2025-01-02T03:04:00.000000+00:00",
        "status": "acknowledged",
    }
    assert entry.reason == "seen on the ward round"
    assert entry.occurred_at.tzinfo is not None
    assert before <= entry.occurred_at <= datetime.now(UTC)
    assert entry.previous_sha256 == GENESIS_SHA256


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"]
)
def test_database_refuses_update_and_delete_of_audit_entries(
    engine: Engine, statement: str
) -> None:
    with Session(engine) as session:
        _three_entries(session)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    with Session(engine) as session:
        assert session.scalars(select(AuditLog.actor)).all() == ["jdoe"] * 3


def _one_alert_event_and_one_signal_event(session: Session) -> None:
    now = datetime.now(UTC)
    study = Study(study_key="S")
    batch = LoadBatch(
        source_path="x",
        source_sha256="0" * 64,
        source_format="tidy",
        loaded_by="dm",
        started_at=now,
        status="committed",
        policy="all_or_nothing",
        rows_read=1,
        rows_loaded=1,
        rows_rejected=0,
        etl_version="test",
    )
    subject = Subject(study=study, subject_key="P1", load_batch_id=0, source_key="r1")
    session.add_all([study, batch])
    session.flush()
    subject.load_batch_id = batch.load_batch_id
    alert = Alert(
        subject=subject,
        rule_id="crs_new",
        rule_version="1",
        severity="high",
        syndrome="crs",
        status="open",
        title="t",
        evidence={},
        evidence_sha256="0" * 64,
        raised_at=now,
        updated_at=now,
    )
    alert.events.append(AlertEvent(event_type="raised", actor="pipeline", occurred_at=now))
    signal = Signal(
        signal_key="SIG-1",
        event_term="Cytokine release syndrome",
        source_type="statistical",
        status="new",
        detected_on=now.date(),
        created_at=now,
        updated_at=now,
    )
    signal.events.append(
        SignalEvent(
            to_status="new",
            actor="so",
            actor_role="safety_officer",
            occurred_at=now,
            rationale="screening hit",
        )
    )
    session.add_all([subject, alert, signal])
    session.commit()


@pytest.mark.parametrize("table", ["alert_event", "signal_event"])
@pytest.mark.parametrize("verb", ["UPDATE {table} SET actor = 'mallory'", "DELETE FROM {table}"])
def test_workflow_histories_are_append_only_too(engine: Engine, table: str, verb: str) -> None:
    with Session(engine) as session:
        _one_alert_event_and_one_signal_event(session)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(verb.format(table=table)))


def test_postgresql_refuses_truncate_of_the_audit_trail(postgres_url: str) -> None:
    upgrade(postgres_url)
    engine = create_store_engine(postgres_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_log"))
    finally:
        engine.dispose()


def test_chain_verifies_when_untouched(engine: Engine) -> None:
    with Session(engine) as session:
        _three_entries(session)
        result = verify_audit_chain(session)
    assert (result.ok, result.entries_checked, result.first_broken_id) == (True, 3, None)


def _bypass_triggers_and_run(engine: Engine, statement: str) -> None:
    """What a privileged user could do outside the application."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        else:
            connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        connection.exec_driver_sql(statement)


def test_chain_reports_the_first_edited_entry(engine: Engine) -> None:
    with Session(engine) as session:
        _three_entries(session)
        second = session.scalars(
            select(AuditLog.audit_log_id).order_by(AuditLog.audit_log_id)
        ).all()[1]
    _bypass_triggers_and_run(
        engine, f"UPDATE audit_log SET reason = 'edited' WHERE audit_log_id = {second}"
    )
    with Session(engine) as session:
        result = verify_audit_chain(session)
    assert (result.ok, result.first_broken_id, result.entries_checked) == (False, second, 1)
    assert result.problem == "content changed after it was written"


def test_chain_reports_a_removed_entry(engine: Engine) -> None:
    with Session(engine) as session:
        _three_entries(session)
        ids = session.scalars(select(AuditLog.audit_log_id).order_by(AuditLog.audit_log_id)).all()
    _bypass_triggers_and_run(engine, f"DELETE FROM audit_log WHERE audit_log_id = {ids[1]}")
    with Session(engine) as session:
        result = verify_audit_chain(session)
    assert (result.ok, result.first_broken_id) == (False, ids[2])
    assert result.problem == "does not follow the entry before it"


def test_audited_update_records_only_changed_fields_and_needs_a_reason(engine: Engine) -> None:
    with Session(engine) as session:
        study = Study(study_key="S1", title="first title")
        audited_insert(session, study, actor="dm", reason="new study")
        with pytest.raises(AuditError, match="reason"):
            audited_update(session, study, {"title": "x"}, actor="dm", reason=" ")
        changed = audited_update(
            session, study, {"title": "second title", "study_key": "S1"}, actor="dm", reason="typo"
        )
        assert (
            audited_update(session, study, {"title": "second title"}, actor="dm", reason="r") == {}
        )
        session.commit()
        history = audit_history(session, "study", str(study.study_id))
    assert changed == {"title": "second title"}
    assert [e.action for e in history] == ["create", "update"]
    assert json.loads(history[1].old_value or "") == {"title": "first title"}
    assert json.loads(history[1].new_value or "") == {"title": "second title"}


def test_history_survives_deletion(engine: Engine) -> None:
    with Session(engine) as session:
        study = Study(study_key="S2")
        audited_insert(session, study, actor="dm")
        key = str(study.study_id)
        audited_delete(session, study, actor="dm", reason="created in error")
        session.commit()
        history = audit_history(session, "study", key)
    assert [e.action for e in history] == ["create", "delete"]
    assert json.loads(history[1].old_value or "")["study_key"] == "S2"


def test_secrets_never_reach_the_audit_trail(engine: Engine) -> None:
    with Session(engine) as session:
        user = AppUser(
            username="jdoe",
            role="clinician",
            password_hash="scrypt$secret-hash",
            is_active=True,
            created_at=datetime.now(UTC),
        )
        audited_insert(session, user, actor="admin")
        session.commit()
        entry = session.scalars(select(AuditLog)).one()
    assert "secret-hash" not in (entry.new_value or "")
    assert json.loads(entry.new_value or "")["password_hash"] == REDACTED


def test_an_entry_needs_an_actor(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(AuditError, match="actor"):
        record_change(session, actor=" ", action="update", table="alert", key="1")
