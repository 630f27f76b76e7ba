"""Alerts in the store: what the rules read, applying the engine's actions, and the workflow.

Every change to an alert is an ``alert_event`` and an audit entry, in the same transaction.
Workflow transitions are service functions with role and site checks; each one changes the
alert only if it is still in the state the user acted on (a conditional UPDATE), so two users
acting on the same alert at once cannot overwrite each other: the second is told the alert
changed (:class:`AlertConflict`).

Transitions (``ALERT_TRANSITIONS``): open -> acknowledged; open or acknowledged -> resolved or
dismissed (a comment is required); assignment and comments in any state but closed ones.
Roles: clinicians and admins act on alerts; safety officers may comment; data managers may not
act. A clinician acts only on the subjects of their sites
(:func:`~pv_monitor.store.users.site_scope`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from pv_monitor.alerts.engine import Action
from pv_monitor.alerts.rules import DerivedFrames
from pv_monitor.grading.reconcile import reconcile
from pv_monitor.relapse.markers import MARKER_CODES
from pv_monitor.store.audit import Change, json_ready, record_changes
from pv_monitor.store.engine import conditional_update
from pv_monitor.store.models import (
    AdverseEvent,
    Alert,
    AlertEvent,
    AppUser,
    DiseaseAssessment,
    Infusion,
    Measurement,
    Product,
    RiskScore,
    Site,
    Subject,
    ToxicityEpisode,
    ToxicityGrade,
)
from pv_monitor.store.pipeline_io import read_frame, reconciliation_inputs
from pv_monitor.store.users import site_scope
from pv_monitor.vocabulary import ALERT_SEVERITIES

ACT_ROLES = ("clinician", "admin")
COMMENT_ROLES = ("clinician", "safety_officer", "admin")
ALERT_TRANSITIONS = {
    "acknowledge": (("open",), "acknowledged"),
    "resolve": (("open", "acknowledged"), "resolved"),
    "dismiss": (("open", "acknowledged"), "dismissed"),
}
PIPELINE_ACTOR = "pipeline"


class AlertError(ValueError):
    """The user may not do this to this alert (role, site, state, missing comment)."""


class AlertConflict(AlertError):
    """The alert changed since the user saw it (another user acted first)."""


# ---- what the rules read ---------------------------------------------------------------


def rule_frames(session: Session, subject_ids: Sequence[int], daily: pd.DataFrame) -> DerivedFrames:
    """The derived rows of ``subject_ids`` as the rules read them.

    ``daily`` is the graded day frame the pipeline has just written (``subject_id, infusion_id,
    study_day, temp_c_max, sedated`` and the CRS/ICANS grade, reason and provisional columns):
    it is passed in rather than read back.
    """
    daily = daily.assign(icans_provisional=daily["icans_provisional"].fillna(False).astype(bool))
    episode_table, score_table = ToxicityEpisode.__table__, RiskScore.__table__
    episodes = read_frame(
        session, select(*episode_table.c).where(episode_table.c.subject_id.in_(subject_ids))
    )
    scores = read_frame(
        session, select(*score_table.c).where(score_table.c.subject_id.in_(subject_ids))
    )
    course = read_frame(
        session,
        select(
            ToxicityGrade.subject_id,
            ToxicityGrade.infusion_id,
            ToxicityGrade.study_day,
            ToxicityGrade.criteria_version,
            ToxicityGrade.grade,
            ToxicityGrade.reason,
        ).where(ToxicityGrade.subject_id.in_(subject_ids), ToxicityGrade.syndrome == "icaht"),
    )
    infusions = read_frame(
        session,
        select(
            Infusion.subject_id,
            Infusion.infusion_id,
            Infusion.infusion_date,
            Product.generic_name.label("product"),
            Product.target_antigen,
        )
        .join(Product, Product.product_id == Infusion.product_id)
        .where(Infusion.subject_id.in_(subject_ids)),
    )
    events = read_frame(
        session,
        select(
            AdverseEvent.subject_id,
            AdverseEvent.term,
            AdverseEvent.onset_date,
            AdverseEvent.reported_grade,
            AdverseEvent.grading_scale,
        ).where(AdverseEvent.subject_id.in_(subject_ids)),
    )
    first = infusions.sort_values("infusion_date").drop_duplicates("subject_id")
    events = events.merge(first[["subject_id", "infusion_id", "infusion_date"]], on="subject_id")
    events["onset_day"] = (
        pd.to_datetime(events["onset_date"]) - pd.to_datetime(events["infusion_date"])
    ).dt.days
    keys = read_frame(
        session,
        select(Subject.subject_key, Subject.subject_id).where(Subject.subject_id.in_(subject_ids)),
    )
    inputs = reconciliation_inputs(session, ("crs", "icans"), subject_ids)
    table = reconcile(inputs.reported, inputs.derived, inputs.gradable)
    table = table.merge(keys.rename(columns={"subject_key": "subject"}), on="subject")
    table = table.merge(first[["subject_id", "infusion_id"]], on="subject_id")
    markers = read_frame(
        session,
        select(
            Measurement.subject_id,
            Measurement.code,
            Measurement.measured_at.label("at"),
            Measurement.value,
            Measurement.unit,
        ).where(Measurement.subject_id.in_(subject_ids), Measurement.code.in_(list(MARKER_CODES))),
    )
    assessments = read_frame(
        session,
        select(
            DiseaseAssessment.subject_id,
            DiseaseAssessment.assessed_on,
            DiseaseAssessment.response,
            DiseaseAssessment.is_relapse,
            DiseaseAssessment.mrd_fraction,
            DiseaseAssessment.antigen_status,
        ).where(DiseaseAssessment.subject_id.in_(subject_ids)),
    )
    return DerivedFrames(
        daily, episodes, scores, course, events, infusions, table, markers, assessments
    )


def existing_alerts(session: Session, subject_ids: Sequence[int]) -> pd.DataFrame:
    """The stored alerts of ``subject_ids`` in the engine's shape (``engine.EXISTING_COLUMNS``)."""
    rows = session.execute(
        select(
            Alert.alert_id,
            Alert.subject_id,
            Alert.rule_id,
            Alert.episode_key,
            Alert.status,
            Alert.evidence,
            Alert.evidence_sha256,
        ).where(Alert.subject_id.in_(subject_ids))
    ).all()
    records = [
        {
            "alert_id": r.alert_id,
            "subject_id": r.subject_id,
            "rule_id": r.rule_id,
            "episode_key": r.episode_key,
            "status": r.status,
            "level": int((r.evidence or {}).get("level", 0)),
            "evidence_sha256": r.evidence_sha256,
        }
        for r in rows
    ]
    return pd.DataFrame(
        records,
        columns=[
            "alert_id",
            "subject_id",
            "rule_id",
            "episode_key",
            "status",
            "level",
            "evidence_sha256",
        ],
    )


