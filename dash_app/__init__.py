"""The Dash dashboard: login and roles, alerts queue, patient timeline, cohort survival, loads.

``create_app(config)`` builds it; ``pv-monitor serve`` runs it (docs/dashboard.md).
"""

from dash_app.app import create_app
from dash_app.config import DashboardConfig

__all__ = ["DashboardConfig", "create_app"]
