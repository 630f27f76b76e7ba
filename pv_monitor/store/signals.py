"""Signal tracking (GVP Module IX): analysis runs, potential signals and their decisions.

A statistical hit is recorded as a *potential signal* (status ``new``) linked to the analysis run
that raised it, with the method family, parameters, thresholds, data cut, software version and
the statistic values at detection (pharmacovigilance.md §1.2 and §8). Only a person moves it on,
and only along ``vocabulary.SIGNAL_TRANSITIONS``; every decision needs a rationale and records
who decided, with which role, at the server's time; the decisions that end a signal (``refuted``,
``closed``) also need an electronic signature: the user re-enters their password, and the
signer's printed name and the meaning of the signature are stored with the decision
(21 CFR 11.50, 11.200). Every change is a ``signal_event`` and an audit entry in the same
transaction; a decision is made only if the signal is still in the status the user saw (a
conditional UPDATE), so two officers deciding at once cannot overwrite each other.

Roles: safety officers and admins decide; everyone who may open the signals page reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pv_monitor import __version__
from pv_monitor.reference.products import find_product
from pv_monitor.store.audit import Change, json_ready, record_changes
from pv_monitor.store.engine import conditional_update
from pv_monitor.store.models import AnalysisRun, AppUser, Product, Signal, SignalEvent
from pv_monitor.store.users import verify_password
from pv_monitor.vocabulary import (
    METHOD_FAMILIES,
    SIGNAL_SIGNED_STATUSES,
    SIGNAL_STATUSES,
    SIGNAL_TRANSITIONS,
)

DECIDE_ROLES = ("safety_officer", "admin")
OPEN_STATUSES = ("new", "under_validation", "validated", "under_assessment")
VALIDATION_SOP_DAYS = 30
"""Default SOP timeline from detection to the validation decision, in days. Configurable per call
(``validation_due_days``); the number is this project's default, not a regulatory figure
[UNCONFIRMED] (pharmacovigilance.md §8 asks only that overdue validations be flagged)."""
SIGNATURE_MEANINGS = {
    "refuted": "signal refuted (not validated): decision approved",
    "closed": "signal closed: assessment and recommendation approved",
}


class SignalError(ValueError):
    """A signal decision that is not allowed: role, transition, rationale or signature."""


class SignalConflict(SignalError):
    """The signal changed since the user saw it."""


@dataclass(frozen=True)
class RunDescription:
    """What an analysis run did: method, parameters, thresholds and the data it read."""

    method_family: str
    method: str
    parameters: Mapping[str, Any]
    thresholds: Mapping[str, Any]
    data_from: date | None
    data_lock_point: date | None
    database_sha256: str | None


def record_analysis_run(
    session: Session, run: RunDescription, *, run_by: str, hits: int
) -> AnalysisRun:
    """Store one analysis run; its key is ``<method>-<UTC time>-<id>``."""
    if run.method_family not in METHOD_FAMILIES:
        raise SignalError(f"unknown method family {run.method_family!r}")
    now = datetime.now(UTC)
    record = AnalysisRun(
        run_key=f"pending-{now.timestamp()}",
        method_family=run.method_family,
        method=run.method,
        parameters=dict(run.parameters),
        thresholds=dict(run.thresholds),
        data_from=run.data_from,
        data_lock_point=run.data_lock_point,
        database_sha256=run.database_sha256,
        software_version=__version__,
        run_by=run_by,
        started_at=now,
        hits=hits,
    )
    session.add(record)
    session.flush()
    record.run_key = f"{run.method}-{now:%Y%m%dT%H%M%SZ}-{record.analysis_run_id}"
    record_changes(
        session,
        [
            Change(
                action="analysis_run",
                table="analysis_run",
                key=record.run_key,
                old=None,
                new={
                    "method": run.method,
                    "hits": hits,
                    "data_lock_point": _iso(run.data_lock_point),
                },
                reason=None,
            )
        ],
        actor=run_by,
    )
    session.flush()
    return record


def raise_potential_signals(
    session: Session,
    run: AnalysisRun,
    hits: pd.DataFrame,
    *,
    actor: str,
    population: str | None = None,
) -> list[Signal]:
    """Record each hit (columns ``product``, ``event`` and the statistics) as a potential signal.

    A product-event combination that already has an open signal of the same method family is not
    raised again (the open one is being worked on); one that was refuted or closed is raised
    anew, as new evidence (GVP IX: a new signal, not a reopened one). Returns the new signals.
    """
    if hits.empty:
        return []
    open_pairs = {
        (product_id, term)
        for product_id, term in session.execute(
            select(Signal.product_id, Signal.event_term).where(
                Signal.status.in_(OPEN_STATUSES), Signal.method_family == run.method_family
            )
        )
    }
    query = select(Product.generic_name, Product.product_id)
    products = dict(session.execute(query).all())
    today = run.started_at.date()
    number = _next_number(session, today.year)
    created: list[Signal] = []
    for hit in hits.to_dict("records"):
        matched = find_product(str(hit["product"]))
        product_id = products.get(matched.generic_name) if matched else None
        term = str(hit["event"])
        if (product_id, term) in open_pairs:
            continue
        statistics = json_ready({k: v for k, v in hit.items() if k not in ("product", "event")})
        signal = Signal(
            signal_key=f"SIG-{today.year}-{number:04d}",
            product_id=product_id,
            event_term=term,
            meddra_version=None,
            population=population
            or (None if product_id else f"product as reported: {hit['product']}"),
            source_type="statistical",
            method_family=run.method_family,
            analysis_run_id=run.analysis_run_id,
            analysis_run={
                "run_key": run.run_key,
                "method": run.method,
                "parameters": run.parameters,
                "thresholds": run.thresholds,
                "data_lock_point": _iso(run.data_lock_point),
                "software_version": run.software_version,
                "statistics": statistics,
            },
            status="new",
            priority=None,
            detected_on=today,
            closed_on=None,
            created_at=run.started_at,
            updated_at=run.started_at,
        )
        session.add(signal)
        session.flush()
        session.add(
            SignalEvent(
                signal_id=signal.signal_id,
                from_status=None,
                to_status="new",
                actor=actor,
                actor_role="process",
                occurred_at=run.started_at,
                rationale=f"potential signal raised by {run.run_key} ({run.method_family})",
            )
        )
        record_changes(
            session,
            [
                Change(
                    action="signal_raised",
                    table="signal",
                    key=signal.signal_key,
                    old=None,
                    new={"status": "new", "event_term": term, "run_key": run.run_key},
                    reason=None,
                )
            ],
            actor=actor,
        )
        open_pairs.add((product_id, term))
        created.append(signal)
        number += 1
    session.flush()
    return created


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _next_number(session: Session, year: int) -> int:
    count = session.scalar(
        select(func.count()).select_from(Signal).where(Signal.signal_key.like(f"SIG-{year}-%"))
    )
    return int(count or 0) + 1


def decide(
    session: Session,
    signal_id: int,
    user: AppUser,
    to_status: str,
    rationale: str,
    *,
    expected_status: str | None = None,
    password: str | None = None,
    priority: str | None = None,
) -> Signal:
    """Move a signal to ``to_status`` with the user's rationale.

    Raises
    ------
    SignalError
        The role may not decide, the transition is not allowed (the message names the current
        and the requested status), the rationale is empty, or a decision that needs a signature
        has no valid password.
    SignalConflict
        The signal changed since the user saw it as ``expected_status``.
    """
    if not user.is_active or user.role not in DECIDE_ROLES:
        raise SignalError(
            f"a {user.role} may not decide on signals (allowed: {', '.join(DECIDE_ROLES)})"
        )
    if to_status not in SIGNAL_STATUSES:
        raise SignalError(f"unknown signal status {to_status!r}")
    signal = session.get(Signal, signal_id)
    if signal is None:
        raise SignalError(f"no signal {signal_id}")
    seen = expected_status or signal.status
    if to_status not in SIGNAL_TRANSITIONS[seen]:
        allowed = ", ".join(SIGNAL_TRANSITIONS[seen]) or "none (the signal has ended)"
        raise SignalError(
            f"signal {signal.signal_key} is {seen}: it cannot become {to_status} "
            f"(allowed: {allowed})"
        )
    if not rationale or not rationale.strip():
        raise SignalError("a rationale is required for every signal decision")
    signed_name = meaning = None
    if to_status in SIGNAL_SIGNED_STATUSES:
        if not password or not verify_password(password, user.password_hash):
            raise SignalError(
                f"marking a signal {to_status} needs your electronic signature: re-enter your "
                "password"
            )
        signed_name = user.display_name or user.username
        meaning = SIGNATURE_MEANINGS[to_status]
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": to_status, "updated_at": now}
    if to_status in ("refuted", "closed"):
        values["closed_on"] = now.date()
    if priority is not None:
        values["priority"] = priority
    statement = (
        update(Signal).where(Signal.signal_id == signal_id, Signal.status == seen).values(**values)
    )
    if conditional_update(session, statement) != 1:
        raise SignalConflict(f"signal {signal.signal_key} changed since it was seen as {seen}")
    session.add(
        SignalEvent(
            signal_id=signal_id,
            from_status=seen,
            to_status=to_status,
            actor=user.username,
            actor_role=user.role,
            occurred_at=now,
            rationale=rationale.strip(),
            signed_name=signed_name,
            signature_meaning=meaning,
        )
    )
    record_changes(
        session,
        [
            Change(
                action="signal_decision",
                table="signal",
                key=signal.signal_key,
                old={"status": seen},
                new={
                    "status": to_status,
                    "priority": priority,
                    "signed_name": signed_name,
                    "signature_meaning": meaning,
                },
                reason=rationale.strip(),
            )
        ],
        actor=user.username,
    )
    session.flush()
    session.refresh(signal)
    return signal


SIGNAL_COLUMNS = (
    "signal_id",
    "signal_key",
    "product",
    "event_term",
    "meddra_version",
    "source_type",
    "method_family",
    "run_key",
    "status",
    "priority",
    "detected_on",
    "closed_on",
)


def signal_table(session: Session) -> pd.DataFrame:
    """Every signal with its product name and current status, newest first."""
    query = (
        select(
            Signal.signal_id,
            Signal.signal_key,
            func.coalesce(Product.generic_name, Signal.population).label("product"),
            Signal.event_term,
            Signal.meddra_version,
            Signal.source_type,
            Signal.method_family,
            AnalysisRun.run_key,
            Signal.status,
            Signal.priority,
            Signal.detected_on,
            Signal.closed_on,
        )
        .outerjoin(Product, Product.product_id == Signal.product_id)
        .outerjoin(AnalysisRun, AnalysisRun.analysis_run_id == Signal.analysis_run_id)
        .order_by(Signal.detected_on.desc(), Signal.signal_id.desc())
    )
    return pd.DataFrame(session.execute(query).all(), columns=list(SIGNAL_COLUMNS))


def validation_overdue(
    status: pd.Series, detected_on: pd.Series, as_of: date, days: int = VALIDATION_SOP_DAYS
) -> pd.Series:
    """True where a signal still awaits its validation decision (``new`` or
    ``under_validation``) more than ``days`` after detection, on ``as_of``.

    Examples
    --------
    >>> validation_overdue(pd.Series(["new", "validated", "under_validation"]),
    ...                    pd.Series([date(2026, 1, 1)] * 3), date(2026, 3, 1)).tolist()
    [True, False, True]
    """
    waited = pd.Series([(as_of - d).days for d in detected_on], index=status.index)
    return status.isin(("new", "under_validation")) & (waited > days)


HISTORY_COLUMNS = (
    "occurred_at",
    "from_status",
    "to_status",
    "actor",
    "actor_role",
    "rationale",
    "signed_name",
    "signature_meaning",
)


def signal_history(session: Session, signal_id: int) -> pd.DataFrame:
    """The decisions on one signal, oldest first, with signature manifestations."""
    query = (
        select(
            SignalEvent.occurred_at,
            SignalEvent.from_status,
            SignalEvent.to_status,
            SignalEvent.actor,
            SignalEvent.actor_role,
            SignalEvent.rationale,
            SignalEvent.signed_name,
            SignalEvent.signature_meaning,
        )
        .where(SignalEvent.signal_id == signal_id)
        .order_by(SignalEvent.signal_event_id)
    )
    return pd.DataFrame(session.execute(query).all(), columns=list(HISTORY_COLUMNS))


OVERVIEW_COLUMNS = (
    "signal_key",
    "product",
    "event_term",
    "meddra_version",
    "category",
    "status_at_lock",
    "detected_on",
    "closed_on",
    "source",
    "method",
    "last_decision",
    "validation_overdue",
)


def signal_overview(
    session: Session,
    interval_start: date,
    data_lock_point: date,
    *,
    validation_due_days: int = VALIDATION_SOP_DAYS,
) -> pd.DataFrame:
    """The PBRER §15 signal overview: signals new, ongoing or closed in the interval.

    The status is the one each signal had at the end of the data-lock day (rebuilt from its
    decisions, so a report for a past data-lock point does not show later decisions).
    ``validation_overdue`` flags a signal that, at the lock, had waited longer than
    ``validation_due_days`` after detection without a validation decision.
    """
    lock_end = datetime.combine(data_lock_point + timedelta(days=1), time(), tzinfo=UTC)
    events = pd.DataFrame(
        session.execute(
            select(
                SignalEvent.signal_id,
                SignalEvent.to_status,
                SignalEvent.occurred_at,
                SignalEvent.rationale,
            )
            .where(SignalEvent.occurred_at < lock_end)
            .order_by(SignalEvent.signal_id, SignalEvent.signal_event_id)
        ).all(),
        columns=["signal_id", "to_status", "occurred_at", "rationale"],
    )
    signals = signal_table(session)
    signals = signals[signals["detected_on"] <= data_lock_point]
    if signals.empty or events.empty:
        return pd.DataFrame(columns=list(OVERVIEW_COLUMNS))
    last = events.groupby("signal_id").tail(1).set_index("signal_id")
    frame = signals.join(last, on="signal_id", how="inner")
    ended = frame["to_status"].isin(("refuted", "closed"))
    ended_on = pd.to_datetime(frame["occurred_at"], utc=True).dt.date.where(ended)
    category = pd.Series("ongoing", index=frame.index)
    category[frame["detected_on"] >= interval_start] = "new"
    category[ended & (ended_on >= interval_start)] = "closed"
    keep = ~ended | (ended_on >= interval_start)
    overdue = validation_overdue(
        frame["to_status"], frame["detected_on"], data_lock_point, validation_due_days
    )
    overview = pd.DataFrame(
        {
            "signal_key": frame["signal_key"],
            "product": frame["product"],
            "event_term": frame["event_term"],
            "meddra_version": frame["meddra_version"].fillna("not stated"),
            "category": category,
            "status_at_lock": frame["to_status"],
            "detected_on": frame["detected_on"],
            "closed_on": ended_on,
            "source": frame["source_type"],
            "method": frame["method_family"].fillna(""),
            "last_decision": frame["rationale"],
            "validation_overdue": overdue,
        }
    )[keep]
    return overview.sort_values(["category", "signal_key"]).reset_index(drop=True)


__all__: Sequence[str] = (
    "DECIDE_ROLES",
    "HISTORY_COLUMNS",
    "RunDescription",
    "SignalConflict",
    "SignalError",
    "decide",
    "raise_potential_signals",
    "record_analysis_run",
    "signal_history",
    "signal_overview",
    "signal_table",
    "validation_overdue",
)