_SEVERITY_ORDER = {s: -i for i, s in enumerate(ALERT_SEVERITIES)}  # most severe first


def alert_queue(session: Session, status: str | None, limit: int) -> pd.DataFrame:
    """Alerts (of ``status``, or all), most severe first, then newest, with the subject key."""
    query = select(
        Alert.alert_id,
        Alert.severity,
        Subject.subject_key,
        Alert.study_day,
        Alert.rule_id,
        Alert.title,
        Alert.status,
        Alert.raised_at,
    ).join(Subject, Subject.subject_id == Alert.subject_id)
    if status is not None:
        query = query.where(Alert.status == status)
    queue = read_frame(session, query)
    queue["order"] = queue["severity"].map(_SEVERITY_ORDER)
    queue = queue.sort_values(["order", "raised_at"], ascending=[True, False]).head(limit)
    queue["study_day"] = queue["study_day"].astype(object).where(queue["study_day"].notna(), None)
    return queue.drop(columns="order")


# ---- the dashboard's queue: server-side filters, sorting and paging ---------------------

_SEVERITY_RANK = case(*((Alert.severity == s, i) for i, s in enumerate(ALERT_SEVERITIES)), else_=-1)
QUEUE_COLUMNS: dict[str, Any] = {
    "alert_id": Alert.alert_id,
    "severity": Alert.severity,
    "syndrome": Alert.syndrome,
    "subject_key": Subject.subject_key,
    "site": Site.site_key,
    "study_day": Alert.study_day,
    "status": Alert.status,
    "raised_at": Alert.raised_at,
    "updated_at": Alert.updated_at,
    "assignee": AppUser.username,
    "rule_id": Alert.rule_id,
    "title": Alert.title,
}
"""The queue's columns, by the names the grid uses; sorting and filtering accept only these."""
_SORT_KEYS: dict[str, Any] = QUEUE_COLUMNS | {"severity": _SEVERITY_RANK}
_TEXT_FILTERS: dict[str, Callable[[Any, str], Any]] = {
    "contains": lambda c, v: func.lower(c).contains(v.lower(), autoescape=True),
    "notContains": lambda c, v: ~func.lower(c).contains(v.lower(), autoescape=True),
    "equals": lambda c, v: func.lower(c) == v.lower(),
    "notEqual": lambda c, v: func.lower(c) != v.lower(),
    "startsWith": lambda c, v: func.lower(c).startswith(v.lower(), autoescape=True),
    "endsWith": lambda c, v: func.lower(c).endswith(v.lower(), autoescape=True),
}
_NUMBER_FILTERS: dict[str, Callable[[Any, float], Any]] = {
    "equals": lambda c, v: c == v,
    "notEqual": lambda c, v: c != v,
    "greaterThan": lambda c, v: c > v,
    "greaterThanOrEqual": lambda c, v: c >= v,
    "lessThan": lambda c, v: c < v,
    "lessThanOrEqual": lambda c, v: c <= v,
}


