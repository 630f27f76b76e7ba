"""The WSGI entry point for production:

    PV_MONITOR_DATABASE_URL=postgresql+psycopg://... PV_MONITOR_SECRET_KEY=... \\
    PV_MONITOR_HTTPS=1 gunicorn --workers 4 --bind 127.0.0.1:8050 dash_app.wsgi:server

behind a TLS-terminating reverse proxy (docs/dashboard.md). Every worker needs the same
``PV_MONITOR_SECRET_KEY``.
"""

from __future__ import annotations

from dash_app.app import create_app
from dash_app.config import DashboardConfig
from pv_monitor.config import database_url

server = create_app(DashboardConfig.from_environment(database_url())).server
