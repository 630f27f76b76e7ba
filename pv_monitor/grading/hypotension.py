"""When a systolic blood pressure counts as hypotension.

ASTCT 2019 does not define hypotension (clinical.md §1.1). The conventional definitions are:

* adults and children over 10: SBP < 90 mmHg (PMC8021214 reproduction of the ASTCT table,
  "Hypotension (SBP <90 mm Hg)") [C2];
* children aged 1 to 10: SBP < 70 + 2 x age in years mmHg (Mahadeo KM et al., Nat Rev Clin
  Oncol 2019;16:45-63, Table 2) [C].

Below age 1 the same Mahadeo table uses other limits that clinical.md does not give; the adult
threshold is returned there and the grader must treat infants' blood pressure as needing a
clinician's judgement.

Examples
--------
>>> import numpy as np
>>> sbp_threshold_mmhg(np.array([5, 10, 11, 45]))
array([80, 90, 90, 90])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ADULT_SBP_THRESHOLD_MMHG = 90
PAEDIATRIC_AGES = (1, 10)


def sbp_threshold_mmhg(
    age_years: npt.NDArray[np.integer] | npt.NDArray[np.floating],
) -> npt.NDArray[np.int64]:
    """SBP below which a reading is hypotension, for each age (mmHg)."""
    age = np.asarray(age_years)
    low, high = PAEDIATRIC_AGES
    child = (age >= low) & (age <= high)
    paediatric = 70 + 2 * np.floor(age)
    return np.where(child, paediatric, ADULT_SBP_THRESHOLD_MMHG).astype(np.int64)
