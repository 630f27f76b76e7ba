"""Clinical grading: pure functions over frames, criteria held as versioned data tables.

* :func:`grade_crs` and :func:`grade_icans` grade the daily assessment frame (architecture
  contract 2) under ASTCT 2019, with criteria from :mod:`pv_monitor.grading.criteria`;
* :func:`sbp_threshold_mmhg` says when a systolic pressure is hypotension for an age.
"""

from pv_monitor.grading._frame import FrameError
from pv_monitor.grading.criteria import Criteria, CriteriaError, load_criteria, read_criteria
from pv_monitor.grading.crs import grade_crs
from pv_monitor.grading.hypotension import sbp_threshold_mmhg
from pv_monitor.grading.icans import grade_icans

__all__ = [
    "Criteria",
    "CriteriaError",
    "FrameError",
    "grade_crs",
    "grade_icans",
    "load_criteria",
    "read_criteria",
    "sbp_threshold_mmhg",
]