def _condition(column: Any, spec: Mapping[str, Any]) -> Any:
    """One AG Grid filter condition as SQL (bound parameters only)."""
    kind = spec.get("type")
    if kind == "blank":
        return column.is_(None)
    if kind == "notBlank":
        return column.is_not(None)
    if spec.get("filterType") == "number":
        if kind == "inRange":
            return column.between(float(spec["filter"]), float(spec["filterTo"]))
        if kind in _NUMBER_FILTERS:
            return _NUMBER_FILTERS[kind](column, float(spec["filter"]))
    elif kind in _TEXT_FILTERS:
        return _TEXT_FILTERS[kind](column, str(spec["filter"]))
    raise AlertError(f"unsupported filter {spec.get('filterType')}:{kind}")


def _filters(model: Mapping[str, Any]) -> list[Any]:
    """AG Grid's ``filterModel`` as SQL conditions; an unknown column is refused."""
    clauses = []
    for name, spec in model.items():
        if name not in QUEUE_COLUMNS:
            raise AlertError(f"cannot filter on {name!r}")
        column = QUEUE_COLUMNS[name]
        if "conditions" in spec:
            parts = [_condition(column, c) for c in spec["conditions"]]
            clauses.append(or_(*parts) if spec.get("operator") == "OR" else and_(*parts))
        else:
            clauses.append(_condition(column, spec))
    return clauses


def _order(sort_model: Sequence[Mapping[str, Any]]) -> list[Any]:
    """AG Grid's ``sortModel`` as ORDER BY; default most severe first, then newest."""
    order = []
    for item in sort_model:
        name = item.get("colId")
        if name not in _SORT_KEYS:
            raise AlertError(f"cannot sort on {name!r}")
        key = _SORT_KEYS[name]
        order.append(key.desc() if item.get("sort") == "desc" else key.asc())
    return [*order, _SEVERITY_RANK.desc(), Alert.raised_at.desc(), Alert.alert_id.desc()]


def alert_rows(
    session: Session,
    scope: frozenset[int] | None,
    *,
    start: int = 0,
    end: int = 100,
    sort_model: Sequence[Mapping[str, Any]] = (),
    filter_model: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, int]:
    """One page of the alert queue (rows ``start`` to ``end``) and the number of alerts that
    match the filters, for a user who sees the sites ``scope`` (``None``: every site).

    Filters and sorting follow AG Grid's ``filterModel`` and ``sortModel`` and run in SQL. The
    block's alert ids are sorted and paged first, counting the matches in the same pass, and
    only those rows are read in full: sorting every matching alert's full row before ``OFFSET``,
    and a separate count, were most of the queue's time with 80,000 alerts
    (``benchmarks/bench_dashboard.py``).

    Raises
    ------
    AlertError
        A filter or sort on a column the queue does not have, or an unsupported filter type.
    """
    conditions = _filters(filter_model or {})
    if scope is not None:
        conditions.append(Subject.site_id.in_(scope))
    order = _order(sort_model)
    ids = _queue_select(Alert.alert_id, func.count().over().label("_matches")).where(*conditions)
    block = ids.order_by(*order).offset(max(start, 0)).limit(max(end - start, 0)).subquery()
    page = read_frame(
        session,
        _queue_select(*(c.label(n) for n, c in QUEUE_COLUMNS.items()), block.c._matches)
        .join(block, block.c.alert_id == Alert.alert_id)
        .order_by(*order),
    )
    matches = page.pop("_matches")
    if len(page):
        return page, int(matches.iloc[0])
    total = session.scalar(select(func.count()).select_from(ids.subquery()))  # past the end
    return page, int(total or 0)


