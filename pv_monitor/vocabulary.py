"""Controlled vocabularies shared by the ETL, the synthetic cohort, the store and the pipeline.

One place for every code and categorical value of the canonical tidy export (tidy format v1,
``architecture.md`` contract 1), the SDTM test codes that carry the same data, the grading scales
that trial exports report, and the workflow states of alerts, signals, loads and users.

Examples
--------
>>> OBSERVATION_CODES["TEMP"].canonical_unit
'C'
>>> OBSERVATION_CODES["O2_DEVICE"].values[:3]
('none', 'blow_by', 'nasal_cannula')
>>> OBSERVATION_CODES["ICE"].sdtm
SdtmTest(domain='QS', testcd='ICETOT', test='ICE Total Score', category='ICE', specimen=None)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

TIDY_FORMAT_VERSION = "1"
"""Version of the canonical tidy export this code reads and writes."""

ValueKind = Literal["numeric", "categorical", "boolean"]
StoreTable = Literal["measurement", "observation", "disease_assessment"]


@dataclass(frozen=True)
class SdtmTest:
    """Where an observation code lives in an SDTM export (see ``docs/data_formats.md``)."""

    domain: str
    testcd: str
    test: str
    category: str | None = None
    specimen: str | None = None


@dataclass(frozen=True)
class ObservationCode:
    """One code of ``observations.csv`` in tidy format v1.

    Attributes
    ----------
    code : str
        The code as written in the export.
    meaning : str
        What is observed, in words.
    kind : {"numeric", "categorical", "boolean"}
        How the value is written.
    units : tuple of str
        Accepted units, the canonical one first (numeric codes only).
    values : tuple of str
        Allowed values (categorical codes only).
    table : {"measurement", "observation", "disease_assessment"}
        The store table that keeps it.
    sdtm : SdtmTest
        The SDTM domain and test code that carry the same data.
    lower, upper : float or None
        Physiologically possible range in the canonical unit; values outside are rejected.
    """

    code: str
    meaning: str
    kind: ValueKind
    table: StoreTable
    sdtm: SdtmTest
    units: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    lower: float | None = None
    upper: float | None = None

    @property
    def canonical_unit(self) -> str | None:
        """The unit values are stored in (the first accepted unit), or None."""
        return self.units[0] if self.units else None


O2_DEVICES = (
    "none",
    "blow_by",
    "nasal_cannula",
    "high_flow_nasal_cannula",
    "facemask",
    "non_rebreather",
    "venturi",
    "cpap",
    "bipap",
    "mechanical_ventilation",
)
"""Oxygen support, from none to invasive ventilation (ASTCT CRS hypoxia domain, clinical.md §1)."""

CONSCIOUSNESS_LEVELS = (
    "alert",
    "awakens_spontaneously",
    "awakens_to_voice",
    "awakens_to_tactile",
    "unarousable",
)
"""Depressed level of consciousness, ASTCT ICANS table (clinical.md §2.2)."""

SEIZURE_TYPES = ("none", "resolving", "nonconvulsive_resolving", "prolonged_or_repetitive")
CEREBRAL_EDEMA_FINDINGS = ("none", "focal", "diffuse")
ANTIGEN_STATUSES = ("positive", "dim", "negative", "lineage_switch")
"""Target-antigen phenotype of relapse blasts (clinical.md §6.2)."""
RESPONSES = ("CR", "sCR", "CRi", "VGPR", "PR", "MR", "SD", "PD", "relapse", "NE")
"""Disease response: ALL (CR, CRi), lymphoma (Lugano 2014 metabolic CMR/PMR/NMR/PMD and
anatomic CAR/PAR/SAD/PAD load as CR/PR/SD/PD) and myeloma (IMWG sCR, CR, VGPR, PR, MR, SD, PD);
NE = not evaluable."""
BOOLEAN_VALUES = ("true", "false")
CRS_SCALES = ("astct_2019", "lee_2014", "penn", "mskcc", "cartox", "ctcae_v4_03", "ctcae_v5_0")
"""Grading scales a reported CRS grade may be on (clinical.md §1, §3.1); ASTCT 2019 first."""
ICANS_SCALES = ("astct_2019", "cartox", "ctcae_v4_03", "ctcae_v5_0")
"""Grading scales a reported ICANS (neurotoxicity) grade may be on (clinical.md §2, §3.2: ASTCT
ICANS, CARTOX/CRES, CTCAE neurologic terms); Lee 2014, Penn and MSKCC CRS scales are not
neurotoxicity scales."""


def _vs(testcd: str, test: str) -> SdtmTest:
    return SdtmTest("VS", testcd, test)


def _lb(testcd: str, test: str, category: str, specimen: str = "BLOOD") -> SdtmTest:
    return SdtmTest("LB", testcd, test, category, specimen)


def _nv(testcd: str, test: str) -> SdtmTest:
    return SdtmTest("NV", testcd, test, "NEUROLOGICAL ASSESSMENT")


def _num(
    code: str,
    meaning: str,
    sdtm: SdtmTest,
    units: tuple[str, ...],
    lower: float,
    upper: float,
    table: StoreTable = "measurement",
) -> ObservationCode:
    return ObservationCode(code, meaning, "numeric", table, sdtm, units, (), lower, upper)


def _cat(
    code: str,
    meaning: str,
    sdtm: SdtmTest,
    values: tuple[str, ...],
    table: StoreTable = "observation",
) -> ObservationCode:
    return ObservationCode(code, meaning, "categorical", table, sdtm, values=values)


def _bool(code: str, meaning: str, sdtm: SdtmTest) -> ObservationCode:
    return ObservationCode(code, meaning, "boolean", "observation", sdtm, values=BOOLEAN_VALUES)


_RS_CRS_GRADE = SdtmTest("RS", "CRSGR", "CRS Grade", "CLINICAL CLASSIFICATION")
_RS_ICANS_GRADE = SdtmTest("RS", "ICANSGR", "ICANS Grade", "CLINICAL CLASSIFICATION")
_QS_ICE = SdtmTest("QS", "ICETOT", "ICE Total Score", "ICE")
_QS_CAPD = SdtmTest("QS", "CAPDTOT", "CAPD Total Score", "CAPD")
_PC_CAR = SdtmTest("PC", "CARTGENE", "CAR Transgene", "CELLULAR KINETICS", "BLOOD")
_LB_MRD = _lb("MRD", "Minimal Residual Disease", "DISEASE ASSESSMENT", "BONE MARROW")
_SUPPRS_ANTIGEN = SdtmTest("SUPPRS", "AGSTAT", "Target Antigen Status")
_RS_RESPONSE = SdtmTest("RS", "OVRLRESP", "Overall Response")
_MYELOMA = "MYELOMA MARKERS"

# Lower and upper bounds are physiologically possible limits in the canonical unit; they catch
# unit mistakes and typing errors, not abnormal values.
# fmt: off
_CODES = (
    _num("TEMP", "body temperature", _vs("TEMP", "Temperature"), ("C", "F"), 25, 45),
    _num("SBP", "systolic blood pressure", _vs("SYSBP", "Systolic Blood Pressure"), ("mmHg",), 20, 300),
    _num("DBP", "diastolic blood pressure", _vs("DIABP", "Diastolic Blood Pressure"), ("mmHg",), 5, 200),
    _num("MAP", "mean arterial pressure", _vs("MAP", "Mean Arterial Pressure"), ("mmHg",), 10, 250),
    _num("HR", "heart rate", _vs("HR", "Heart Rate"), ("/min",), 10, 300),
    _num("SPO2", "oxygen saturation", _vs("OXYSAT", "Oxygen Saturation"), ("%",), 30, 100),
    _cat("O2_DEVICE", "oxygen support", _vs("O2DEV", "Oxygen Delivery Device"), O2_DEVICES),
    _num("O2_FLOW", "oxygen flow", _vs("O2FLOW", "Oxygen Flow Rate"), ("L/min",), 0, 80),
    _bool("HYPOTENSION", "clinician-recorded hypotension", _vs("HYPOTEN", "Hypotension")),
    _num("ICE", "ICE score", _QS_ICE, ("points",), 0, 10),
    _num("CAPD", "CAPD score (children)", _QS_CAPD, ("points",), 0, 32),
    _cat("LOC", "level of consciousness", _nv("LOC", "Level of Consciousness"), CONSCIOUSNESS_LEVELS),
    _cat("SEIZURE", "seizure", _nv("SEIZURE", "Seizure"), SEIZURE_TYPES),
    _bool("MOTOR_WEAKNESS", "deep focal motor weakness", _nv("MOTWKNS", "Deep Focal Motor Weakness")),
    _cat("CEREBRAL_EDEMA", "cerebral edema on neuroimaging",
         _nv("CEREDEMA", "Cerebral Edema on Imaging"), CEREBRAL_EDEMA_FINDINGS),
    _bool("ICP_SIGNS", "posturing, CN VI palsy, papilledema or Cushing's triad",
          _nv("ICPSIGN", "Signs of Raised Intracranial Pressure")),
    _bool("SEDATED", "sedating drugs make LOC and ICE ungradable",
          _nv("SEDATED", "Under Sedating Medication")),
    _num("CRP", "C-reactive protein", _lb("CRP", "C Reactive Protein", "CHEMISTRY"), ("mg/L", "mg/dL"), 0, 1000),
    _num("FERRITIN", "ferritin", _lb("FERRITIN", "Ferritin", "CHEMISTRY"), ("ng/mL", "ug/L"), 0, 500_000),
    _num("LDH", "lactate dehydrogenase", _lb("LDH", "Lactate Dehydrogenase", "CHEMISTRY"), ("U/L",), 0, 50_000),
    _num("CREAT", "creatinine", _lb("CREAT", "Creatinine", "CHEMISTRY"), ("mg/dL", "umol/L"), 0, 30),
    _num("PLT", "platelets", _lb("PLAT", "Platelets", "HEMATOLOGY"), ("10^9/L", "/uL"), 0, 3000),
    _num("ANC", "absolute neutrophil count", _lb("NEUT", "Neutrophils", "HEMATOLOGY"), ("10^9/L", "/uL"), 0, 200),
    _num("HGB", "hemoglobin", _lb("HGB", "Hemoglobin", "HEMATOLOGY"), ("g/dL", "g/L"), 0, 30),
    _num("FIBRINOGEN", "fibrinogen", _lb("FIBRINO", "Fibrinogen", "COAGULATION"), ("mg/dL", "g/L"), 0, 2000),
    _num("ALT", "alanine aminotransferase", _lb("ALT", "Alanine Aminotransferase", "CHEMISTRY"), ("U/L",), 0, 20_000),
    _num("AST", "aspartate aminotransferase", _lb("AST", "Aspartate Aminotransferase", "CHEMISTRY"), ("U/L",), 0, 20_000),
    _num("BILI", "bilirubin", _lb("BILI", "Bilirubin", "CHEMISTRY"), ("mg/dL", "umol/L"), 0, 60),
    _num("TRIG", "triglycerides", _lb("TRIG", "Triglycerides", "CHEMISTRY"), ("mg/dL", "mmol/L"), 0, 10_000),
    _num("IL6", "interleukin-6", _lb("IL6", "Interleukin 6", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("BCELL", "peripheral CD19+ B cells", _lb("CD19", "CD19+ B Cells", "IMMUNOPHENOTYPING"),
         ("cells/uL", "%"), 0, 20_000),
    _num("CAR_TRANSGENE", "CAR transgene", _PC_CAR, ("copies/ug",), 0, 1e8),
    _num("MRD", "minimal residual disease", _LB_MRD, ("fraction", "%"), 0, 1, "disease_assessment"),
    _cat("ANTIGEN_STATUS", "target antigen on relapse blasts", _SUPPRS_ANTIGEN, ANTIGEN_STATUSES,
         "disease_assessment"),
    _cat("RESPONSE", "disease response", _RS_RESPONSE, RESPONSES, "disease_assessment"),
    _num("M_PROTEIN", "serum M-protein", _lb("MPROTEIN", "M Protein", _MYELOMA), ("g/dL", "mg/dL"), 0, 20),
    _num("FLC_DIFF", "involved minus uninvolved free light chain",
         _lb("FLCDIFF", "Free Light Chain Difference", _MYELOMA), ("mg/dL", "mg/L"), -1000, 10_000),
    _num("SBCMA", "soluble BCMA", _lb("SBCMA", "Soluble BCMA", _MYELOMA), ("ng/mL",), 0, 100_000),
    _num("IFNG", "interferon gamma", _lb("IFNG", "Interferon Gamma", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL10", "interleukin-10", _lb("IL10", "Interleukin 10", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL12P70", "interleukin-12 p70", _lb("IL12P70", "Interleukin 12 p70", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL13", "interleukin-13", _lb("IL13", "Interleukin 13", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL1B", "interleukin-1 beta", _lb("IL1B", "Interleukin 1 Beta", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL2", "interleukin-2", _lb("IL2", "Interleukin 2", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL4", "interleukin-4", _lb("IL4", "Interleukin 4", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL8", "interleukin-8", _lb("IL8", "Interleukin 8", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL15", "interleukin-15", _lb("IL15", "Interleukin 15", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("IL18", "interleukin-18", _lb("IL18", "Interleukin 18", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("TNFA", "tumour necrosis factor alpha", _lb("TNFA", "Tumor Necrosis Factor Alpha", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("GMCSF", "granulocyte-macrophage colony-stimulating factor", _lb("GMCSF", "GM-CSF", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("MCP1", "monocyte chemoattractant protein 1 (CCL2)", _lb("MCP1", "Monocyte Chemoattractant Protein 1", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("MIP1A", "macrophage inflammatory protein 1 alpha", _lb("MIP1A", "MIP-1 Alpha", "CYTOKINES"), ("pg/mL",), 0, 1_000_000),
    _num("CRS_GRADE", "clinician-reported daily CRS grade", _RS_CRS_GRADE, CRS_SCALES, 0, 5),
    _num("ICANS_GRADE", "clinician-reported daily ICANS grade", _RS_ICANS_GRADE, ICANS_SCALES, 0, 5),
)
# fmt: on

REPORTED_GRADE_CODES: MappingProxyType[str, str] = MappingProxyType(
    {"CRS_GRADE": "crs", "ICANS_GRADE": "icans"}
)
"""Daily reported-grade codes and their syndrome. The value is the grade as the clinician gave
it (0 to 5 in steps of 0.5: a half grade is the mean of two raters, kept as given) and the unit
is the grading scale (one of the code's ``units``; never converted to another scale). They are
stored beside the grades pv-monitor derives from raw observations, never in their place."""
REPORTED_GRADE_STEP = 0.5
"""Reported daily grades are whole or half grades."""

OBSERVATION_CODES: MappingProxyType[str, ObservationCode] = MappingProxyType(
    {c.code: c for c in _CODES}
)
"""Every observation code of tidy format v1, by code."""


# Aliases: spellings found in real exports, mapped to the controlled value. Matching ignores case,
# surrounding spaces, and treats spaces, hyphens and underscores alike.
VALUE_ALIASES: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType({
    "O2_DEVICE": MappingProxyType({
        "room_air": "none", "ra": "none", "no": "none", "nc": "nasal_cannula",
        "low_flow_nasal_cannula": "nasal_cannula", "hfnc": "high_flow_nasal_cannula",
        "high_flow": "high_flow_nasal_cannula", "simple_facemask": "facemask", "face_mask": "facemask",
        "mask": "facemask", "nrb": "non_rebreather", "non_rebreather_mask": "non_rebreather",
        "venturi_mask": "venturi", "niv": "bipap", "non_invasive_ventilation": "bipap",
        "intubated": "mechanical_ventilation", "ventilator": "mechanical_ventilation",
        "invasive_mechanical_ventilation": "mechanical_ventilation", "imv": "mechanical_ventilation",
    }),
    "LOC": MappingProxyType({"awake": "alert", "spontaneous": "awakens_spontaneously",
                             "voice": "awakens_to_voice", "tactile": "awakens_to_tactile",
                             "coma": "unarousable"}),
    "SEIZURE": MappingProxyType({"no": "none", "n": "none", "false": "none"}),
    "CEREBRAL_EDEMA": MappingProxyType({"no": "none", "n": "none", "absent": "none"}),
    "RESPONSE": MappingProxyType({
        "cmr": "CR", "pmr": "PR", "nmr": "SD", "pmd": "PD", "car": "CR", "par": "PR",
        "sad": "SD", "pad": "PD", "complete_response": "CR",
        "complete_remission": "CR", "partial_response": "PR", "stable_disease": "SD",
        "progressive_disease": "PD", "progression": "PD", "relapsed": "relapse",
        "very_good_partial_response": "VGPR", "stringent_complete_response": "sCR",
        "minimal_response": "MR", "not_evaluable": "NE",
    }),
    "ANTIGEN_STATUS": MappingProxyType({"pos": "positive", "neg": "negative", "low": "dim",
                                        "lineage_switched": "lineage_switch"}),
    "BOOLEAN": MappingProxyType({"y": "true", "yes": "true", "1": "true", "t": "true",
                                 "n": "false", "no": "false", "0": "false", "f": "false"}),
    "SEX": MappingProxyType({"f": "F", "female": "F", "m": "M", "male": "M", "u": "U",
                             "unknown": "U", "undifferentiated": "U"}),
    "DIAGNOSIS": MappingProxyType({
        "dlbcl": "LBCL", "large_b_cell_lymphoma": "LBCL", "diffuse_large_b_cell_lymphoma": "LBCL",
        "all": "B-ALL", "b_all": "B-ALL", "b_cell_all": "B-ALL",
        "acute_lymphoblastic_leukemia": "B-ALL", "acute_lymphoblastic_leukaemia": "B-ALL",
        "mcl": "MCL", "mantle_cell_lymphoma": "MCL", "fl": "FL", "follicular_lymphoma": "FL",
        "mm": "MM", "multiple_myeloma": "MM", "myeloma": "MM", "lbcl": "LBCL",
    }),
    "GRADING_SCALE": MappingProxyType({
        "astct": "astct_2019", "asbmt": "astct_2019", "astct_2019": "astct_2019",
        "lee": "lee_2014", "lee_2014": "lee_2014", "penn": "penn", "upenn": "penn",
        "mskcc": "mskcc", "cartox": "cartox", "ctcae_v4": "ctcae_v4_03",
        "ctcae_4.03": "ctcae_v4_03", "ctcae_v4.03": "ctcae_v4_03", "ctcae_v5": "ctcae_v5_0",
        "ctcae_5.0": "ctcae_v5_0", "ctcae_v5.0": "ctcae_v5_0", "hines": "hines_2023",
        "cres": "cartox", "astct_2019_consensus": "astct_2019", "asbmt_2019": "astct_2019",
    }),
    "AE_OUTCOME": MappingProxyType({
        "recovered/resolved": "recovered", "recovering/resolving": "recovering",
        "not_recovered/not_resolved": "not_recovered",
        "recovered/resolved_with_sequelae": "recovered_with_sequelae", "death": "fatal",
        "resolved": "recovered", "ongoing": "not_recovered",
    }),
})  # fmt: skip
"""Aliases per value domain: observation codes (O2_DEVICE, LOC, ...) and the other controlled
columns (BOOLEAN, SEX, DIAGNOSIS, GRADING_SCALE, AE_OUTCOME)."""

DRUG_ALIASES: MappingProxyType[str, str] = MappingProxyType({
    "actemra": "tocilizumab", "roactemra": "tocilizumab", "decadron": "dexamethasone",
    "solu_medrol": "methylprednisolone", "solumedrol": "methylprednisolone",
    "kineret": "anakinra", "keppra": "levetiracetam", "tylenol": "acetaminophen",
    "paracetamol": "acetaminophen", "noradrenaline": "norepinephrine",
    "adrenaline": "epinephrine", "neo_synephrine": "phenylephrine", "sylvant": "siltuximab",
    "corticosteroids": "corticosteroid", "steroid": "corticosteroid",
    "steroids": "corticosteroid",
})  # fmt: skip
"""Brand and international names of the drugs pv-monitor classifies (DRUG_CLASSES)."""

SDTM_TEST_ALIASES: MappingProxyType[tuple[str, str], str] = MappingProxyType({
    ("VS", "PULSE"): "HR", ("VS", "TEMP"): "TEMP", ("LB", "NEUTAB"): "ANC", ("LB", "ANC"): "ANC",
    ("LB", "PLT"): "PLT", ("LB", "HB"): "HGB", ("LB", "CRPHS"): "CRP", ("LB", "FERR"): "FERRITIN",
    ("LB", "TRIGLY"): "TRIG", ("LB", "TG"): "TRIG", ("LB", "FIBRINOG"): "FIBRINOGEN",
    ("LB", "B19"): "BCELL", ("LB", "CD19AB"): "BCELL", ("VS", "SPO2"): "SPO2",
})  # fmt: skip
"""SDTM test codes other sponsors use for the codes pv-monitor monitors (besides each code's own
test code in ObservationCode.sdtm)."""


class DrugClass(StrEnum):
    """What a drug does in CAR-T toxicity management (drives ``crs_treated`` and vasopressors)."""

    VASOPRESSOR = "vasopressor"
    IL6_BLOCKADE = "il6_blockade"
    CORTICOSTEROID = "corticosteroid"
    ANTIPYRETIC = "antipyretic"
    IL1_BLOCKADE = "il1_blockade"
    ANTISEIZURE = "antiseizure"
    LYMPHODEPLETION = "lymphodepletion"


DRUG_CLASSES: MappingProxyType[str, DrugClass] = MappingProxyType(
    {
        "norepinephrine": DrugClass.VASOPRESSOR,
        "epinephrine": DrugClass.VASOPRESSOR,
        "phenylephrine": DrugClass.VASOPRESSOR,
        "dopamine": DrugClass.VASOPRESSOR,
        "vasopressin": DrugClass.VASOPRESSOR,
        "tocilizumab": DrugClass.IL6_BLOCKADE,
        "siltuximab": DrugClass.IL6_BLOCKADE,
        "dexamethasone": DrugClass.CORTICOSTEROID,
        "methylprednisolone": DrugClass.CORTICOSTEROID,
        "hydrocortisone": DrugClass.CORTICOSTEROID,
        "prednisone": DrugClass.CORTICOSTEROID,
        "corticosteroid": DrugClass.CORTICOSTEROID,  # agent not named (e.g. "steroids: yes")
        "acetaminophen": DrugClass.ANTIPYRETIC,
        "ibuprofen": DrugClass.ANTIPYRETIC,
        "anakinra": DrugClass.IL1_BLOCKADE,
        "levetiracetam": DrugClass.ANTISEIZURE,
        "fludarabine": DrugClass.LYMPHODEPLETION,
        "cyclophosphamide": DrugClass.LYMPHODEPLETION,
        "bendamustine": DrugClass.LYMPHODEPLETION,
    }
)
"""Canonical drug names (lower case, generic) and their class."""

VASOPRESSIN = "vasopressin"
"""Never counted toward "multiple vasopressors" in ASTCT CRS grading (clinical.md §1.1)."""


class GradingScale(StrEnum):
    """Grading scales that trial exports report; reported grades are stored, never converted.

    References: clinical.md §1-3 (ASTCT 2019; Lee 2014; Penn; MSKCC; CARTOX; CTCAE).
    """

    ASTCT_2019 = "astct_2019"
    LEE_2014 = "lee_2014"
    PENN = "penn"
    MSKCC = "mskcc"
    CARTOX = "cartox"
    CTCAE_V4_03 = "ctcae_v4_03"
    CTCAE_V5_0 = "ctcae_v5_0"
    HINES_2023 = "hines_2023"


AE_OUTCOMES = (
    "recovered",
    "recovering",
    "not_recovered",
    "recovered_with_sequelae",
    "fatal",
    "unknown",
)

DIAGNOSES = MappingProxyType(
    {
        "LBCL": "large B-cell lymphoma",
        "B-ALL": "B-cell acute lymphoblastic leukaemia",
        "MCL": "mantle cell lymphoma",
        "FL": "follicular lymphoma",
        "MM": "multiple myeloma",
    }
)
"""Diagnosis codes written in ``subjects.csv`` and SUPPDM, with their meaning."""

# Workflow states. The store turns each tuple into a CHECK constraint; the services that move
# records between states (alerts, signals, loads) read the same tuples.
ROLES = ("clinician", "safety_officer", "data_manager", "admin")
ALERT_STATUSES = ("open", "acknowledged", "resolved", "dismissed")
ALERT_SEVERITIES = ("info", "warning", "high", "critical")
"""Alert severities, least to most severe."""
SIGNAL_STATUSES = (
    "new",
    "under_validation",
    "validated",
    "refuted",
    "under_assessment",
    "closed",
)
"""GVP Module IX signal lifecycle (pharmacovigilance.md §1.2)."""
SIGNAL_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("under_validation",),
    "under_validation": ("validated", "refuted"),
    "validated": ("under_assessment",),
    "under_assessment": ("closed",),
    "refuted": (),
    "closed": (),
}
"""Allowed signal status changes (pharmacovigilance.md §8: new -> validation -> validated or
refuted -> assessment -> closed). A refuted (not validated) signal ends there; new evidence is a
new potential signal."""
SIGNAL_SIGNED_STATUSES = ("refuted", "closed")
"""Decisions that end a signal need an electronic signature (re-entered password, printed name,
date-time and meaning; 21 CFR 11.50 and 11.200, pharmacovigilance.md §8)."""
METHOD_FAMILIES = (
    "disproportionality",
    "rate_vs_reference",
    "sequential",
    "bayesian",
    "rule_based_clinical",
)
"""Families of signal-detection methods; every alert and signal says which one produced it
(pharmacovigilance.md §2.1 "fitness for purpose" and §8)."""
LOAD_STATUSES = ("running", "committed", "partial", "rejected", "failed", "unchanged")
"""``committed``: every row loaded; ``partial``: good rows loaded under ``--accept-partial``;
``rejected``: nothing loaded because a row was rejected; ``failed``: the load stopped on an error;
``unchanged``: nothing written, every row read is already stored with the same values (compared
with the store as it is now, whatever files loaded it)."""
PIPELINE_RUN_STATUSES = ("running", "committed", "failed")
SYNDROMES = ("crs", "icans", "iec_hs", "icaht", "relapse", "other")
"""The syndromes grades, episodes, alerts and signals are filed under."""
