"""Every table of the store, importable from one place.

Importing this package registers all tables on :data:`pv_monitor.store.base.Base.metadata`.
"""

from pv_monitor.store.base import Base
from pv_monitor.store.models.clinical import (
    AdverseEvent,
    DiseaseAssessment,
    DrugExposure,
    Measurement,
    Observation,
)
from pv_monitor.store.models.derived import (
    Alert,
    AlertEvent,
    DailyAssessment,
    PipelineRun,
    RiskScore,
    ToxicityEpisode,
    ToxicityGrade,
)
from pv_monitor.store.models.governance import (
    AnalysisRun,
    AppUser,
    AppUserSite,
    AuditLog,
    LoadBatch,
    LoadRejection,
    Signal,
    SignalEvent,
)
from pv_monitor.store.models.reference import Product, Site, Study
from pv_monitor.store.models.spontaneous import IcsrCase, IcsrDrug, IcsrReaction
from pv_monitor.store.models.subject import Death, FollowUp, Infusion, Subject
from pv_monitor.store.triggers import APPEND_ONLY_TABLES, make_append_only

for _name in APPEND_ONLY_TABLES:
    make_append_only(Base.metadata.tables[_name])

__all__ = [
    "AdverseEvent",
    "Alert",
    "AlertEvent",
    "AnalysisRun",
    "AppUser",
    "AppUserSite",
    "AuditLog",
    "DailyAssessment",
    "Death",
    "DiseaseAssessment",
    "DrugExposure",
    "FollowUp",
    "IcsrCase",
    "IcsrDrug",
    "IcsrReaction",
    "Infusion",
    "LoadBatch",
    "LoadRejection",
    "Measurement",
    "Observation",
    "PipelineRun",
    "Product",
    "RiskScore",
    "Signal",
    "SignalEvent",
    "Site",
    "Study",
    "Subject",
    "ToxicityEpisode",
    "ToxicityGrade",
]
