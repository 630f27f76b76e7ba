"""The alert engine's decisions: what the candidates of a run do to the existing alerts.

Pure: it compares candidates (:func:`pv_monitor.alerts.rules.evaluate`) with the alerts already
stored for the same subjects and returns the actions; :mod:`pv_monitor.store.alerts` applies
them. The rules of the game:

* one alert per subject, rule and episode key: a candidate that matches an alert never creates
  a second one;
* **raise**: no alert yet for that key;
* **escalate**: an open or acknowledged alert whose candidate has a higher ``level`` (a higher
  grade): severity, title and evidence are updated and the alert returns to ``open`` so the
  new grade is seen;
* **update**: an open or acknowledged alert whose evidence changed at the same level (more days
  of the same episode): the evidence is refreshed, the status kept;
* **reopen**: a resolved or dismissed alert whose candidate has a higher level than when it was
  closed; a closed alert is never raised again for the same or lesser evidence.

Evidence is compared by the SHA-256 of its canonical JSON (with the level).

Examples
--------
>>> import pandas as pd
>>> candidate = pd.DataFrame([{"subject_id": 1, "infusion_id": 1, "rule_id": "crs",
...     "rule_version": "1", "severity": "high", "syndrome": "crs", "episode_key": "crs:1:1",
...     "study_day": 3, "level": 2, "title": "CRS grade 2", "evidence": {"peak_grade": 2}}])
>>> [a.kind for a in plan(candidate, existing=pd.DataFrame(columns=EXISTING_COLUMNS))]
['raise']
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

EXISTING_COLUMNS = (
    "alert_id",
    "subject_id",
    "rule_id",
    "episode_key",
    "status",
    "level",
    "evidence_sha256",
)
OPEN_STATUSES = ("open", "acknowledged")


def evidence_digest(level: int, evidence: Any) -> str:
    """SHA-256 of the canonical JSON of a candidate's level and evidence.

    >>> evidence_digest(2, {"b": 1, "a": [1.0]}) == evidence_digest(2, {"a": [1.0], "b": 1})
    True
    """
    text = json.dumps({"level": level, "evidence": evidence}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Action:
    """One change the engine makes.

    ``kind`` is ``raise``, ``escalate``, ``update`` or ``reopen``; ``alert_id`` and
    ``previous_status`` are empty for ``raise``; ``candidate`` holds the candidate's columns and
    ``evidence_sha256``.
    """

    kind: str
    candidate: dict[str, Any]
    alert_id: int | None = None
    previous_status: str | None = None
    previous_level: int | None = None


def plan(candidates: pd.DataFrame, existing: pd.DataFrame) -> list[Action]:
    """The actions that bring the stored alerts in line with the candidates of a run."""
    latest = {
        (row["subject_id"], row["rule_id"], row["episode_key"]): row
        for row in existing.sort_values("alert_id").to_dict("records")
    }  # the last alert of each key wins
    actions = []
    for record in candidates.to_dict("records"):
        candidate = {str(k): v for k, v in record.items()}
        level = int(candidate["level"])
        candidate["level"] = level
        candidate["evidence_sha256"] = evidence_digest(level, candidate["evidence"])
        key = (candidate["subject_id"], candidate["rule_id"], candidate["episode_key"])
        alert = latest.get(key)
        if alert is None:
            actions.append(Action("raise", candidate))
            continue
        if alert["evidence_sha256"] == candidate["evidence_sha256"]:
            continue
        before = int(alert["level"])
        status = str(alert["status"])
        if status in OPEN_STATUSES:
            kind = "escalate" if level > before else "update"
        elif level > before:
            kind = "reopen"
        else:
            continue  # closed, and nothing worse than when it was closed
        actions.append(Action(kind, candidate, int(alert["alert_id"]), status, before))
    return actions
