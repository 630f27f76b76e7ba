"""Signals (safety officers): incidence against reference rates, CUSUM charts, the
disproportionality table with its thresholds, and the GVP IX signal workflow.

Every number is computed at the data-lock point chosen at the top of the page, by the same
functions as the periodic report (``pv_monitor.report``), so the page and the report agree.
Statistical hits are *potential signals*; only a recorded decision moves them on.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from dash_app import ids
from dash_app.security import (
    NOT_PERMITTED,
    dashboard_config,
    page_user,
    require_roles,
    sessions,
)
from pv_monitor.report.build import (
    MonitoredChart,
    disproportionality_hits,
    sequential_monitoring,
    thresholds_text,
)
from pv_monitor.report.tables import (
    cytopenia_and_hlh,
    incidence_against_reference,
    programme_incidence,
    toxicity_incidence,
)
from pv_monitor.reporting import screen_signals
from pv_monitor.signals.disproportionality import Thresholds
from pv_monitor.store.report_io import report_inputs
from pv_monitor.store.signals import (
    DECIDE_ROLES,
    HISTORY_COLUMNS,
    SignalError,
    decide,
    signal_history,
    signal_table,
    validation_overdue,
)
from pv_monitor.store.spontaneous_counts import spontaneous_counts
from pv_monitor.store.users import find_user
from pv_monitor.vocabulary import SIGNAL_SIGNED_STATUSES, SIGNAL_TRANSITIONS

ROLES = DECIDE_ROLES
GRID = {"sortable": True, "filter": True, "resizable": True}
INCIDENCE_COLUMNS = ["product", "metric", "events", "n", "proportion", "ci_lower", "ci_upper",
                     "reference_trial", "reference_value", "scale_note", "assessment"]  # fmt: skip
DPA_COLUMNS = ["product", "event", "a", "prr", "chi2", "ror", "ror_lower", "ic025", "ebgm",
               "eb05", "evans_signal", "ror_signal", "ic_signal", "eb05_signal"]  # fmt: skip
SIGNAL_COLUMNS = ["signal_id", "signal_key", "product", "event_term", "method_family", "status",
                  "priority", "detected_on", "validation_overdue", "closed_on",
                  "run_key"]  # fmt: skip


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(
        frame.to_json(orient="records", date_format="iso", double_precision=4)
    )
    return records


def _grid(grid_id: str, columns: list[str], height: str = "320px") -> dag.AgGrid:
    definitions = [{"field": c, "hide": c.endswith("_id")} for c in columns]
    return dag.AgGrid(
        id=grid_id,
        columnDefs=definitions,
        defaultColDef=GRID,
        dashGridOptions={
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}
        },
        style={"height": height},
    )


def layout(**_: Any) -> html.Div:
    """Lock and interval, then the three analyses and the signal workflow."""
    if page_user(ROLES) is None:
        return html.Div(html.P(NOT_PERMITTED, id="page-refused"))
    today = datetime.now(UTC).date()
    return html.Div(
        [
            html.H1("Signals"),
            html.P(
                "Statistical hits are potential signals until a safety officer validates them "
                "(CIOMS VIII, GVP IX). Disproportionality reads the spontaneous reports; "
                "incidence and sequential monitoring read the programme's own patients.",
                className="note",
            ),
            html.Label("Data-lock point "),
            dcc.DatePickerSingle(id=ids.SIGNALS_LOCK, date=today.isoformat()),
            html.Button("Compute", id=ids.SIGNALS_COMPUTE, n_clicks=0),
            html.H2("Incidence against pivotal-trial rates (exact 95% CI)"),
            _grid(ids.SIGNALS_INCIDENCE, INCIDENCE_COLUMNS),
            html.H2("Sequential monitoring (Bernoulli CUSUM)"),
            dcc.Dropdown(id=ids.SIGNALS_CUSUM_CHOICE, placeholder="Product and syndrome"),
            dcc.Store(id=ids.SIGNALS_CHARTS),
            dcc.Graph(id=ids.SIGNALS_CUSUM),
            html.H2("Disproportionality on spontaneous reports"),
            html.Div(
                [
                    html.Label("EB05 at least "),
                    dcc.Input(id=ids.SIGNALS_EB05, type="number", value=2.0, step=0.1, min=0),
                    html.Label(" PRR at least "),
                    dcc.Input(id=ids.SIGNALS_PRR, type="number", value=2.0, step=0.1, min=0),
                    html.Label(" reports at least "),
                    dcc.Input(id=ids.SIGNALS_MIN_A, type="number", value=3, step=1, min=1),
                ]
            ),
            html.P(id=ids.SIGNALS_DPA_NOTE, className="note"),
            _grid(ids.SIGNALS_DPA, DPA_COLUMNS),
            html.H2("Signal workflow"),
            html.Label("Screen the interval from "),
            dcc.DatePickerSingle(
                id=ids.SIGNALS_START, date=(today - timedelta(days=365)).isoformat()
            ),
            html.Button(
                "Run the screens (record potential signals)", id=ids.SIGNALS_SCREEN, n_clicks=0
            ),
            html.P(id=ids.SIGNALS_SCREEN_MESSAGE, role="status"),
            _grid(ids.SIGNALS_GRID, SIGNAL_COLUMNS, "260px"),
            dcc.Store(id=ids.SIGNALS_VERSION, data=0),
            html.Div(id=ids.SIGNALS_DETAIL),
            dag.AgGrid(
                id=ids.SIGNALS_HISTORY,
                columnDefs=[{"field": c} for c in HISTORY_COLUMNS if c != "from_status"],
                defaultColDef=GRID | {"flex": 1},
                style={"height": "200px"},
            ),
            dcc.Dropdown(id=ids.SIGNALS_TO_STATUS, placeholder="Decision"),
            dcc.Dropdown(
                id=ids.SIGNALS_PRIORITY,
                options=["high", "medium", "low"],
                placeholder="Priority (optional)",
            ),
            dcc.Textarea(
                id=ids.SIGNALS_RATIONALE,
                placeholder="Rationale (required)",
                style={"width": "100%"},
            ),
            dcc.Input(
                id=ids.SIGNALS_PASSWORD,
                type="password",
                placeholder="Password (electronic signature: refute or close)",
            ),
            html.Button("Record decision", id=ids.SIGNALS_DECIDE, n_clicks=0),
            html.P(id=ids.SIGNALS_MESSAGE, role="status"),
        ]
    )


def _lock(value: str | None) -> date:
    return date.fromisoformat(value[:10]) if value else datetime.now(UTC).date()


@callback(
    Output(ids.SIGNALS_INCIDENCE, "rowData"),
    Output(ids.SIGNALS_CHARTS, "data"),
    Output(ids.SIGNALS_CUSUM_CHOICE, "options"),
    Input(ids.SIGNALS_COMPUTE, "n_clicks"),
    State(ids.SIGNALS_LOCK, "date"),
)
def monitoring(_: int, lock: str | None) -> tuple[Any, ...]:
    """Incidence against the reference rates and the CUSUM charts at the lock."""
    require_roles(*ROLES)
    with sessions()() as session:
        inputs = report_inputs(session, _lock(lock))
    cytopenia = cytopenia_and_hlh(inputs.infusions, inputs.icaht, inputs.iec_hs)
    incidence = incidence_against_reference(
        toxicity_incidence(inputs.infusions, inputs.episodes),
        programme_incidence(inputs.infusions, inputs.adverse_events, inputs.deaths, cytopenia),
    )
    charts = sequential_monitoring(inputs)[1]
    stored = [vars(chart) | {"statistic": list(chart.statistic)} for chart in charts]
    options = [
        {"label": f"{c.product}: grade >= 3 {c.syndrome}", "value": i} for i, c in enumerate(charts)
    ]
    return _records(incidence[INCIDENCE_COLUMNS]), stored, options


@callback(
    Output(ids.SIGNALS_CUSUM, "figure"),
    Input(ids.SIGNALS_CUSUM_CHOICE, "value"),
    State(ids.SIGNALS_CHARTS, "data"),
    prevent_initial_call=True,
)
def cusum_chart(choice: int | None, charts: list[dict[str, Any]] | None) -> go.Figure:
    """The chosen CUSUM chart with its control limit."""
    require_roles(*ROLES)
    if choice is None or not charts:
        return go.Figure()
    chart = MonitoredChart(**(charts[choice] | {"statistic": tuple(charts[choice]["statistic"])}))
    patients = list(range(1, len(chart.statistic) + 1))
    figure = go.Figure(go.Scatter(x=patients, y=chart.statistic, mode="lines",
                                  line={"shape": "hv"}, name="CUSUM S"))  # fmt: skip
    figure.add_hline(y=chart.h, line_dash="dash", line_color="firebrick",
                     annotation_text=f"h = {chart.h:.2f}")  # fmt: skip
    figure.update_layout(
        title=f"{chart.product}: grade >= 3 {chart.syndrome}, p0 = {chart.p0:.3f}",
        xaxis_title="patients in infusion order",
        yaxis_title="S",
        height=320,
    )
    return figure


@callback(
    Output(ids.SIGNALS_DPA, "rowData"),
    Output(ids.SIGNALS_DPA_NOTE, "children"),
    Input(ids.SIGNALS_COMPUTE, "n_clicks"),
    Input(ids.SIGNALS_EB05, "value"),
    Input(ids.SIGNALS_PRR, "value"),
    Input(ids.SIGNALS_MIN_A, "value"),
    State(ids.SIGNALS_LOCK, "date"),
)
def disproportionality_table(
    _: int, eb05: float | None, prr: float | None, min_a: int | None, lock: str | None
) -> tuple[list[dict[str, Any]], str]:
    """Product-event combinations meeting any rule at the chosen thresholds."""
    require_roles(*ROLES)
    thresholds = Thresholds(
        name="dashboard",
        eb05_min=float(eb05 if eb05 is not None else 2.0),
        prr_min=float(prr if prr is not None else 2.0),
        evans_min_reports=int(min_a or 3),
        ror_min_reports=int(min_a or 3),
    )
    with sessions()() as session:
        counts = spontaneous_counts(session, received_to=_lock(lock))
    if counts.empty:
        return [], "No spontaneous reports are loaded."
    hits = disproportionality_hits(counts, thresholds)
    note = (
        f"{len(hits)} of {len(counts)} product-event combinations (counted in unique reports) "
        f"meet a rule: {thresholds_text(thresholds)}."
    )
    return _records(hits[DPA_COLUMNS]), note


@callback(Output(ids.SIGNALS_GRID, "rowData"), Input(ids.SIGNALS_VERSION, "data"))
def signals(_: int) -> list[dict[str, Any]]:
    """Every signal, newest first."""
    require_roles(*ROLES)
    with sessions()() as session:
        table = signal_table(session)
    today = datetime.now(UTC).date()
    table["validation_overdue"] = validation_overdue(table["status"], table["detected_on"], today)
    return _records(table[SIGNAL_COLUMNS])


@callback(
    Output(ids.SIGNALS_DETAIL, "children"),
    Output(ids.SIGNALS_HISTORY, "rowData"),
    Output(ids.SIGNALS_TO_STATUS, "options"),
    Input(ids.SIGNALS_GRID, "selectedRows"),
    prevent_initial_call=True,
)
def detail(selected: list[dict[str, Any]] | None) -> tuple[Any, ...]:
    """The selected signal's decisions and the decisions allowed next."""
    require_roles(*ROLES)
    if not selected:
        return "Select a signal.", [], []
    row = selected[0]
    with sessions()() as session:
        history = signal_history(session, int(row["signal_id"]))
    allowed = SIGNAL_TRANSITIONS.get(row["status"], ())
    options = [
        {"label": s + (" (signature)" if s in SIGNAL_SIGNED_STATUSES else ""), "value": s}
        for s in allowed
    ]
    heading = f"{row['signal_key']}: {row['product']} / {row['event_term']} ({row['status']})"
    return html.H3(heading), _records(history), options


