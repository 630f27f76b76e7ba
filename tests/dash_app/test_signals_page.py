"""The Signals page's callbacks over a real store: roles refused on the server, monitoring
computed at the lock, and signal decisions recorded through the service with rationale and
signature."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient

from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import Signal
from pv_monitor.store.signals import (
    RunDescription,
    raise_potential_signals,
    record_analysis_run,
    signal_history,
)
from tests.dash_app.conftest import DashboardStore, make_app
from tests.dash_app.test_security import _callback, _form_token, _login, _post_callback

ORIGIN = "http://localhost"
GRID = _callback(
    "signals-grid.rowData", [{"id": "signals-version", "property": "data", "value": 0}]
)


def _client(store: DashboardStore, user: str | None) -> FlaskClient:
    client: FlaskClient = make_app(store).server.test_client()
    if user is not None:
        _login(client, user)
        client.get("/signals")
    return client


@pytest.mark.parametrize(
    ("user", "status"),
    [("dr_home", 403), ("data", 403), ("safety", 200), ("admin", 200)],
)
def test_signal_callbacks_check_the_role(
    dashboard_store: DashboardStore, user: str, status: int
) -> None:
    assert _post_callback(_client(dashboard_store, user), GRID).status_code == status


def test_signal_callbacks_without_a_session_are_refused(dashboard_store: DashboardStore) -> None:
    client = _client(dashboard_store, None)
    token = _form_token(client)
    response = client.post(
        "/_dash-update-component", json=GRID, headers={"Origin": ORIGIN, "X-CSRFToken": token}
    )
    assert response.status_code == 401


def test_monitoring_at_the_lock(dashboard_store: DashboardStore) -> None:
    client = _client(dashboard_store, "safety")
    body = _callback(
        "signals-incidence.rowData",
        [{"id": "signals-compute", "property": "n_clicks", "value": 1}],
        [{"id": "signals-lock", "property": "date", "value": "2030-01-01"}],
    )
    app_output = (
        "..signals-incidence.rowData...signals-charts.data...signals-cusum-choice.options.."
    )
    body["output"] = app_output
    body["outputs"] = [
        {"id": "signals-incidence", "property": "rowData"},
        {"id": "signals-charts", "property": "data"},
        {"id": "signals-cusum-choice", "property": "options"},
    ]
    response = _post_callback(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    result = response.get_json()["response"]
    rows = result["signals-incidence"]["rowData"]
    assert {row["metric"] for row in rows} >= {"crs_any", "crs_grade3plus"}
    patients = {row["product"]: row["n"] for row in rows if row["metric"] == "crs_any"}
    assert sum(patients.values()) == 60  # one row per reference figure; each product once here
    charts = result["signals-charts"]["data"]
    assert charts and all(len(c["statistic"]) > 0 and c["h"] > 0 for c in charts)


def _new_signal(store: DashboardStore) -> int:
    engine = create_store_engine(store.url)
    run = RunDescription("disproportionality", "gps", {}, {"eb05": 2.0}, None, None, None)
    hits = pd.DataFrame({"product": ["Kymriah"], "event": [f"TEST EVENT {id(run)}"], "a": [5]})
    with session_factory(engine)() as session, session.begin():
        recorded = record_analysis_run(session, run, run_by="test", hits=1)
        signal_id = raise_potential_signals(session, recorded, hits, actor="test")[0].signal_id
    engine.dispose()
    return signal_id


def _decide(client: FlaskClient, signal_id: int, status: str, to: str, **state: Any) -> str:
    values = {"rationale": "reviewed the cases", "password": None, "priority": None} | state
    body = _callback(
        "signals-message.children",
        [{"id": "signals-decide", "property": "n_clicks", "value": 1}],
        [
            {"id": "signals-grid", "property": "selectedRows",
             "value": [{"signal_id": signal_id, "signal_key": "k", "status": status}]},
            {"id": "signals-to-status", "property": "value", "value": to},
            {"id": "signals-rationale", "property": "value", "value": values["rationale"]},
            {"id": "signals-password", "property": "value", "value": values["password"]},
            {"id": "signals-priority", "property": "value", "value": values["priority"]},
            {"id": "signals-version", "property": "data", "value": 0},
        ],
    )  # fmt: skip
    body["output"] = "..signals-message.children...signals-version.data...signals-password.value.."
    body["outputs"] = [
        {"id": "signals-message", "property": "children"},
        {"id": "signals-version", "property": "data"},
        {"id": "signals-password", "property": "value"},
    ]
    response = _post_callback(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    result = response.get_json()["response"]
    assert result["signals-password"]["value"] == ""  # never kept in the page
    return str(result["signals-message"]["children"])


def test_decisions_go_through_the_service(dashboard_store: DashboardStore) -> None:
    signal_id = _new_signal(dashboard_store)
    client = _client(dashboard_store, "safety")
    assert "recorded" in _decide(client, signal_id, "new", "under_validation")
    refused = _decide(client, signal_id, "under_validation", "refuted", password="wrong")
    assert refused.startswith("Not recorded") and "electronic signature" in refused
    assert "Not recorded: a rationale is required" in _decide(
        client, signal_id, "under_validation", "validated", rationale=" "
    )
    stale = _decide(client, signal_id, "new", "under_validation")
    assert stale.startswith("Not recorded")
    assert "recorded" in _decide(
        client, signal_id, "under_validation", "refuted", password="pw-safety"
    )
    engine = create_store_engine(dashboard_store.url)
    with session_factory(engine)() as session:
        signal = session.get(Signal, signal_id)
        assert signal is not None and signal.status == "refuted"
        history = signal_history(session, signal_id)
    engine.dispose()
    assert list(history["to_status"]) == ["new", "under_validation", "refuted"]
    assert history["signed_name"].iloc[-1] == "safety"


def test_the_screen_records_potential_signals(dashboard_store: DashboardStore) -> None:
    body = _callback(
        "signals-screen-message.children",
        [{"id": "signals-screen", "property": "n_clicks", "value": 1}],
        [
            {"id": "signals-start", "property": "date", "value": "2020-01-01"},
            {"id": "signals-lock", "property": "date", "value": "2030-12-31"},
            {"id": "signals-version", "property": "data", "value": 0},
        ],
    )
    app = make_app(dashboard_store)
    client = app.server.test_client()
    _login(client, "safety")
    client.get("/signals")  # the app's callback map is filled on its first request
    body["output"] = next(k for k in app.callback_map if k.startswith("..signals-screen-message"))
    body["outputs"] = [
        {"id": "signals-screen-message", "property": "children"},
        {"id": "signals-version", "property": "data"},
    ]
    clinician = _client(dashboard_store, "dr_home")
    assert _post_callback(clinician, body).status_code == 403
    response = _post_callback(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    message = response.get_json()["response"]["signals-screen-message"]["children"]
    assert message.startswith("Screened 2020-01-01 to 2030-12-31")
    assert "new potential signals" in message
