"""The dashboard's HTTP surface without a browser: every route and callback needs a session,
roles are checked on the server, cross-site requests are refused, logins are rate-limited and
logged without passwords, and security headers are sent."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import Alert, AlertEvent, Subject
from tests.dash_app.conftest import PASSWORDS, DashboardStore, make_app

ORIGIN = "http://localhost"
PAGES = ["/", "/alerts", "/cohort", "/loads", "/signals", "/patient/1"]
DASH_ROUTES = ["/_dash-layout", "/_dash-dependencies"]


def _client(store: DashboardStore) -> FlaskClient:
    client: FlaskClient = make_app(store).server.test_client()
    return client


def _form_token(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _login(client: FlaskClient, name: str, password: str | None = None) -> Any:
    token = _form_token(client)
    return client.post(
        "/login",
        data={"username": name, "password": password or PASSWORDS[name], "csrf_token": token},
        headers={"Origin": ORIGIN},
    )


def _callback(output: str, inputs: list[dict[str, Any]], state: list[dict[str, Any]] | None = None
              ) -> dict[str, Any]:  # fmt: skip
    component, prop = output.split(".")
    return {
        "output": output,
        "outputs": {"id": component, "property": prop},
        "inputs": inputs,
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs],
        "state": state or [],
    }


def _post_callback(client: FlaskClient, body: dict[str, Any], *, token: bool = True,
                   origin: str | None = ORIGIN) -> Any:  # fmt: skip
    headers = {} if origin is None else {"Origin": origin}
    cookie = client.get_cookie("_csrf_token")
    if token and cookie is not None:
        headers["X-CSRFToken"] = cookie.value
    return client.post("/_dash-update-component", json=body, headers=headers)


EXPORT = _callback("cohort-download.data", [{"id": "cohort-export", "property": "n_clicks",
                                              "value": 1}])  # fmt: skip
BATCHES = _callback("loads-grid.rowData", [{"id": "loads-grid", "property": "id",
                                             "value": "loads-grid"}])  # fmt: skip
QUEUE = _callback(
    "alerts-grid.getRowsResponse",
    [{"id": "alerts-grid", "property": "getRowsRequest",
      "value": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}}],
)  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_pages_without_a_session_redirect_to_login(dashboard_store: DashboardStore, path: str
                                                   ) -> None:  # fmt: skip
    response = _client(dashboard_store).get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", DASH_ROUTES)
def test_dash_routes_without_a_session_are_refused(dashboard_store: DashboardStore, path: str
                                                   ) -> None:  # fmt: skip
    assert _client(dashboard_store).get(path).status_code == 401


@pytest.mark.parametrize("body", [EXPORT, BATCHES, QUEUE])
def test_callbacks_without_a_session_are_refused(dashboard_store: DashboardStore,
                                                 body: dict[str, Any]) -> None:  # fmt: skip
    client = _client(dashboard_store)
    token = _form_token(client)  # a session with a valid CSRF token but no login
    response = client.post(
        "/_dash-update-component",
        json=body,
        headers={"Origin": ORIGIN, "X-CSRFToken": token},
    )
    assert response.status_code == 401


def test_the_static_bundles_are_public(dashboard_store: DashboardStore) -> None:
    client = _client(dashboard_store)
    _login(client, "admin")
    page = client.get("/").get_data(as_text=True)
    bundle = re.search(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert bundle is not None
    assert _client(dashboard_store).get(bundle.group(1)).status_code == 200


def test_login_sets_hardened_cookies_and_headers(dashboard_store: DashboardStore) -> None:
    client = _client(dashboard_store)
    response = _login(client, "dr_home")
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    page = client.get("/alerts")
    assert page.status_code == 200
    headers = page.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    csrf = next(c for c in page.headers.getlist("Set-Cookie") if c.startswith("_csrf_token="))
    assert "SameSite=Strict" in csrf


def test_secure_cookies_and_hsts_behind_https(dashboard_store: DashboardStore) -> None:
    client = make_app(dashboard_store, https=True).server.test_client()
    token = _form_token(client)
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token},
        headers={"Origin": ORIGIN},
    )
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_failed_logins_are_logged_without_the_password_and_rate_limited(
    dashboard_store: DashboardStore, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(dashboard_store)
    caplog.set_level(logging.INFO, logger="pv_monitor.dashboard.security")
    codes = [_login(client, "admin", "wrong-password-123").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert "failed login for user 'admin'" in caplog.text
    assert "wrong-password-123" not in caplog.text
    assert _login(client, "nobody", "x").status_code == 429  # the address is still limited


def test_a_cross_site_login_post_is_refused(dashboard_store: DashboardStore) -> None:
    client = _client(dashboard_store)
    token = _form_token(client)
    data = {"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token}
    assert client.post("/login", data=data, headers={"Origin": "http://evil.example"}
                       ).status_code == 403  # fmt: skip
    assert client.post("/login", data=data | {"csrf_token": "forged"},
                       headers={"Origin": ORIGIN}).status_code == 403  # fmt: skip


def test_a_forged_cross_site_callback_is_refused(dashboard_store: DashboardStore) -> None:
    client = _client(dashboard_store)
    _login(client, "safety")
    client.get("/cohort")  # sets the CSRF cookie
    assert _post_callback(client, EXPORT, origin="http://evil.example").status_code == 403
    assert _post_callback(client, EXPORT, token=False).status_code == 403
    assert _post_callback(client, EXPORT, origin=None).status_code == 403
    assert _post_callback(client, EXPORT).status_code == 200  # the same request, same-site


@pytest.mark.parametrize(
    ("user", "body", "status"),
    [
        ("dr_home", EXPORT, 403),  # a safety-officer callback
        ("dr_home", BATCHES, 403),  # a data-manager callback
        ("data", QUEUE, 403),  # data managers have no clinical access
        ("safety", EXPORT, 200),
        ("data", BATCHES, 200),
        ("dr_home", QUEUE, 200),
    ],
)
def test_roles_are_checked_inside_callbacks(
    dashboard_store: DashboardStore, user: str, body: dict[str, Any], status: int
) -> None:
    client = _client(dashboard_store)
    _login(client, user)
    client.get("/")
    assert _post_callback(client, body).status_code == status


def test_a_clinician_sees_only_their_sites_alerts(dashboard_store: DashboardStore) -> None:
    client = _client(dashboard_store)
    _login(client, "dr_home")
    client.get("/")
    rows = _post_callback(client, QUEUE).get_json()["response"]["alerts-grid"]
    sites = {row["site"] for row in rows["getRowsResponse"]["rowData"]}
    assert sites == {dashboard_store.home_site}
    admin = _client(dashboard_store)
    _login(admin, "admin")
    admin.get("/")
    everyone = _post_callback(admin, QUEUE).get_json()["response"]["alerts-grid"]
    assert everyone["getRowsResponse"]["rowCount"] > rows["getRowsResponse"]["rowCount"]


def test_an_unknown_filter_column_is_refused_not_interpolated(
    dashboard_store: DashboardStore,
) -> None:
    client = _client(dashboard_store)
    _login(client, "admin")
    client.get("/")
    body = _callback("alerts-grid.getRowsResponse", [{
        "id": "alerts-grid", "property": "getRowsRequest",
        "value": {"startRow": 0, "endRow": 10, "sortModel": [{"colId": "1; DROP TABLE alert",
                                                               "sort": "asc"}]}}])  # fmt: skip
    response = _post_callback(client, body).get_json()["response"]["alerts-grid"]
    assert response["getRowsResponse"] == {"rowData": [], "rowCount": 0}


def test_injection_strings_in_comments_are_stored_as_text(dashboard_store: DashboardStore
                                                         ) -> None:  # fmt: skip
    engine = create_store_engine(dashboard_store.url)
    with session_factory(engine)() as session:
        alert = session.scalars(
            select(Alert).join(Subject).where(Alert.status == "open").order_by(Alert.alert_id)
        ).first()
        assert alert is not None
        alert_id, status = alert.alert_id, alert.status
    app = make_app(dashboard_store)
    client = app.server.test_client()
    _login(client, "admin")
    client.get("/alerts")
    evil = "<script>alert('x')</script>'); DROP TABLE alert; --"
    body = _callback(
        "alerts-message.children",
        [{"id": f"alerts-action-{a}", "property": "n_clicks", "value": int(a == "comment")}
         for a in ("acknowledge", "assign", "comment", "resolve", "dismiss")],
        [{"id": "alerts-selected", "property": "data",
          "value": {"alert_id": alert_id, "status": status}},
         {"id": "alerts-comment", "property": "value", "value": evil},
         {"id": "alerts-assignee", "property": "value", "value": None}],
    )  # fmt: skip
    body["changedPropIds"] = ["alerts-action-comment.n_clicks"]
    body["output"] = next(k for k in app.callback_map if k.startswith("..alerts-message"))
    body["outputs"] = [{"id": i, "property": p} for i, p in (
        ("alerts-message", "children"), ("alerts-refreshed", "data"),
        ("alerts-detail", "children"), ("alerts-history", "children"),
        ("alerts-selected", "data"), ("alerts-comment", "value"))]  # fmt: skip
    response = _post_callback(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    with session_factory(engine)() as session:
        texts = session.scalars(
            select(AlertEvent.comment_text).where(AlertEvent.alert_id == alert_id)
        ).all()
        assert evil in texts
        assert session.scalar(select(Alert.alert_id).where(Alert.alert_id == alert_id))
    engine.dispose()
    history = response.get_json()["response"]["alerts-history"]["children"]
    cells = [
        cell["props"]["children"]
        for row in history["props"]["children"][1]["props"]["children"]
        for cell in row["props"]["children"]
    ]
    assert evil in cells  # sent back as a text child of a table cell, for Dash to escape
