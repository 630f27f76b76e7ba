"""pv-monitor: CAR-T clinical-safety pharmacovigilance monitor.

The package is the domain. Its pure sub-packages (grading, risk, relapse, survival, signals,
reference, synthetic) never import the store, the ETL or Dash; only :mod:`pv_monitor.store`
talks SQL (see ``docs/architecture_decisions.md``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
