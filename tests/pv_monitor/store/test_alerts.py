"""Alerts in a real store (SQLite and PostgreSQL): dedup, escalation, lifecycle, audit, and two
users acting on the same alert at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from etl import load
from pv_monitor.alerts.engine import plan
from pv_monitor.cli import upgrade_store
from pv_monitor.store.alerts import (
    AlertConflict,
    AlertError,
    add_comment,
    apply_actions,
    assign,
    existing_alerts,
    transition,
)
from pv_monitor.store.audit import verify_audit_chain
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import Alert, AlertEvent, AuditLog, Subject
from pv_monitor.store.users import add_user, find_user
from tests.etl.conftest import write_export


@pytest.fixture
def alert_store(store_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A store with the hand-written export's subjects, four users and one subject id."""
    upgrade_store(store_url, actor="test")
    assert (
        load([write_export(tmp_path / "x")], "tidy", database_url=store_url, actor="test").exit_code
        == 0
    )
    engine = create_store_engine(store_url)
    with session_factory(engine)() as session, session.begin():
        subject = session.scalars(select(Subject).order_by(Subject.subject_id)).first()
        assert subject is not None
        other_site = session.scalar(
            select(Subject.site_id).where(Subject.site_id != subject.site_id)
        )
        assert subject.site_id is not None
        here = [subject.site_id]
        add_user(session, "dr_a", "clinician", "pw-a", actor="test", site_ids=here)
        add_user(session, "dr_b", "clinician", "pw-b", actor="test", site_ids=here)
        add_user(session, "dm", "data_manager", "pw-c", actor="test")
        add_user(session, "so", "safety_officer", "pw-d", actor="test")
        if other_site is not None:
            add_user(
                session, "dr_elsewhere", "clinician", "pw-e", actor="test", site_ids=[other_site]
            )
        subject_id = subject.subject_id
    engine.dispose()
    yield store_url, subject_id


def _candidate(subject_id: int, level: int, **changes: Any) -> pd.DataFrame:
    row = {
        "subject_id": subject_id,
        "infusion_id": None,
        "rule_id": "crs",
        "rule_version": "1",
        "severity": "high" if level < 3 else "critical",
        "syndrome": "crs",
        "episode_key": "crs:1:1",
        "study_day": 3,
        "level": level,
        "title": f"CRS grade {level}",
        "evidence": {"peak_grade": level, "days": [1, 2, 3]},
    }
    return pd.DataFrame([row | changes])


def _run(session: Session, subject_id: int, candidates: pd.DataFrame) -> list[str]:
    actions = plan(candidates, existing_alerts(session, [subject_id]))
    apply_actions(session, actions)
    return [a.kind for a in actions]


def _events(session: Session, alert_id: int) -> list[str]:
    query = select(AlertEvent.event_type).where(AlertEvent.alert_id == alert_id)
    return list(session.scalars(query.order_by(AlertEvent.alert_event_id)))


def test_one_alert_per_episode_escalation_and_no_re_raise(alert_store: tuple[str, int]) -> None:
    url, subject_id = alert_store
    engine = create_store_engine(url)
    make = session_factory(engine)
    with make() as session, session.begin():
        assert _run(session, subject_id, _candidate(subject_id, 2)) == ["raise"]
        assert _run(session, subject_id, _candidate(subject_id, 2)) == []  # same evidence
    with make() as session, session.begin():
        alert = session.scalars(select(Alert)).one()
        transition(session, alert.alert_id, find_user(session, "dr_a"), "acknowledge")
        more_days = _candidate(subject_id, 2, evidence={"peak_grade": 2, "days": [1, 2, 3, 4]})
        assert _run(session, subject_id, more_days) == ["update"]
        assert session.get(Alert, alert.alert_id).status == "acknowledged"  # type: ignore[union-attr]
        assert _run(session, subject_id, _candidate(subject_id, 3)) == ["escalate"]
        refreshed = session.get(Alert, alert.alert_id)
        assert refreshed is not None
        assert (refreshed.status, refreshed.severity) == ("open", "critical")
        transition(
            session,
            alert.alert_id,
            find_user(session, "dr_a"),
            "resolve",
            comment="tocilizumab given, improving",
        )
        assert _run(session, subject_id, _candidate(subject_id, 3)) == []
        assert _run(session, subject_id, _candidate(subject_id, 2)) == []
        assert _run(session, subject_id, _candidate(subject_id, 4)) == ["reopen"]
        assert session.scalars(select(Alert)).one().status == "open"
        assert _events(session, alert.alert_id) == [
            "raised",
            "acknowledged",
            "updated",
            "escalated",
            "resolved",
            "reopened",
        ]
        audited = session.scalars(
            select(AuditLog.action).where(AuditLog.table_name == "alert")
        ).all()
        assert len(audited) == 6
        assert verify_audit_chain(session).ok
    engine.dispose()


