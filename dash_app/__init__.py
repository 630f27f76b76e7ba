"""The Dash dashboard (alerts queue, patient timeline, cohort survival, loads).

The pages arrive with the dashboard issue; this package exists so that installation, imports
and the layering test cover it from the first commit.
"""

__all__: list[str] = []
