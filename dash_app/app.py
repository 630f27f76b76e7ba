"""The app factory: ``create_app(config)`` builds the multi-page Dash app behind its login.

Examples
--------
>>> from dash_app.config import DashboardConfig
>>> app = create_app(DashboardConfig("sqlite://", secret_key="k" * 32))
>>> sorted(page["path"] for page in dash.page_registry.values())  # patient: a template
['/', '/alerts', '/cohort', '/loads', '/patient/none', '/signals']
"""

from __future__ import annotations

import importlib
from typing import Any

import dash
import flask
from dash import Dash, _callback, dcc, html
from flask_login import current_user

from dash_app import ids
from dash_app.config import DashboardConfig
from dash_app.security import init_security
from pv_monitor.store.engine import create_store_engine, session_factory

PAGES = ("home", "alerts", "patient", "cohort", "loads", "signals")
"""Page modules of ``dash_app.pages``, imported (and so registered) by :func:`create_app`."""
_page_callbacks: list[Any] = []


def _register_pages() -> None:
    """Import the page modules (once per process) and hand their ``@callback`` registrations to
    the app being built.

    Dash moves global callbacks into the first app that starts serving and clears them, so a
    second app in the same process (tests, several configurations) would have none: we keep a
    copy of what the pages registered and put it back for each new app.
    """
    if not _page_callbacks:
        for page in PAGES:
            importlib.import_module(f"dash_app.pages.{page}")
        _page_callbacks.extend(
            (
                dict(_callback.GLOBAL_CALLBACK_MAP),
                list(_callback.GLOBAL_CALLBACK_LIST),
                list(_callback.GLOBAL_INLINE_SCRIPTS),
            )
        )
        return
    callback_map, callback_list, inline_scripts = _page_callbacks
    _callback.GLOBAL_CALLBACK_MAP.update(callback_map)
    _callback.GLOBAL_CALLBACK_LIST[:] = callback_list
    _callback.GLOBAL_INLINE_SCRIPTS[:] = inline_scripts


def navigation() -> html.Nav:
    """Links to the pages the logged-in user's role may open, their name and a logout link."""
    if not flask.has_request_context() or not current_user.is_authenticated:
        return html.Nav()  # Dash also calls the layout once, outside any request
    links = [
        dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
        for page in dash.page_registry.values()
        if page.get("nav", True) and current_user.role in page.get("roles", ())
    ]
    who = html.Span(
        f"{current_user.username} ({current_user.role.replace('_', ' ')})", id=ids.NAV_USER
    )
    return html.Nav(
        [html.Strong("pv-monitor"), *links, who, html.A("Sign out", href="/logout")],
        className="nav",
    )


def shell() -> html.Div:
    """The page around every page: navigation and the page container."""
    return html.Div([navigation(), html.Main(dash.page_container)])


def create_app(config: DashboardConfig) -> Dash:
    """A Dash app over the store at ``config.database_url`` with login, roles and hardening.

    The Flask server is ``app.server`` (for gunicorn: ``dash_app.wsgi:server``).
    """
    server = flask.Flask(__name__)
    app = Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash takes a Flask app; its hint says bool
        use_pages=True,
        pages_folder="",
        title="pv-monitor",
        update_title=None,  # type: ignore[arg-type]  # None: keep the title while updating
        compress=False,
        serve_locally=True,
    )
    _register_pages()
    app.layout = shell
    engine = create_store_engine(config.database_url)
    init_security(server, config, session_factory(engine), app.csp_hashes)
    return app
