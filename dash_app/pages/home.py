"""Home: what the logged-in user's role can open."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dash_app.security import NOT_PERMITTED, page_user
from pv_monitor.vocabulary import ROLES as ALL_ROLES

PURPOSE = {
    "clinician": "Review your sites' alerts and open patient timelines.",
    "safety_officer": "Review alerts across sites, cohort outcomes and safety signals.",
    "data_manager": "Check load batches and download rejected rows.",
    "admin": "Every page.",
}


def layout(**_: Any) -> html.Div:
    """Links to the pages of the user's role."""
    user = page_user(ALL_ROLES)
    if user is None:
        return html.Div(html.P(NOT_PERMITTED, id="page-refused"))
    pages = [
        html.Li(dcc.Link(page["name"], href=page["relative_path"]))
        for page in dash.page_registry.values()
        if page.get("nav", True) and user.role in page.get("roles", ()) and page["path"] != "/"
    ]
    return html.Div(
        [
            html.H1("pv-monitor"),
            html.P(PURPOSE[user.role]),
            html.Ul(pages),
            html.P(
                "Grades are derived from raw observations by the ASTCT 2019 consensus; "
                "risk models trained on synthetic data say nothing about patients.",
                className="note",
            ),
        ]
    )


dash.register_page(__name__, path="/", name="Home", order=0, roles=ALL_ROLES, layout=layout)
