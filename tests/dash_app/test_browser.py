"""The dashboard in a real browser (Debian's chromium through dash[testing]): each role logs in
and sees what it may, an alert is acknowledged and resolved, a patient timeline opens, and the
cohort grouping changes. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.dash_app.conftest import ARTIFACTS, PASSWORDS, DashboardStore, make_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which("chromedriver") is None or shutil.which("chromium") is None,
        reason="chromium and chromium-driver are not installed (.ci/run installs them)",
    ),
]
SCREENSHOTS = ARTIFACTS / "screenshots"
NAV = {
    "dr_home": ["Home", "Alerts", "Cohort"],
    "safety": ["Home", "Alerts", "Cohort", "Signals"],
    "data": ["Home", "Cohort", "Loads"],
    "admin": ["Home", "Alerts", "Cohort", "Loads", "Signals"],
}


def _shot(duo: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    duo.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def _login(duo: Any, name: str) -> None:
    duo.driver.get(duo.server.url + "/login")
    duo.wait_for_element("#username").send_keys(name)
    duo.find_element("#password").send_keys(PASSWORDS[name])
    duo.find_element("#login-submit").click()
    duo.server_url = duo.server.url  # the Dash entry point, now that there is a session
    duo.wait_for_element("nav")


def _wait(duo: Any, timeout: float = 20) -> WebDriverWait:
    return WebDriverWait(duo.driver, timeout)


@pytest.mark.parametrize("user", list(NAV))
def test_dash001_each_role_sees_its_pages_and_nothing_more(
    dash_duo: Any, dashboard_store: DashboardStore, user: str
) -> None:
    dash_duo.start_server(make_app(dashboard_store), navigate=False)  # login first
    _login(dash_duo, user)
    _wait(dash_duo).until(conditions.presence_of_element_located((By.CSS_SELECTOR, "nav a")))
    links = [a.text for a in dash_duo.find_elements("nav a.nav-link")]
    assert links == NAV[user]
    _shot(dash_duo, f"home_{user}")
    for path in ("/alerts", "/loads", "/signals"):
        if path.strip("/").capitalize() in NAV[user]:
            continue
        dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_text_to_equal("#page-refused", "Your role does not give access to "
                                        "this page.")  # fmt: skip


def test_dash007_data_manager_reads_each_load_outcome(
    dash_duo: Any, dashboard_store: DashboardStore
) -> None:
    dash_duo.start_server(make_app(dashboard_store), navigate=False)  # login first
    _login(dash_duo, "data")
    dash_duo.driver.get(dash_duo.server_url + "/loads")
    cell = '#loads-grid .ag-row[row-index="0"] .ag-cell[col-id="message"]'
    dash_duo.wait_for_element(cell, timeout=20)

    outcome = dash_duo.find_element(cell).text
    assert outcome.endswith("unchanged") and "row(s) added" in outcome, outcome
    _shot(dash_duo, "loads_outcome")


def test_dash002_clinician_acknowledges_and_resolves_an_alert_then_opens_the_patient(
    dash_duo: Any, dashboard_store: DashboardStore
) -> None:
    dash_duo.start_server(make_app(dashboard_store), navigate=False)  # login first
    _login(dash_duo, "dr_home")
    dash_duo.driver.get(dash_duo.server_url + "/alerts")
    cell = '#alerts-grid .ag-row[row-index="0"] .ag-cell[col-id="site"]'
    dash_duo.wait_for_element(cell, timeout=20)
    script = (
        "return [...document.querySelectorAll('#alerts-grid .ag-cell[col-id=\"site\"]')]"
        ".map(e => e.textContent)"
    )
    texts: list[str] = _wait(dash_duo).until(
        lambda driver: (t := driver.execute_script(script)) and all(t) and t  # rows loaded
    )
    sites = set(texts)
    assert sites == {dashboard_store.home_site}  # only the clinician's own site
    _shot(dash_duo, "alerts_queue")
    status_cell = '#alerts-grid .ag-row[row-index="0"] .ag-cell[col-id="status"]'
    dash_duo.find_element(status_cell).click()
    dash_duo.wait_for_contains_text("#alerts-detail", "Why it fired", timeout=20)
    dash_duo.find_element("#alerts-action-acknowledge").click()
    dash_duo.wait_for_contains_text("#alerts-message", "acknowledge done", timeout=20)
    evil = "<b>not bold</b><script>window.pwned=1</script>"
    dash_duo.find_element("#alerts-comment").send_keys(evil)
    dash_duo.find_element("#alerts-action-resolve").click()
    dash_duo.wait_for_contains_text("#alerts-message", "resolve done", timeout=20)
    dash_duo.wait_for_contains_text("#alerts-history", "resolved", timeout=20)
    assert evil in dash_duo.find_element("#alerts-history").text  # shown as text
    assert dash_duo.driver.execute_script("return window.pwned === undefined")
    _shot(dash_duo, "alert_resolved")
    dash_duo.find_element("#alerts-patient-link").click()
    dash_duo.wait_for_contains_text("#patient-header", "Patient", timeout=20)
    dash_duo.wait_for_element("#patient-timeline .main-svg", timeout=30)
    assert "Guideline summary" in dash_duo.find_element("#patient-management").text
    _shot(dash_duo, "patient_timeline")


def test_dash003_cohort_grouping_changes_the_curves(
    dash_duo: Any, dashboard_store: DashboardStore
) -> None:
    dash_duo.start_server(make_app(dashboard_store), navigate=False)  # login first
    _login(dash_duo, "safety")
    dash_duo.driver.get(dash_duo.server_url + "/cohort")
    dash_duo.wait_for_contains_text("#cohort-comparison", "Log-rank p", timeout=30)
    before = dash_duo.find_element("#cohort-at-risk").text
    dash_duo.select_dcc_dropdown("#cohort-group", "Diagnosis")
    _wait(dash_duo, 30).until(lambda _: dash_duo.find_element("#cohort-at-risk").text != before)
    assert "Log-rank p" in dash_duo.find_element("#cohort-comparison").text
    _shot(dash_duo, "cohort_by_diagnosis")


def test_dash006_safety_officer_reviews_incidence_and_a_cusum_chart(
    dash_duo: Any, dashboard_store: DashboardStore
) -> None:
    dash_duo.start_server(make_app(dashboard_store), navigate=False)  # login first
    _login(dash_duo, "safety")
    dash_duo.driver.get(dash_duo.server_url + "/signals")
    dash_duo.wait_for_element(
        '#signals-incidence .ag-row[row-index="0"] .ag-cell[col-id="metric"]', timeout=30
    )
    dash_duo.select_dcc_dropdown("#signals-cusum-choice", index=0)
    dash_duo.wait_for_contains_text("#signals-cusum", "patients in infusion order", timeout=20)
    _shot(dash_duo, "signals_safety")