@callback(
    Output(ids.SIGNALS_MESSAGE, "children"),
    Output(ids.SIGNALS_VERSION, "data"),
    Output(ids.SIGNALS_PASSWORD, "value"),
    Input(ids.SIGNALS_DECIDE, "n_clicks"),
    State(ids.SIGNALS_GRID, "selectedRows"),
    State(ids.SIGNALS_TO_STATUS, "value"),
    State(ids.SIGNALS_RATIONALE, "value"),
    State(ids.SIGNALS_PASSWORD, "value"),
    State(ids.SIGNALS_PRIORITY, "value"),
    State(ids.SIGNALS_VERSION, "data"),
    prevent_initial_call=True,
)
def record_decision(
    _: int,
    selected: list[dict[str, Any]] | None,
    to_status: str | None,
    rationale: str | None,
    password: str | None,
    priority: str | None,
    version: int,
) -> tuple[str, Any, str]:
    """Record the decision through the signal service (role, transition, rationale, signature,
    conflict checks and audit); the password is never kept in the page."""
    user = require_roles(*ROLES)
    if not selected or not to_status:
        return "Select a signal and a decision first.", dash.no_update, ""
    row = selected[0]
    try:
        with sessions()() as session, session.begin():
            decide(
                session,
                int(row["signal_id"]),
                find_user(session, user.username),
                to_status,
                rationale or "",
                expected_status=row["status"],
                password=password,
                priority=priority,
            )
    except (SignalError, LookupError) as error:
        return f"Not recorded: {error}", dash.no_update, ""
    done = f"{row['signal_key']}: {row['status']} -> {to_status} recorded."
    return done, (version or 0) + 1, ""


