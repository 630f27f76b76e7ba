"""Alerts: the queue (server-side filters, sorting and paging), one alert's evidence and audit,
and the workflow (acknowledge, assign, comment, resolve, dismiss)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html

from dash_app import ids
from dash_app.security import (
    NOT_PERMITTED,
    dashboard_config,
    page_user,
    require_roles,
    sessions,
)
from pv_monitor.store.alerts import (
    ACT_ROLES,
    COMMENT_ROLES,
    AlertError,
    add_comment,
    alert_history,
    alert_rows,
    assign,
    transition,
)
from pv_monitor.store.models import Alert, AppUser, Subject
from pv_monitor.store.pipeline_io import models_in_use
from pv_monitor.store.users import assignable_users, find_user

ROLES = ("clinician", "safety_officer", "admin")
"""Who may open the queue (data managers have no clinical access)."""


COLUMNS = [
    {"field": "severity", "headerName": "Severity", "width": 110},
    {"field": "syndrome", "headerName": "Syndrome", "width": 110},
    {"field": "subject_key", "headerName": "Subject", "width": 140},
    {"field": "site", "headerName": "Site", "width": 90},
    {"field": "study_day", "headerName": "Day post-infusion", "width": 120,
     "filter": "agNumberColumnFilter"},
    {"field": "status", "headerName": "Status", "width": 130},
    {"field": "age", "colId": "raised_at", "headerName": "Age", "width": 100, "filter": False},
    {"field": "assignee", "headerName": "Assignee", "width": 120},
    {"field": "title", "headerName": "Alert", "flex": 1, "minWidth": 300},
]  # fmt: skip
TEXT_FILTER = {"filter": "agTextColumnFilter", "sortable": True, "resizable": True}


def _age(raised: pd.Series, now: datetime) -> list[str]:
    """Time since an alert was raised, as a clinician says it (``45 min``, ``5 h``, ``3 d``)."""
    seconds = (pd.Timestamp(now) - pd.to_datetime(raised, utc=True)).dt.total_seconds()
    return [
        f"{int(s // 60)} min" if s < 3600 else f"{int(s // 3600)} h" if s < 86400 else
        f"{int(s // 86400)} d"
        for s in seconds.fillna(0)
    ]  # fmt: skip


def layout(**_: Any) -> html.Div:
    """The queue, the selected alert and its actions."""
    if page_user(ROLES) is None:
        return html.Div(html.P(NOT_PERMITTED, id="page-refused"))
    config = dashboard_config()
    return html.Div(
        [
            html.H1("Alerts"),
            html.P(_model_status(), id=ids.ALERTS_MODEL_STATUS, className="note"),
            dag.AgGrid(
                id=ids.ALERTS_GRID,
                columnDefs=COLUMNS,
                defaultColDef=TEXT_FILTER,
                rowModelType="infinite",
                getRowId="params.data.alert_id",
                dashGridOptions={
                    "rowSelection": {
                        "mode": "singleRow",
                        "checkboxes": False,
                        "enableClickSelection": True,
                    },
                    "cacheBlockSize": 100,
                    "maxBlocksInCache": 10,
                    "infiniteInitialRowCount": 1,
                },
                style={"height": "420px"},
            ),
            dcc.Interval(id=ids.ALERTS_REFRESH, interval=config.refresh_seconds * 1000),
            dcc.Store(id=ids.ALERTS_REFRESHED),
            dcc.Store(id=ids.ALERTS_SELECTED),
            html.Div(id=ids.ALERTS_DETAIL, className="panel"),
            html.Div(
                [
                    dcc.Textarea(
                        id=ids.ALERTS_COMMENT,
                        placeholder="Comment (required to resolve or dismiss)",
                        style={"width": "100%", "height": "4rem"},
                    ),
                    dcc.Dropdown(id=ids.ALERTS_ASSIGNEE, placeholder="Assign to ..."),
                    html.Div(
                        [
                            html.Button(
                                action.capitalize(),
                                id=f"{ids.ALERTS_ACTION}-{action}",
                                n_clicks=0,
                            )
                            for action in ids.ALERTS_ACTIONS
                        ],
                        className="actions",
                    ),
                    html.P(id=ids.ALERTS_MESSAGE, role="status"),
                ],
                className="panel",
            ),
            html.H2("Audit of the selected alert"),
            html.Div(id=ids.ALERTS_HISTORY),
        ]
    )


def _model_status() -> str:
    """Whether alerts come from trained models too, or from published scores alone."""
    with sessions()() as session:
        models = models_in_use(session)
    alerting = [m for m in models if ">=" in m]
    if not alerting:
        return (
            "Alerts come from the published scores and rules alone: no trained model is set to "
            "alert (a model alerts only after it reaches the site's minimum cross-validated "
            "AUROC and the site sets an alert probability; docs/models.md)."
        )
    return "Trained models that may alert: " + ", ".join(alerting) + "."


@callback(Output(ids.ALERTS_GRID, "getRowsResponse"), Input(ids.ALERTS_GRID, "getRowsRequest"))
def rows(request: dict[str, Any] | None) -> Any:
    """One block of the queue, filtered, sorted and paged in SQL."""
    user = require_roles(*ROLES)
    if not request:
        return dash.no_update
    try:
        with sessions()() as session:
            page, total = alert_rows(
                session,
                user.scope,
                start=int(request.get("startRow", 0)),
                end=int(request.get("endRow", 100)),
                sort_model=request.get("sortModel") or [],
                filter_model=request.get("filterModel") or {},
            )
    except AlertError:
        return {"rowData": [], "rowCount": 0}
    page["age"] = _age(page["raised_at"], datetime.now(UTC))
    page = page.drop(columns=["raised_at", "updated_at"])
    records = json.loads(page.to_json(orient="records"))
    return {"rowData": records, "rowCount": total}


clientside_callback(
    """function(tick, changed) {
        dash_ag_grid.getApiAsync("alerts-grid").then(api => api.refreshInfiniteCache());
        return window.dash_clientside.no_update;
    }""",
    Output(ids.ALERTS_GRID, "id"),
    Input(ids.ALERTS_REFRESH, "n_intervals"),
    Input(ids.ALERTS_REFRESHED, "data"),
    prevent_initial_call=True,
)


def _detail(alert: Alert, subject_key: str) -> html.Div:
    return html.Div(
        [
            html.H2(alert.title),
            html.P(
                f"{alert.severity} - {alert.syndrome} - rule {alert.rule_id} v{alert.rule_version}"
                f" - status {alert.status} - day {alert.study_day}"
            ),
            dcc.Link(
                f"Open the timeline of {subject_key}",
                href=f"/patient/{alert.subject_id}",
                id="alerts-patient-link",
            ),
            html.H3("Why it fired"),
            html.Pre(json.dumps(alert.evidence, indent=1, default=str)),
        ]
    )


def _history(frame: pd.DataFrame) -> html.Table:
    header = ["when (UTC)", "who", "event", "from", "to", "comment"]
    body = [
        html.Tr(
            [
                html.Td(str(row.occurred_at)[:19]),
                html.Td(str(row.actor)),
                html.Td(str(row.event_type)),
                html.Td(str(row.from_status or "")),
                html.Td(str(row.to_status or "")),
                html.Td(str(row.comment_text or "")),  # shown as text, never as HTML
            ]
        )
        for row in frame.itertuples()
    ]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)])


def _show(alert_id: int, user_scope: frozenset[int] | None) -> tuple[Any, Any, Any, Any]:
    with sessions()() as session:
        history = alert_history(session, alert_id, user_scope)
        alert = session.get(Alert, alert_id)
        subject = session.get(Subject, alert.subject_id) if alert is not None else None
        if alert is None or subject is None or subject.site_id is None:
            raise AlertError(f"no alert {alert_id}")
        options = assignable_users(session, subject.site_id, ACT_ROLES)
        selected = {"alert_id": alert_id, "status": alert.status}
        return _detail(alert, subject.subject_key), _history(history), options, selected


@callback(
    Output(ids.ALERTS_DETAIL, "children"),
    Output(ids.ALERTS_HISTORY, "children"),
    Output(ids.ALERTS_ASSIGNEE, "options"),
    Output(ids.ALERTS_SELECTED, "data"),
    Input(ids.ALERTS_GRID, "selectedRows"),
    prevent_initial_call=True,
)
def select(selected: list[dict[str, Any]] | None) -> Any:
    """Show the selected alert: why it fired, and its audit."""
    user = require_roles(*ROLES)
    if not selected:
        return html.P("Select an alert."), None, [], None
    try:
        return _show(int(selected[0]["alert_id"]), user.scope)
    except AlertError as error:
        return html.P(str(error)), None, [], None


@callback(
    Output(ids.ALERTS_MESSAGE, "children"),
    Output(ids.ALERTS_REFRESHED, "data"),
    Output(ids.ALERTS_DETAIL, "children", allow_duplicate=True),
    Output(ids.ALERTS_HISTORY, "children", allow_duplicate=True),
    Output(ids.ALERTS_SELECTED, "data", allow_duplicate=True),
    Output(ids.ALERTS_COMMENT, "value"),
    *(Input(f"{ids.ALERTS_ACTION}-{action}", "n_clicks") for action in ids.ALERTS_ACTIONS),
    State(ids.ALERTS_SELECTED, "data"),
    State(ids.ALERTS_COMMENT, "value"),
    State(ids.ALERTS_ASSIGNEE, "value"),
    prevent_initial_call=True,
)
def act(*args: Any) -> Any:
    """Apply the clicked action to the selected alert through the workflow service (role,
    site and state checks, audit), then refresh the queue for everyone's next refresh."""
    selected, comment, assignee = args[-3:]
    action = str(ctx.triggered_id).removeprefix(f"{ids.ALERTS_ACTION}-")
    user = require_roles(*(COMMENT_ROLES if action == "comment" else ACT_ROLES))
    if not selected:
        return "Select an alert first.", *(dash.no_update,) * 5
    message = _apply(user.username, action, selected, comment, assignee)
    if message is not None:
        return message, *(dash.no_update,) * 5
    detail, history, _, now_selected = _show(int(selected["alert_id"]), user.scope)
    done = f"Alert {selected['alert_id']}: {action} done."
    return done, datetime.now(UTC).isoformat(), detail, history, now_selected, ""


def _apply(
    username: str, action: str, selected: dict[str, Any], comment: str | None, assignee: str | None
) -> str | None:
    """Run one workflow action in its own transaction; the refusal's message, or ``None``."""
    alert_id = int(selected["alert_id"])
    try:
        with sessions()() as session, session.begin():
            actor: AppUser = find_user(session, username)
            if action == "assign":
                if not assignee:
                    return "Choose whom to assign the alert to."
                assign(session, alert_id, actor, find_user(session, assignee))
            elif action == "comment":
                add_comment(session, alert_id, actor, comment or "")
            else:
                transition(
                    session,
                    alert_id,
                    actor,
                    action,
                    expected_status=selected["status"],
                    comment=comment,
                )
    except (AlertError, LookupError, ValueError) as error:
        return f"Not done: {error}"
    return None


dash.register_page(__name__, path="/alerts", name="Alerts", order=1, roles=ROLES, layout=layout)
