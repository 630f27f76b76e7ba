"""Cohort: Kaplan-Meier survival, cumulative incidence of relapse and antigen-negative relapse
(death competing), and time to CRS/ICANS onset, grouped as the user chooses, with numbers at
risk, log-rank p-values and Cox hazard ratios (definitions: docs/survival.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dash_app import ids
from dash_app.figures import survival_figure
from dash_app.security import NOT_PERMITTED, log, page_user, require_roles, sessions
from dash_app.tables import text_table
from pv_monitor.store.pipeline_io import data_version
from pv_monitor.store.survival_io import survival_inputs
from pv_monitor.survival import compare_groups, cumulative_incidence, kaplan_meier
from pv_monitor.vocabulary import ROLES as ALL_ROLES

ROLES = ALL_ROLES
"""Everyone sees cohort outcomes; clinicians only over their own sites' subjects."""
EXPORT_ROLES = ("safety_officer", "admin")
"""Who may download the subject-level time-to-event table (pseudonymous keys; logged)."""


@dataclass(frozen=True)
class Endpoint:
    """One time-to-event outcome of the cohort page."""

    label: str
    duration: str
    event: str
    competing: bool
    y_title: str


ENDPOINTS = {
    "os": Endpoint("Overall survival", "os_days", "os_event", False, "Survival probability"),
    "pfs": Endpoint(
        "Progression-free survival", "pfs_days", "pfs_event", False, "Progression-free probability"
    ),
    "relapse": Endpoint(
        "Relapse (death competing)", "relapse_days", "relapse_code", True, "Cumulative incidence"
    ),
    "antigen_negative": Endpoint(
        "Antigen-negative relapse (death and other relapses competing)",
        "antigen_negative_days",
        "antigen_negative_code",
        True,
        "Cumulative incidence",
    ),
    "crs_onset": Endpoint(
        "Time to CRS onset", "crs_onset_days", "crs_onset_event", False, "Free of CRS"
    ),
    "icans_onset": Endpoint(
        "Time to ICANS onset", "icans_onset_days", "icans_onset_event", False, "Free of ICANS"
    ),
}
GROUPS = {
    "none": "Whole cohort",
    "product": "Product",
    "diagnosis": "Diagnosis",
    "risk_group": "EASIX before lymphodepletion",
    "crs_grade3": "Grade >= 3 CRS",
}
AT_RISK_DAYS = (0, 30, 90, 180, 365, 730)

_cache: dict[tuple[Any, ...], pd.DataFrame] = {}
CACHED_SCOPES = 16
"""Survival frames kept per worker: one per user scope (all sites, or a clinician's sites), so
users of different scopes do not evict each other's frame on every request."""


def _inputs(scope: frozenset[int] | None) -> pd.DataFrame:
    """The survival frame of ``scope``, recomputed only when a load or a run changed the store."""
    with sessions()() as session:
        version = data_version(session)
        key = (scope, version)
        if key not in _cache:
            for stale in [k for k in _cache if k[1] != version]:
                del _cache[stale]
            while len(_cache) >= CACHED_SCOPES:
                del _cache[next(iter(_cache))]  # the oldest
            _cache[key] = survival_inputs(session, scope)
        return _cache[key]


def layout(**_: Any) -> html.Div:
    """Endpoint and grouping controls, the curves, numbers at risk and group comparison."""
    if page_user(ROLES) is None:
        return html.Div(html.P(NOT_PERMITTED, id="page-refused"))
    return html.Div(
        [
            html.H1("Cohort"),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.COHORT_ENDPOINT,
                        options=[{"label": e.label, "value": k} for k, e in ENDPOINTS.items()],
                        value="os",
                        clearable=False,
                    ),
                    dcc.Dropdown(
                        id=ids.COHORT_GROUP,
                        options=[{"label": v, "value": k} for k, v in GROUPS.items()],
                        value="product",
                        clearable=False,
                    ),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "1rem"},
            ),
            dcc.Graph(id=ids.COHORT_FIGURE),
            html.H2("Numbers at risk"),
            html.Div(id=ids.COHORT_AT_RISK),
            html.H2("Comparison between groups"),
            html.Div(id=ids.COHORT_COMPARISON),
            html.P(id=ids.COHORT_NOTE, className="note"),
            *_export_controls(),
        ]
    )