def test_workflow_roles_comments_and_states(alert_store: tuple[str, int]) -> None:
    url, subject_id = alert_store
    engine = create_store_engine(url)
    make = session_factory(engine)
    with make() as session, session.begin():
        _run(session, subject_id, _candidate(subject_id, 2))
        alert_id = session.scalars(select(Alert.alert_id)).one()
        with pytest.raises(AlertError, match="a data_manager may not"):
            transition(session, alert_id, find_user(session, "dm"), "acknowledge")
        with pytest.raises(AlertError, match="a safety_officer may not"):
            transition(session, alert_id, find_user(session, "so"), "acknowledge")
        add_comment(session, alert_id, find_user(session, "so"), "seen in the weekly review")
        with pytest.raises(AlertError, match="a comment is required"):
            transition(session, alert_id, find_user(session, "dr_a"), "dismiss", comment=" ")
        assign(session, alert_id, find_user(session, "dr_a"), find_user(session, "dr_b"))
        with pytest.raises(AlertError, match="cannot take alerts"):
            assign(session, alert_id, find_user(session, "dr_a"), find_user(session, "so"))
        transition(
            session,
            alert_id,
            find_user(session, "dr_b"),
            "dismiss",
            comment="fever from a line infection",
        )
        with pytest.raises(AlertError, match="cannot acknowledge an alert that is dismissed"):
            transition(session, alert_id, find_user(session, "dr_a"), "acknowledge")
        if session.scalar(select(Alert).where(Alert.alert_id == alert_id)) and _has_user(
            session, "dr_elsewhere"
        ):
            with pytest.raises(AlertError, match="outside dr_elsewhere's sites"):
                add_comment(session, alert_id, find_user(session, "dr_elsewhere"), "hello")
        assert _events(session, alert_id) == ["raised", "commented", "assigned", "dismissed"]
        comments = session.scalars(
            select(AlertEvent.comment_text).where(AlertEvent.comment_text.is_not(None))
        ).all()
        assert comments == ["seen in the weekly review", "fever from a line infection"]
    engine.dispose()


def _has_user(session: Session, name: str) -> bool:
    try:
        find_user(session, name)
    except ValueError:
        return False
    return True


def test_two_users_resolving_at_once_one_wins(alert_store: tuple[str, int]) -> None:
    """Both clinicians see the alert open and press resolve at the same moment: exactly one
    resolution is recorded and the other is told the alert changed (no lost update)."""
    url, subject_id = alert_store
    engine = create_store_engine(url)
    make = session_factory(engine)
    with make() as session, session.begin():
        _run(session, subject_id, _candidate(subject_id, 2))
        alert_id = session.scalars(select(Alert.alert_id)).one()
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def act(username: str) -> None:
        with make() as session:
            try:
                with session.begin():
                    user = find_user(session, username)
                    seen = session.get(Alert, alert_id)
                    assert seen is not None and seen.status == "open"
                    barrier.wait(timeout=10)
                    transition(
                        session,
                        alert_id,
                        user,
                        "resolve",
                        expected_status="open",
                        comment=f"resolved by {username}",
                    )
                outcomes[username] = "resolved"
            except AlertConflict:
                outcomes[username] = "conflict"
            except Exception as error:  # reported, so a failure shows what went wrong
                outcomes[username] = f"error: {error!r}"

    threads = [threading.Thread(target=act, args=(name,)) for name in ("dr_a", "dr_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["conflict", "resolved"]
    with make() as session:
        assert _events(session, alert_id) == ["raised", "resolved"]
        winner = next(name for name, result in outcomes.items() if result == "resolved")
        comment = session.scalars(
            select(AlertEvent.comment_text).where(AlertEvent.event_type == "resolved")
        ).one()
        assert comment == f"resolved by {winner}"
    engine.dispose()


def test_the_engine_never_overwrites_a_users_change(alert_store: tuple[str, int]) -> None:
    """The engine reads the alerts, a clinician resolves one, then the engine applies an update
    it planned before: the resolution stands and the update is skipped."""
    url, subject_id = alert_store
    engine = create_store_engine(url)
    make = session_factory(engine)
    with make() as session, session.begin():
        _run(session, subject_id, _candidate(subject_id, 2))
        alert_id = session.scalars(select(Alert.alert_id)).one()
    with make() as pipeline:
        pipeline.begin()
        more_days = _candidate(subject_id, 2, evidence={"peak_grade": 2, "days": [1, 2, 3, 4]})
        actions = plan(more_days, existing_alerts(pipeline, [subject_id]))
        assert [a.kind for a in actions] == ["update"]
        with make() as clinician, clinician.begin():
            transition(
                clinician, alert_id, find_user(clinician, "dr_a"), "resolve", comment="resolved"
            )
        counts = apply_actions(pipeline, actions)
        pipeline.commit()
    assert counts == {"skipped": 1}
    with make() as session:
        assert session.get(Alert, alert_id).status == "resolved"  # type: ignore[union-attr]
        assert _events(session, alert_id) == ["raised", "resolved"]
    engine.dispose()
