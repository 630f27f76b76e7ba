"""Risk scores and predictors: pure functions over observation frames (clinical.md §5)."""

from pv_monitor.risk.scores import compute_scores, easix_value, m_easix_value

__all__ = ["compute_scores", "easix_value", "m_easix_value"]
