"""Clinical grading: pure functions over frames, criteria held as versioned data.

The ASTCT CRS and ICANS graders, ICAHT and IEC-HS arrive with the clinical-engine issue; the
thresholds already needed elsewhere live here so that each is written once.
"""

from pv_monitor.grading.hypotension import sbp_threshold_mmhg

__all__ = ["sbp_threshold_mmhg"]