def _queue_select(*columns: Any) -> Select[Any]:
    """``columns`` of alerts joined to what the queue shows and filters (subject, site,
    assignee)."""
    return (
        select(*columns)
        .join(Subject, Subject.subject_id == Alert.subject_id)
        .join(Site, Site.site_id == Subject.site_id)
        .outerjoin(AppUser, AppUser.app_user_id == Alert.assigned_to_id)
    )


def alert_history(session: Session, alert_id: int, scope: frozenset[int] | None) -> pd.DataFrame:
    """Every event of one alert, oldest first (the workflow's own audit: who did what, when,
    with which comment), if the alert is within ``scope``.

    Raises
    ------
    AlertError
        No such alert, or it is outside the user's sites.
    """
    _require_in_scope(session, _get(session, alert_id), scope, "the user")
    return read_frame(
        session,
        select(
            AlertEvent.occurred_at,
            AlertEvent.actor,
            AlertEvent.event_type,
            AlertEvent.from_status,
            AlertEvent.to_status,
            AlertEvent.comment_text,
            AlertEvent.details,
        )
        .where(AlertEvent.alert_id == alert_id)
        .order_by(AlertEvent.occurred_at, AlertEvent.alert_event_id),
    )


# ---- applying the engine's actions -----------------------------------------------------


def apply_actions(session: Session, actions: Sequence[Action]) -> dict[str, int]:
    """Write the engine's actions: alerts, their events, and the audit entries."""
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    changes: list[Change] = []
    for action in actions:
        before: str | None
        after: str | None
        c = action.candidate
        evidence = {"level": c["level"], "rule_evidence": json_ready(c["evidence"])}
        values = {
            "severity": c["severity"],
            "title": c["title"],
            "study_day": None if pd.isna(c["study_day"]) else int(c["study_day"]),
            "evidence": evidence,
            "evidence_sha256": c["evidence_sha256"],
            "updated_at": now,
        }
        if action.kind == "raise":
            alert = Alert(
                subject_id=int(c["subject_id"]),
                infusion_id=None if pd.isna(c["infusion_id"]) else int(c["infusion_id"]),
                rule_id=c["rule_id"],
                rule_version=c["rule_version"],
                syndrome=c["syndrome"],
                episode_key=c["episode_key"],
                status="open",
                raised_at=now,
                **values,
            )
            session.add(alert)
            session.flush()
            alert_id, before, after = alert.alert_id, None, "open"
        else:
            after = "open" if action.kind in ("escalate", "reopen") else action.previous_status
            statement = (
                update(Alert)
                .where(Alert.alert_id == action.alert_id, Alert.status == action.previous_status)
                .values(status=after, rule_version=c["rule_version"], **values)
            )
            if conditional_update(session, statement) != 1:
                # a user changed the alert since the engine read it: their change stands, and
                # the next run compares the candidate with it again
                counts["skipped"] = counts.get("skipped", 0) + 1
                continue
            alert_id, before = int(action.alert_id or 0), action.previous_status
        event = {
            "raise": "raised",
            "escalate": "escalated",
            "update": "updated",
            "reopen": "reopened",
        }[action.kind]
        details = {
            "level": c["level"],
            "previous_level": action.previous_level,
            "severity": c["severity"],
            "title": c["title"],
        }
        session.add(
            AlertEvent(
                alert_id=alert_id,
                event_type=event,
                from_status=before,
                to_status=after,
                actor=PIPELINE_ACTOR,
                occurred_at=now,
                details=details,
            )
        )
        changes.append(
            Change(
                action=f"alert_{event}",
                table="alert",
                key=str(alert_id),
                old={"status": before} if before else None,
                new={"status": after, **details},
                reason=c["rule_id"],
            )
        )
        counts[event] = counts.get(event, 0) + 1
    if changes:
        record_changes(session, changes, actor=PIPELINE_ACTOR)
    return counts


# ---- the workflow ----------------------------------------------------------------------


def _check(session: Session, alert: Alert, user: AppUser, roles: tuple[str, ...]) -> None:
    if not user.is_active:
        raise AlertError(f"user {user.username} is not active")
    if user.role not in roles:
        raise AlertError(f"a {user.role} may not do this (allowed: {', '.join(roles)})")
    _require_in_scope(session, alert, site_scope(session, user), user.username)


