"""How the dashboard is configured: where the store is, the session secret, HTTPS and refresh.

Examples
--------
>>> config = DashboardConfig(database_url="sqlite:///pv.db", secret_key="x" * 32)
>>> config.refresh_seconds, config.https, config.debug
(30, False, False)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

SECRET_KEY_ENV = "PV_MONITOR_SECRET_KEY"


@dataclass(frozen=True)
class DashboardConfig:
    """Settings of one dashboard process.

    Attributes
    ----------
    database_url : str
        The store (SQLAlchemy URL).
    secret_key : str
        Signs the session cookie and CSRF tokens. Every worker of one deployment needs the same
        key (``PV_MONITOR_SECRET_KEY``), or sessions and CSRF tokens fail across workers.
    https : bool
        Served behind HTTPS: cookies get ``Secure`` and responses HSTS.
    debug : bool
        Dash's debug mode (Werkzeug debugger: never on a reachable server).
    refresh_seconds : int
        How often the alert queue refreshes itself.
    login_limit : str
        Flask-Limiter rate of failed logins per client address.
    session_hours : int
        A session ends this many hours after login.
    """

    database_url: str
    secret_key: str
    https: bool = False
    debug: bool = False
    refresh_seconds: int = 30
    login_limit: str = "5 per minute"
    session_hours: int = 8

    @classmethod
    def from_environment(
        cls, database_url: str, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> DashboardConfig:
        """Settings from the environment: ``PV_MONITOR_SECRET_KEY`` (a random key for this
        process when unset, so sessions end when it stops), ``PV_MONITOR_HTTPS=1``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "database_url": database_url,
            "secret_key": env.get(SECRET_KEY_ENV) or secrets.token_hex(32),
            "https": env.get("PV_MONITOR_HTTPS", "") in ("1", "true", "yes"),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
