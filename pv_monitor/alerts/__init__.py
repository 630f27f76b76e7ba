"""Alerts: the rule catalogue (pure) and the engine that turns candidates into alerts."""

from pv_monitor.alerts.rules import RULES, DerivedFrames, Rule, evaluate

__all__ = ["RULES", "DerivedFrames", "Rule", "evaluate"]