@callback(
    Output(ids.SIGNALS_SCREEN_MESSAGE, "children"),
    Output(ids.SIGNALS_VERSION, "data", allow_duplicate=True),
    Input(ids.SIGNALS_SCREEN, "n_clicks"),
    State(ids.SIGNALS_START, "date"),
    State(ids.SIGNALS_LOCK, "date"),
    State(ids.SIGNALS_VERSION, "data"),
    prevent_initial_call=True,
)
def screen(_: int, start: str | None, lock: str | None, version: int) -> tuple[str, Any]:
    """Run the statistical screens at the lock; hits become potential signals (new), recorded
    with their analysis run under the user's name (``pv_monitor.reporting.screen_signals``)."""
    user = require_roles(*ROLES)
    begin, end = _lock(start), _lock(lock)
    if begin > end:
        return "The interval starts after the data-lock point.", dash.no_update
    summary = screen_signals(dashboard_config().database_url, begin, end, actor=user.username)
    message = (
        f"Screened {begin} to {end}: {summary.disproportionality_hits} disproportionality and "
        f"{summary.sequential_hits} sequential-monitoring hits; "
        f"{summary.new_signals} new potential signals."
    )
    return message, (version or 0) + 1


dash.register_page(__name__, path="/signals", name="Signals", order=5, roles=ROLES, layout=layout)
