"""Patient: one subject's timeline from day -7, the current grades' guideline summary, alerts
and risk scores."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from dash_app import ids
from dash_app.figures import timeline_figure
from dash_app.security import NOT_PERMITTED, page_user, require_roles, sessions
from dash_app.tables import text_table
from pv_monitor.reference.management import MANAGEMENT_TITLE, management_summary
from pv_monitor.store.timeline import PatientNotVisible, patient_timeline

ROLES = ("clinician", "safety_officer", "admin")


def layout(subject_id: str | None = None, **_: Any) -> html.Div:
    """The page of ``subject_id`` (the store's subject number, from an alert's link)."""
    if page_user(ROLES) is None:
        return html.Div(html.P(NOT_PERMITTED, id="page-refused"))
    return html.Div(
        [
            dcc.Store(id=ids.PATIENT_SUBJECT, data=subject_id),
            html.Div(id=ids.PATIENT_HEADER),
            html.Div(
                [
                    dcc.Graph(id=ids.PATIENT_TIMELINE, style={"flex": "3"}),
                    html.Aside(id=ids.PATIENT_MANAGEMENT, style={"flex": "1"}),
                ],
                style={"display": "flex", "gap": "1rem"},
            ),
            html.H2("Alerts"),
            html.Div(id=ids.PATIENT_ALERTS),
            html.H2("Risk scores"),
            html.Div(id=ids.PATIENT_SCORES),
        ]
    )


def _management(days: pd.DataFrame) -> list[Any]:
    """The guideline rows for the latest graded day's CRS and ICANS grades."""
    graded = days.dropna(subset=["crs_grade", "icans_grade"], how="all")
    if graded.empty:
        return [html.H3(MANAGEMENT_TITLE), html.P("No graded day yet.")]
    latest = graded.iloc[-1]
    parts: list[Any] = [
        html.H3(MANAGEMENT_TITLE),
        html.P(
            f"Day {int(latest['study_day'])}: CRS grade {latest['crs_grade']}, "
            f"ICANS grade {latest['icans_grade']} (derived, ASTCT 2019)."
        ),
    ]
    for syndrome in ("crs", "icans"):
        rows = management_summary(syndrome, latest[f"{syndrome}_grade"])
        for row in rows.itertuples():
            tag = " [UNCONFIRMED detail]" if row.evidence == "UNCONFIRMED" else ""
            parts.append(
                html.P([html.Strong(f"{syndrome.upper()} {row.grade}: "), f"{row.action}{tag}"])
            )
    return parts


@callback(
    Output(ids.PATIENT_HEADER, "children"),
    Output(ids.PATIENT_TIMELINE, "figure"),
    Output(ids.PATIENT_MANAGEMENT, "children"),
    Output(ids.PATIENT_ALERTS, "children"),
    Output(ids.PATIENT_SCORES, "children"),
    Input(ids.PATIENT_SUBJECT, "data"),
    State(ids.PATIENT_SUBJECT, "id"),
)
def show(subject_id: str | None, _: str) -> Any:
    """Everything on the page, for a subject the user may see."""
    user = require_roles(*ROLES)
    nothing = (dash.no_update,) * 4
    if not subject_id or not str(subject_id).isdigit():
        return html.P("Open a patient from an alert."), *nothing
    try:
        with sessions()() as session:
            timeline = patient_timeline(session, int(subject_id), user.scope)
    except PatientNotVisible:
        return html.P("No such patient, or not one of your sites' patients."), *nothing
    subject = timeline.subject
    died = f", died {subject['death_date']}" if subject["death_date"] else ""
    header = html.Div(
        [
            html.H1(f"Patient {subject['subject_key']}"),
            html.P(
                f"Site {subject['site']} - {subject['sex'] or '?'} - age {subject['age_years']} - "
                f"{subject['diagnosis'] or 'diagnosis not recorded'} - {subject['product']} "
                f"infused {subject['infusion_date']} (day 0){died}"
            ),
        ]
    )
    alerts = text_table(
        timeline.alerts,
        {"study_day": "Day", "severity": "Severity", "status": "Status", "title": "Alert"},
    )
    scores = text_table(
        timeline.scores,
        {"score": "Score", "timepoint": "When", "value": "Value", "category": "Category",
         "reason": "Why"},
    )  # fmt: skip
    return header, timeline_figure(timeline), _management(timeline.days), alerts, scores


dash.register_page(
    __name__,
    path_template="/patient/<subject_id>",
    path="/patient/none",
    name="Patient",
    order=2,
    roles=ROLES,
    nav=False,
    layout=layout,
)
