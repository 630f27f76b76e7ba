"""Loads (data managers): batches with counts and status, a batch's rejections, and the
rejection list as CSV."""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html

from dash_app import ids
from dash_app.security import NOT_PERMITTED, page_user, require_roles, sessions
from pv_monitor.store.loads import REJECTION_COLUMNS, load_batches, load_rejections

ROLES = ("data_manager", "admin")


BATCH_COLUMNS = [
    {"field": "load_batch_id", "headerName": "Batch", "width": 90},
    {"field": "status", "headerName": "Status", "width": 110},
    {"field": "source_format", "headerName": "Format", "width": 110},
    {"field": "source_path", "headerName": "Source", "flex": 1},
    {"field": "rows_read", "headerName": "Read", "width": 110},
    {"field": "rows_loaded", "headerName": "Loaded", "width": 110},
    {"field": "rows_rejected", "headerName": "Rejected", "width": 110},
    # the outcome in full (wrapped), so that a data manager reads what happened without a tooltip
    {
        "field": "message",
        "headerName": "Outcome",
        "width": 280,
        "wrapText": True,
        "autoHeight": True,
    },
    {"field": "loaded_by", "headerName": "By", "width": 110},
    {"field": "started_at", "headerName": "Started (UTC)", "width": 180},
]


def layout(**_: Any) -> html.Div:
    """Batches, then the rejections of the selected batch."""
    if page_user(ROLES) is None:
        return html.Div(html.P(NOT_PERMITTED, id="page-refused"))
    return html.Div(
        [
            html.H1("Loads"),
            dag.AgGrid(
                id=ids.LOADS_GRID,
                columnDefs=BATCH_COLUMNS,
                defaultColDef={"sortable": True, "filter": True, "resizable": True},
                dashGridOptions={
                    "rowSelection": {
                        "mode": "singleRow",
                        "checkboxes": False,
                        "enableClickSelection": True,
                    }
                },
                style={"height": "300px"},
            ),
            html.H2("Rejections of the selected batch"),
            html.Button("Download rejections (CSV)", id=ids.LOADS_DOWNLOAD_BUTTON, n_clicks=0),
            dcc.Download(id=ids.LOADS_DOWNLOAD),
            dag.AgGrid(
                id=ids.LOADS_REJECTIONS,
                columnDefs=[{"field": c} for c in REJECTION_COLUMNS],
                defaultColDef={"sortable": True, "filter": True, "resizable": True, "flex": 1},
                style={"height": "360px"},
            ),
        ]
    )


@callback(Output(ids.LOADS_GRID, "rowData"), Input(ids.LOADS_GRID, "id"))
def batches(_: str) -> list[dict[str, Any]]:
    """The newest batches."""
    require_roles(*ROLES)
    with sessions()() as session:
        frame = load_batches(session)
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return records


@callback(
    Output(ids.LOADS_REJECTIONS, "rowData"),
    Input(ids.LOADS_GRID, "selectedRows"),
    prevent_initial_call=True,
)
def rejections(selected: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The selected batch's rejections: file, row, field, value, rule, reason."""
    require_roles(*ROLES)
    if not selected:
        return []
    with sessions()() as session:
        frame = load_rejections(session, int(selected[0]["load_batch_id"]))
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return records


@callback(
    Output(ids.LOADS_DOWNLOAD, "data"),
    Input(ids.LOADS_DOWNLOAD_BUTTON, "n_clicks"),
    State(ids.LOADS_GRID, "selectedRows"),
    prevent_initial_call=True,
)
def download(_: int, selected: list[dict[str, Any]] | None) -> Any:
    """The selected batch's rejections as a CSV file."""
    require_roles(*ROLES)
    if not selected:
        return dash.no_update
    batch = int(selected[0]["load_batch_id"])
    with sessions()() as session:
        frame = load_rejections(session, batch)
    return dcc.send_data_frame(  # type: ignore[attr-defined]
        frame.to_csv, f"rejections_batch_{batch}.csv", index=False
    )


dash.register_page(__name__, path="/loads", name="Loads", order=4, roles=ROLES, layout=layout)
