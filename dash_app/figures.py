"""Pure figure builders: data in, a Plotly figure out (no store, no callbacks).

Examples
--------
>>> import pandas as pd
>>> curves = pd.DataFrame({"group": "all", "time": [0, 5, 9], "estimate": [1, 0.8, 0.5],
...                        "lower": [1, 0.6, 0.3], "upper": [1, 0.9, 0.7]})
>>> len(survival_figure(curves, "Overall survival", "Survival probability").data)
3
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pv_monitor.store.timeline import PatientTimeline

SEVERITY_COLOURS = {
    "info": "#5f6b7a",
    "warning": "#b7791f",
    "high": "#c05621",
    "critical": "#9b1c1c",
}
TIMELINE_ROWS = (
    "Temperature (°C)",
    "Systolic BP (mmHg)",
    "O2 flow (L/min)",
    "ICE / CAPD",
    "CRP, ferritin, IL-6",
    "Platelets, ANC",
    "Treatments",
    "ASTCT grade",
    "B cells, CAR, MRD",
)
DRUG_ROW = {"il6_blockade": 3, "corticosteroid": 2, "il1_blockade": 1, "vasopressor": 0}
DRUG_LABELS = {"il6_blockade": "IL-6 blockade", "corticosteroid": "steroid",
               "il1_blockade": "anakinra", "vasopressor": "vasopressor"}  # fmt: skip


def _lines(fig: go.Figure, frame: pd.DataFrame, codes: tuple[str, ...], row: int) -> None:
    for code in codes:
        part = frame[frame["code"] == code]
        if part.empty:
            continue
        unit = part["unit"].iloc[0] or ""
        fig.add_trace(
            go.Scatter(
                x=part["study_day"],
                y=part["value"],
                name=f"{code} ({unit})",
                mode="lines+markers",
                hovertemplate=f"{code} %{{y}} {unit}<br>day %{{x:.1f}}<extra></extra>",
            ),
            row=row,
            col=1,
        )


def timeline_figure(timeline: PatientTimeline) -> go.Figure:
    """The patient's course from day -7 to the latest day: vital signs, oxygen, neurological
    assessment, laboratory values, treatments, daily CRS/ICANS grades (reason on hover), alerts
    as markers on the grade row, and relapse markers."""
    fig = make_subplots(
        rows=len(TIMELINE_ROWS),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.012,
        subplot_titles=TIMELINE_ROWS,
    )
    days = timeline.days
    fig.add_trace(
        go.Scatter(x=days["study_day"], y=days["temp_c_max"], name="Tmax", mode="lines+markers"),
        row=1,
        col=1,
    )
    fig.add_hline(y=38.0, line_dash="dot", line_color="#9b1c1c", row=1, col=1)
    _lines(fig, timeline.labs, ("SBP",), 2)
    pressors = days[days["vasopressors"].fillna("").astype(str).str.len() > 0]
    fig.add_trace(
        go.Scatter(
            x=pressors["study_day"],
            y=np.full(len(pressors), 60.0),
            mode="markers",
            marker={"symbol": "triangle-up", "size": 9, "color": "#9b1c1c"},
            name="vasopressors",
            hovertext=[f"vasopressors: {v}" for v in pressors["vasopressors"]],
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=days["study_day"],
            y=days["o2_flow_l_min"],
            name="O2",
            hovertext=days["o2_device"].fillna("room air"),
        ),
        row=3,
        col=1,
    )
    for column, name in (("ice_score", "ICE"), ("capd_score", "CAPD")):
        if days[column].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=days["study_day"],
                    y=days[column],
                    name=name,
                    mode="lines+markers",
                    hovertext=days["loc"].fillna(""),
                ),
                row=4,
                col=1,
            )
    _lines(fig, timeline.labs, ("CRP", "FERRITIN", "IL6"), 5)
    _lines(fig, timeline.labs, ("PLT", "ANC"), 6)
    drugs = timeline.drugs
    for kind, level in DRUG_ROW.items():
        part = drugs[drugs["drug_class"] == kind]
        spans = zip(part["drug"], part["start_day"].astype(float), part["end_day"].astype(float),
                    strict=True)  # fmt: skip
        for drug, start, end in spans:
            fig.add_trace(
                go.Scatter(
                    x=[start, max(end, start + 0.3)],  # a single dose still shows
                    y=[level, level],
                    mode="lines",
                    line={"width": 8},
                    name=str(drug),
                    hovertext=str(drug),
                    showlegend=False,
                ),
                row=7,
                col=1,
            )
    fig.update_yaxes(
        tickvals=list(DRUG_ROW.values()),
        ticktext=[DRUG_LABELS[kind] for kind in DRUG_ROW],
        row=7,
        col=1,
    )
    for syndrome, colour in (("crs", "#c05621"), ("icans", "#2b6cb0")):
        fig.add_trace(
            go.Scatter(
                x=days["study_day"],
                y=days[f"{syndrome}_grade"],
                name=f"{syndrome.upper()} grade",
                mode="lines+markers",
                line={"shape": "hv", "color": colour},
                hovertext=days[f"{syndrome}_reason"].fillna("not graded"),
                hovertemplate="%{y}: %{hovertext}<extra></extra>",
            ),
            row=8,
            col=1,
        )
    alerts = timeline.alerts
    if not alerts.empty:
        fig.add_trace(
            go.Scatter(
                x=alerts["study_day"],
                y=np.full(len(alerts), 4.6),
                mode="markers",
                name="alerts",
                marker={
                    "symbol": "diamond",
                    "size": 10,
                    "color": [SEVERITY_COLOURS.get(s, "#000") for s in alerts["severity"]],
                },
                hovertext=[
                    f"{s}: {t}" for s, t in zip(alerts["severity"], alerts["title"], strict=True)
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            ),
            row=8,
            col=1,
        )
    _lines(fig, timeline.markers, ("BCELL", "CAR_TRANSGENE"), 9)
    mrd = timeline.assessments.dropna(subset=["mrd_fraction"])
    if not mrd.empty:
        fig.add_trace(
            go.Scatter(
                x=mrd["study_day"],
                y=mrd["mrd_fraction"],
                name="MRD",
                mode="markers",
                hovertext=mrd["antigen_status"].fillna(""),
            ),
            row=9,
            col=1,
        )
    known = pd.concat([days["study_day"], timeline.labs["study_day"]]).astype(float)
    last = max(7.0, float(known.max())) if known.notna().any() else 7.0
    fig.update_xaxes(range=[-7, last + 1])
    fig.update_xaxes(title_text="Day after infusion", row=len(TIMELINE_ROWS), col=1)
    for log_row in (5, 6, 9):
        fig.update_yaxes(type="log", row=log_row, col=1)
    fig.update_yaxes(range=[-0.2, 5], row=8, col=1)
    fig.update_layout(height=1500, margin={"l": 60, "r": 20, "t": 40, "b": 40}, hovermode="closest")
    return fig


def survival_figure(curves: pd.DataFrame, title: str, y_title: str) -> go.Figure:
    """Step curves with confidence bands, one colour per group (``curves``: ``group, time,
    estimate, lower, upper``)."""
    fig = go.Figure()
    for group, part in curves.groupby("group", sort=True):
        for bound, fill in (("upper", None), ("lower", "tonexty")):
            fig.add_trace(
                go.Scatter(
                    x=part["time"],
                    y=part[bound],
                    mode="lines",
                    line={"shape": "hv", "width": 0},
                    fill=fill,
                    opacity=0.2,
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=str(group),
                )
            )
        fig.add_trace(
            go.Scatter(
                x=part["time"],
                y=part["estimate"],
                name=str(group),
                mode="lines",
                line={"shape": "hv"},
                legendgroup=str(group),
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="Days since infusion",
        yaxis_title=y_title,
        yaxis_range=[0, 1.02],
        height=480,
    )
    return fig