def _require_in_scope(
    session: Session, alert: Alert, scope: frozenset[int] | None, who: str
) -> None:
    """Refuse an alert whose subject is outside ``scope`` (``None``: every site)."""
    if scope is None:
        return
    site = session.scalar(select(Subject.site_id).where(Subject.subject_id == alert.subject_id))
    if site not in scope:
        raise AlertError(f"alert {alert.alert_id} is outside {who}'s sites")


def _get(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertError(f"no alert {alert_id}")
    return alert


def transition(
    session: Session,
    alert_id: int,
    user: AppUser,
    action: str,
    *,
    expected_status: str | None = None,
    comment: str | None = None,
) -> Alert:
    """Move an alert through its lifecycle (``acknowledge``, ``resolve`` or ``dismiss``).

    ``expected_status`` is the status the user saw (default: the alert's status now); the
    change is made only if the alert still has it.

    Raises
    ------
    AlertError
        Role, site or state forbids it, or a resolution/dismissal has no comment.
    AlertConflict
        The alert changed since the user saw it.
    """
    if action not in ALERT_TRANSITIONS:
        raise AlertError(f"unknown action {action!r}")
    allowed, target = ALERT_TRANSITIONS[action]
    alert = _get(session, alert_id)
    _check(session, alert, user, ACT_ROLES)
    seen = expected_status or alert.status
    if seen not in allowed:
        raise AlertError(f"cannot {action} an alert that is {seen}")
    if target in ("resolved", "dismissed") and not (comment and comment.strip()):
        raise AlertError(f"a comment is required to mark an alert {target}")
    now = datetime.now(UTC)
    statement = (
        update(Alert)
        .where(Alert.alert_id == alert_id, Alert.status == seen)
        .values(status=target, updated_at=now)
    )
    if conditional_update(session, statement) != 1:
        raise AlertConflict(f"alert {alert_id} changed since it was seen as {seen}")
    _event(session, alert_id, user, target, seen, target, comment, now)  # event = new status
    session.refresh(alert)
    return alert


def assign(session: Session, alert_id: int, user: AppUser, assignee: AppUser) -> Alert:
    """Assign an open or acknowledged alert to a clinician (or admin)."""
    alert = _get(session, alert_id)
    _check(session, alert, user, ACT_ROLES)
    if assignee.role not in ACT_ROLES or not assignee.is_active:
        raise AlertError(f"{assignee.username} cannot take alerts")
    if alert.status not in ("open", "acknowledged"):
        raise AlertError(f"cannot assign an alert that is {alert.status}")
    before = alert.assigned_to_id
    now = datetime.now(UTC)
    statement = (
        update(Alert)
        .where(
            Alert.alert_id == alert_id,
            Alert.status == alert.status,
            Alert.assigned_to_id.is_(None) if before is None else Alert.assigned_to_id == before,
        )
        .values(assigned_to_id=assignee.app_user_id, updated_at=now)
    )
    if conditional_update(session, statement) != 1:
        raise AlertConflict(f"alert {alert_id} changed since it was seen")
    _event(
        session,
        alert_id,
        user,
        "assigned",
        alert.status,
        alert.status,
        None,
        now,
        {"assigned_to": assignee.username},
    )
    session.refresh(alert)
    return alert


def add_comment(session: Session, alert_id: int, user: AppUser, text: str) -> AlertEvent:
    """A comment on an alert (any state); comments never change the alert."""
    if not text.strip():
        raise AlertError("an empty comment")
    alert = _get(session, alert_id)
    _check(session, alert, user, COMMENT_ROLES)
    return _event(
        session, alert_id, user, "commented", alert.status, alert.status, text, datetime.now(UTC)
    )


def _event(
    session: Session,
    alert_id: int,
    user: AppUser,
    event_type: str,
    before: str,
    after: str,
    comment: str | None,
    when: datetime,
    details: dict[str, Any] | None = None,
) -> AlertEvent:
    event = AlertEvent(
        alert_id=alert_id,
        event_type=event_type,
        from_status=before,
        to_status=after,
        actor=user.username,
        occurred_at=when,
        comment_text=comment,
        details=details,
    )
    session.add(event)
    record_changes(
        session,
        [
            Change(
                action=f"alert_{event_type}",
                table="alert",
                key=str(alert_id),
                old={"status": before},
                new={"status": after, **(details or {})},
                reason=comment,
            )
        ],
        actor=user.username,
    )
    session.flush()
    return event
