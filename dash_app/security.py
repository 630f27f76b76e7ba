"""Login, roles and the HTTP hardening of the dashboard (pharmacovigilance.md §5.6, §7).

- **Every route needs a session** except the login page and the static bundles Dash serves
  (``/_dash-component-suites/``, ``/assets/``): a Flask ``before_request`` hook refuses the rest
  (pages redirect to ``/login``; Dash's JSON routes answer 401). Authorisation is checked again
  **inside each callback** with :func:`require_roles`, on the server.
- **Passwords** are checked against the store's scrypt hashes
  (:func:`pv_monitor.store.users.authenticate`); failed logins are rate-limited per client
  address (Flask-Limiter) and logged with the user name, never the password.
- **CSRF**: every state-changing request must come from our own origin (``Origin``, else
  ``Referer``) and carry a token signed with the session (Flask-WTF's ``generate_csrf`` /
  ``validate_csrf``): the login form as a hidden field, Dash's callbacks as the ``X-CSRFToken``
  header, which Dash's renderer copies from the ``_csrf_token`` cookie. We do not install
  ``CSRFProtect`` itself: it must exempt Dash's dispatch view by an internal name that changed
  in Dash 4.2 (plotly/dash#3827).
- **Cookies**: the session cookie is HttpOnly and SameSite=Lax, the CSRF cookie SameSite=Strict;
  both Secure when served over HTTPS. Sessions end after ``session_hours``.
- **Headers**: a Content-Security-Policy with Dash's inline-script hashes, X-Frame-Options,
  X-Content-Type-Options, Referrer-Policy, no-store caching of pages with patient data, HSTS
  behind HTTPS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

import flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy.orm import Session, sessionmaker
from wtforms import ValidationError

from dash_app.config import DashboardConfig
from pv_monitor.store.models import AppUser
from pv_monitor.store.users import authenticate, site_scope

log = logging.getLogger("pv_monitor.dashboard.security")

PUBLIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")
"""Static bundles: the same for everyone, no data."""
LOGIN_PATH, LOGOUT_PATH = "/login", "/logout"
CSRF_COOKIE, CSRF_HEADER = "_csrf_token", "X-CSRFToken"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class DashboardUser:
    """The logged-in user, as Flask-Login keeps it for one request.

    ``scope`` is the set of sites whose subjects the user may see (``None``: every site).
    """

    app_user_id: int
    username: str
    role: str
    scope: frozenset[int] | None

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """Flask-Login's key of the user."""
        return str(self.app_user_id)


class Forbidden(PermissionError):
    """The user's role may not use this part of the dashboard."""


def sessions() -> sessionmaker[Session]:
    """The store's session factory of the running app."""
    factory: sessionmaker[Session] = flask.current_app.extensions["pv_monitor"]["sessions"]
    return factory


def dashboard_config() -> DashboardConfig:
    """The running app's configuration."""
    config: DashboardConfig = flask.current_app.extensions["pv_monitor"]["config"]
    return config


def require_roles(*roles: str) -> DashboardUser:
    """The current user, if logged in with one of ``roles``; otherwise the request is refused
    with 403 (and the refusal logged). Call it first in every callback that reads or writes."""
    user = current_user._get_current_object()
    if not isinstance(user, DashboardUser):
        flask.abort(401)
    if user.role not in roles:
        log.warning(
            "permission denied: user %s (%s) on %s", user.username, user.role, flask.request.path
        )
        flask.abort(403)
    return user


def page_user(roles: tuple[str, ...], *, quiet: bool = False) -> DashboardUser | None:
    """The current user if their role is one of ``roles`` (for page layouts, which then show a
    refusal instead of the page's components, logged unless ``quiet``; callbacks use
    :func:`require_roles`)."""
    if not flask.has_request_context():
        return None
    user = current_user._get_current_object()
    if isinstance(user, DashboardUser) and user.role in roles:
        return user
    if not quiet:
        log.warning("page refused: %s on %s", getattr(user, "username", "anonymous"), roles)
    return None


NOT_PERMITTED = "Your role does not give access to this page."


def _dashboard_user(session: Session, user: AppUser) -> DashboardUser:
    return DashboardUser(user.app_user_id, user.username, user.role, site_scope(session, user))


def _load_user(user_id: str) -> DashboardUser | None:
    with sessions()() as session:
        user = session.get(AppUser, int(user_id)) if user_id.isdigit() else None
        if user is None or not user.is_active:
            return None
        return _dashboard_user(session, user)


