"""Versioned relapse-signal tables (CSV), read with ``pv_monitor.grading.criteria``."""
