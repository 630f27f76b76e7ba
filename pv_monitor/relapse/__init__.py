"""Antigen-escape relapse: markers, early signals and relapse phenotypes (clinical.md §6)."""

from pv_monitor.relapse.markers import phenotype_summary, relapse_signals

__all__ = ["phenotype_summary", "relapse_signals"]