def _same_origin() -> bool:
    """Whether a state-changing request comes from this site (``Origin``, else ``Referer``)."""
    expected = urlsplit(flask.request.host_url)
    sent = flask.request.headers.get("Origin") or flask.request.headers.get("Referer")
    if not sent:
        return False
    given = urlsplit(sent)
    return (given.scheme, given.netloc) == (expected.scheme, expected.netloc)


def _csrf_ok(token: str | None) -> bool:
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


def _guard() -> Any:
    """Refuse what the request may not do before any view runs."""
    request = flask.request
    path = request.path
    if request.method in UNSAFE_METHODS:
        token = request.form.get("csrf_token") if path == LOGIN_PATH else None
        token = token or request.headers.get(CSRF_HEADER)
        if not _same_origin() or not _csrf_ok(token):
            log.warning("refused cross-site or token-less %s %s", request.method, path)
            return flask.make_response(("forbidden: cross-site request refused", 403))
    if path in (LOGIN_PATH, LOGOUT_PATH) or path.startswith(PUBLIC_PREFIXES):
        return None
    if current_user.is_authenticated:
        return None
    if request.method == "GET" and not path.startswith("/_"):
        return flask.redirect(f"{LOGIN_PATH}?{urlencode({'next': path})}")
    return flask.make_response(("login required", 401))


def _login_page(message: str = "", status: int = 200) -> flask.Response:
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pv-monitor: sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}}
label,input,button{{display:block;width:100%;margin:.4rem 0}}input,button{{padding:.5rem}}
.error{{color:#b00020}}</style></head><body>
<h1>pv-monitor</h1><p>CAR-T safety monitor. Sign in.</p>
<form method="post" action="{LOGIN_PATH}">
<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">
<input type="hidden" name="next" value="{escape(flask.request.values.get("next", "/"))}">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="login-submit" type="submit">Sign in</button></form>
<p class="error" id="login-message">{escape(message)}</p></body></html>"""  # noqa: E501
    return flask.make_response((page, status))


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or ``https://...``: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login() -> Any:
    if flask.request.method == "GET":
        return _login_page()
    username = flask.request.form.get("username", "")
    password = flask.request.form.get("password", "")
    with sessions()() as session:
        user = authenticate(session, username, password)
        found = _dashboard_user(session, user) if user is not None else None
    if found is None:
        log.warning("failed login for user %r from %s", username, get_remote_address())
        return _login_page("Unknown user name or wrong password.", 401)
    flask.session.clear()
    flask.session.permanent = True
    login_user(found)
    log.info("login: user %s (%s)", found.username, found.role)
    return flask.redirect(_safe_next(flask.request.form.get("next")))


def _logout() -> Any:
    if current_user.is_authenticated:
        log.info("logout: user %s", current_user.username)
    logout_user()
    flask.session.clear()
    response = flask.redirect(LOGIN_PATH)
    response.delete_cookie(CSRF_COOKIE)
    return response


def _harden(
    response: flask.Response, config: DashboardConfig, script_hashes: Callable[[], Sequence[str]]
) -> Any:
    """Security headers on every response, and a fresh CSRF cookie for logged-in pages."""
    scripts = " ".join(script_hashes())  # quoted already: 'sha256-...'; after Dash's setup
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if not flask.request.path.startswith(PUBLIC_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
    if config.https:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if current_user.is_authenticated:
        response.set_cookie(
            CSRF_COOKIE,
            generate_csrf(),
            secure=config.https,
            httponly=False,  # Dash's renderer reads it to send the X-CSRFToken header
            samesite="Strict",
        )
    return response


def init_security(
    server: flask.Flask,
    config: DashboardConfig,
    factory: sessionmaker[Session],
    script_hashes: Callable[[], Sequence[str]],
) -> None:
    """Install login, CSRF, rate limiting and headers on the Flask server behind Dash."""
    server.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.https,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_hours),
        WTF_CSRF_TIME_LIMIT=config.session_hours * 3600,
    )
    server.extensions["pv_monitor"] = {"sessions": factory, "config": config}
    manager = LoginManager()
    manager.user_loader(_load_user)
    manager.session_protection = "strong"
    manager.init_app(server)
    limiter = Limiter(get_remote_address, app=server, storage_uri="memory://")
    login_view = limiter.limit(
        config.login_limit,
        methods=["POST"],
        deduct_when=lambda response: response.status_code == 401,
    )(_login)
    server.add_url_rule(LOGIN_PATH, "login", login_view, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "logout", _logout, methods=["GET"])
    server.before_request(_guard)
    server.after_request(lambda response: _harden(response, config, script_hashes))