def _export_controls() -> list[Any]:
    user = page_user(EXPORT_ROLES, quiet=True)
    if user is None:
        return []
    return [
        html.Button("Download the time-to-event table (CSV)", id=ids.COHORT_EXPORT, n_clicks=0),
        dcc.Download(id=ids.COHORT_DOWNLOAD),
    ]


@callback(
    Output(ids.COHORT_DOWNLOAD, "data"),
    Input(ids.COHORT_EXPORT, "n_clicks"),
    prevent_initial_call=True,
)
def export(_: int) -> Any:
    """The subject-level time-to-event table (safety officers and admins; the export is
    logged)."""
    user = require_roles(*EXPORT_ROLES)
    frame = _inputs(user.scope)
    log.info("export: user %s downloaded the time-to-event table (%d rows)", user.username,
             len(frame))  # fmt: skip
    return dcc.send_data_frame(  # type: ignore[attr-defined]
        frame.to_csv, "time_to_event.csv", index=False
    )


def _comparison(frame: pd.DataFrame, endpoint: Endpoint, group: str | None) -> html.Div:
    if group is None or frame[group].nunique() < 2:
        return html.Div(html.P("Choose a grouping with at least two groups to compare."))
    event = (frame[endpoint.event] == 1).astype(int)  # cause-specific for competing risks
    result = compare_groups(frame.assign(_event=event), endpoint.duration, "_event", group)
    table = result.hazard_ratios.round(3)
    kind = "cause-specific " if endpoint.competing else ""
    return html.Div(
        [
            html.P(f"Log-rank p = {result.logrank_p:.3g} ({kind}hazards)."),
            html.P(f"Cox proportional-hazards ratios ({kind}), reference: the largest group."),
            text_table(table),
        ]
    )


@callback(
    Output(ids.COHORT_FIGURE, "figure"),
    Output(ids.COHORT_AT_RISK, "children"),
    Output(ids.COHORT_COMPARISON, "children"),
    Output(ids.COHORT_NOTE, "children"),
    Input(ids.COHORT_ENDPOINT, "value"),
    Input(ids.COHORT_GROUP, "value"),
)
def update(endpoint_key: str, group_key: str) -> Any:
    """Estimate the chosen endpoint by the chosen grouping."""
    user = require_roles(*ROLES)
    endpoint = ENDPOINTS.get(endpoint_key, ENDPOINTS["os"])
    group = None if group_key not in GROUPS or group_key == "none" else group_key
    frame = _inputs(user.scope)
    frame = frame.dropna(subset=[endpoint.duration])
    scope_note = (
        f"{len(frame)} infused subjects"
        + ("" if user.scope is None else " of your sites")
        + ". Synthetic demo data are not clinical evidence."
    )
    if frame.empty:
        return survival_figure(pd.DataFrame(
            columns=["group", "time", "estimate", "lower", "upper"]), endpoint.label,
            endpoint.y_title), None, None, scope_note  # fmt: skip
    estimate = cumulative_incidence if endpoint.competing else kaplan_meier
    curves = estimate(frame, endpoint.duration, endpoint.event, group, times=AT_RISK_DAYS)
    at_risk = curves.at_risk.pivot_table(
        index="group", columns="time", values="at_risk", aggfunc="first"
    ).reset_index()
    at_risk.columns = ["group", *(f"day {int(t)}" for t in at_risk.columns[1:])]
    figure = survival_figure(curves.curves, endpoint.label, endpoint.y_title)
    return figure, text_table(at_risk), _comparison(frame, endpoint, group), scope_note


dash.register_page(__name__, path="/cohort", name="Cohort", order=3, roles=ROLES, layout=layout)
