"""A small graded store with one user per role, and the dashboard app over it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dash_app import DashboardConfig, create_app
from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.pipeline import run_pipeline
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import Site
from pv_monitor.store.users import add_user
from pv_monitor.synthetic import generate_cohort

PASSWORDS = {
    "dr_home": "pw-clinician",
    "dr_away": "pw-clinician-2",
    "safety": "pw-safety",
    "data": "pw-data",
    "admin": "pw-admin",
}
ROLE_OF = {
    "dr_home": "clinician",
    "dr_away": "clinician",
    "safety": "safety_officer",
    "data": "data_manager",
    "admin": "admin",
}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass(frozen=True)
class DashboardStore:
    """The store's URL and the site keys of the two clinicians."""

    url: str
    home_site: str
    away_site: str


@pytest.fixture(scope="session")
def dashboard_store(tmp_path_factory: pytest.TempPathFactory) -> DashboardStore:
    """60 synthetic subjects, loaded and graded, and the users of :data:`PASSWORDS`."""
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'store.db'}"
    generate_cohort(60, seed=5, out_dir=folder / "tidy")
    upgrade_store(url, actor="test")
    assert load([folder / "tidy"], "tidy", database_url=url, actor="test").exit_code == 0
    run_pipeline(url, actor="test")
    engine = create_store_engine(url)
    with session_factory(engine)() as session, session.begin():
        sites = session.execute(select(Site.site_id, Site.site_key).order_by(Site.site_key)).all()
        (home_id, home), (away_id, away) = sites[0], sites[1]
        site_of = {"dr_home": [home_id], "dr_away": [away_id]}
        for name, password in PASSWORDS.items():
            add_user(session, name, ROLE_OF[name], password, actor="test",
                     site_ids=site_of.get(name, []))  # fmt: skip
    engine.dispose()
    return DashboardStore(url, home, away)


def make_app(store: DashboardStore, **overrides: Any) -> Any:
    """A fresh dashboard over ``store`` (fresh rate-limit memory, fixed secret)."""
    config = DashboardConfig(store.url, secret_key="test-secret-" + "x" * 20, **overrides)
    return create_app(config)


def pytest_setup_options() -> Any:
    """Chrome options for dash[testing]: Debian's chromium, headless, as root in a container."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    chromium = shutil.which("chromium") or os.environ.get("CHROME_BIN")
    if chromium:
        options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(argument)
    return options
