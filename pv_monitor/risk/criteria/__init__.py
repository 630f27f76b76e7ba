"""Versioned risk-score tables (CSV), read with ``pv_monitor.grading.criteria``."""
