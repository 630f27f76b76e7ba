"""Signal tracking in a real store (SQLite and PostgreSQL): potential signals raised from a run,
the GVP IX status machine, rationale and signature, conflicts, audit, and the PBRER overview."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from pv_monitor.cli import upgrade_store
from pv_monitor.store.audit import verify_audit_chain
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import AuditLog, Signal, SignalEvent
from pv_monitor.store.signals import (
    RunDescription,
    SignalConflict,
    SignalError,
    decide,
    raise_potential_signals,
    record_analysis_run,
    signal_history,
    signal_overview,
    signal_table,
)
from pv_monitor.store.users import add_user, find_user

RUN = RunDescription(
    method_family="disproportionality",
    method="gps",
    parameters={"stratified": False},
    thresholds={"eb05": 2.0},
    data_from=date(2026, 1, 1),
    data_lock_point=date(2026, 6, 30),
    database_sha256="0" * 64,
)
HITS = pd.DataFrame(
    {
        "product": ["YESCARTA", "axicabtagene ciloleucel", "UNKNOWN DRUG X"],
        "event": ["IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME", "HLH", "RASH"],
        "a": [12, 4, 3],
        "eb05": [2.4, 2.1, float("nan")],
    }
)


@pytest.fixture
def signal_store(store_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade_store(store_url, actor="test")
    engine = create_store_engine(store_url)
    make = session_factory(engine)
    with make() as session, session.begin():
        add_user(session, "so", "safety_officer", "pw-so", actor="test")
        add_user(session, "so2", "safety_officer", "pw-so2", actor="test")
        add_user(session, "dm", "data_manager", "pw-dm", actor="test")
    yield make
    engine.dispose()


def _raise(session: Session) -> list[Signal]:
    run = record_analysis_run(session, RUN, run_by="so", hits=len(HITS))
    return raise_potential_signals(session, run, HITS, actor="so")


def test_hits_become_potential_signals_linked_to_their_run(
    signal_store: sessionmaker[Session],
) -> None:
    with signal_store() as session, session.begin():
        signals = _raise(session)
        assert [s.status for s in signals] == ["new", "new", "new"]
        first = signals[0]
        assert first.analysis_run_id is not None
        assert first.method_family == "disproportionality"
        assert first.analysis_run is not None
        assert first.analysis_run["statistics"] == {"a": 12, "eb05": 2.4}
        assert first.analysis_run["thresholds"] == {"eb05": 2.0}
        third = signals[2].analysis_run
        assert third is not None
        assert third["statistics"]["eb05"] is None  # NaN: not computable
        assert signals[2].product_id is None
        assert signals[2].population == "product as reported: UNKNOWN DRUG X"
        # brand and generic names are one product
        assert signals[0].product_id == signals[1].product_id is not None
        # the same open combination is not raised twice
        assert _raise(session) == []
        table = signal_table(session)
        assert len(table) == 3
        assert set(table["run_key"].str.startswith("gps-")) == {True}


def test_status_machine_rationale_signature_and_audit(
    signal_store: sessionmaker[Session],
) -> None:
    with signal_store() as session, session.begin():
        signal_id = _raise(session)[0].signal_id
        so = find_user(session, "so")
        with pytest.raises(SignalError, match="a data_manager may not decide"):
            decide(session, signal_id, find_user(session, "dm"), "under_validation", "look")
        with pytest.raises(SignalError, match="is new: it cannot become validated"):
            decide(session, signal_id, so, "validated", "skip validation")
        with pytest.raises(SignalError, match="a rationale is required"):
            decide(session, signal_id, so, "under_validation", "  ")
        decide(session, signal_id, so, "under_validation", "case review started")
        decide(session, signal_id, so, "validated", "12 cases, plausible", priority="high")
        decide(session, signal_id, so, "under_assessment", "assessment by PRAC-style review")
        with pytest.raises(SignalError, match="electronic signature"):
            decide(session, signal_id, so, "closed", "label updated")
        with pytest.raises(SignalError, match="electronic signature"):
            decide(session, signal_id, so, "closed", "label updated", password="wrong")
        closed = decide(session, signal_id, so, "closed", "label updated", password="pw-so")
        assert (closed.status, closed.priority, closed.closed_on) == (
            "closed",
            "high",
            datetime.now(UTC).date(),
        )
        with pytest.raises(SignalError, match=r"allowed: none \(the signal has ended\)"):
            decide(session, signal_id, so, "under_validation", "reopen")
        history = signal_history(session, signal_id)
        assert list(history["to_status"]) == [
            "new",
            "under_validation",
            "validated",
            "under_assessment",
            "closed",
        ]
        assert list(history["actor_role"])[1:] == ["safety_officer"] * 4
        last = history.iloc[-1]
        assert last["signed_name"] == "so"
        assert "closed" in last["signature_meaning"]
        assert history["signed_name"].iloc[:-1].isna().all()
        decisions = session.scalars(
            select(AuditLog.reason).where(AuditLog.action == "signal_decision")
        ).all()
        assert decisions == [
            "case review started",
            "12 cases, plausible",
            "assessment by PRAC-style review",
            "label updated",
        ]
        assert verify_audit_chain(session).ok


def test_a_decision_on_a_stale_view_is_refused(signal_store: sessionmaker[Session]) -> None:
    with signal_store() as session, session.begin():
        signal_id = _raise(session)[0].signal_id
    with signal_store() as session, session.begin():
        decide(session, signal_id, find_user(session, "so"), "under_validation", "mine")
    with (
        signal_store() as session,
        session.begin(),
        pytest.raises(SignalConflict, match="changed since it was seen as new"),
    ):  # so2 still sees it as new
        decide(
            session,
            signal_id,
            find_user(session, "so2"),
            "under_validation",
            "also mine",
            expected_status="new",
        )
    with signal_store() as session:
        assert len(signal_history(session, signal_id)) == 2


def test_signal_history_is_append_only(signal_store: sessionmaker[Session]) -> None:
    with signal_store() as session, session.begin():
        _raise(session)
    with signal_store() as session, pytest.raises(DatabaseError):
        session.execute(update(SignalEvent).values(rationale="rewritten"))
        session.commit()


def test_overview_rebuilds_the_status_at_the_lock_and_flags_late_validation(
    signal_store: sessionmaker[Session],
) -> None:
    with signal_store() as session, session.begin():
        old, new, ended = (s.signal_id for s in _raise(session))
        so = find_user(session, "so")
        decide(session, ended, so, "under_validation", "looking")
        decide(session, ended, so, "refuted", "confounded by indication", password="pw-so")
        decide(session, new, so, "under_validation", "looking")
        # backdate: `old` was detected 90 days before the lock and never validated
        lock = datetime.now(UTC).date()
        session.execute(
            update(Signal)
            .where(Signal.signal_id == old)
            .values(detected_on=lock - timedelta(days=90))
        )
    with signal_store() as session:
        today = datetime.now(UTC).date()
        overview = signal_overview(session, today - timedelta(days=30), today).set_index(
            "signal_key"
        )
        by_status = dict(zip(overview["status_at_lock"], overview["category"], strict=True))
        assert by_status == {"new": "ongoing", "under_validation": "new", "refuted": "closed"}
        assert list(overview["validation_overdue"].sort_values()) == [False, False, True]
        assert set(overview["meddra_version"]) == {"not stated"}
        # a report locked yesterday sees none of today's signals
        assert signal_overview(session, today - timedelta(days=30), today - timedelta(days=1)).empty
        # in a later interval the refuted signal no longer appears
        later = signal_overview(session, today + timedelta(days=1), today + timedelta(days=2))
        assert set(later["status_at_lock"]) == {"new", "under_validation"}
        assert set(later["category"]) == {"ongoing"}
