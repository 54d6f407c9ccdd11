"""The analyte catalogue: completeness of the data, name lookup, unit conversion, ranges and troponin tables.

Expected numbers are transcribed from shared/clinical/criteria.md (unit conversions, troponin URLs, ESC 0h/1h table);
where that file is present the ESC table is also read from it directly, so a change there that is not carried into
the catalogue fails here.
"""
from __future__ import annotations

import copy
import math
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from workbench.errors import ConfigError, InputError
from workbench.labs.catalogue import Catalogue, UnitError, get_catalogue, loinc_check_digit_ok

CRITERIA_MD = Path(__file__).resolve().parents[2].parent / "shared" / "clinical" / "criteria.md"


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return get_catalogue()


@pytest.fixture(scope="module")
def raw() -> dict:
    with resources.files("workbench.labs").joinpath("tables/analytes.toml").open("rb") as handle:
        return tomllib.load(handle)


# --------------------------------------------------------------------------------------------- data completeness
def test_catalogue_is_loaded_once_and_large(cat: Catalogue) -> None:
    assert get_catalogue() is cat
    assert len(cat) >= 70
    assert cat.synonym_count >= 500
    assert {a.category for a in cat} == set(cat.categories)


def test_every_analyte_has_code_unit_and_source(cat: Catalogue) -> None:
    for a in cat:
        assert a.loinc and all(loinc_check_digit_ok(code) for code in a.loinc), a.key
        assert a.source.strip(), a.key
        assert a.synonyms, a.key
        if a.qualitative:
            assert a.normal, a.key
        else:
            assert a.unit and a.units[a.unit].scale == 1.0 and a.units[a.unit].offset == 0.0, a.key
            assert a.plausible is not None, a.key
            for r in a.refs:
                assert r.source.strip() and r.unit == a.unit, a.key
            if a.critical is not None:
                assert a.critical.source.strip(), a.key


def test_required_coverage(cat: Catalogue) -> None:
    required = """hs_ctnt hs_ctni hs_ctni_architect hs_ctni_access hs_ctni_atellica hs_ctni_centaur ctni ctnt ck ck_mb
    myoglobin bnp nt_probnp sodium potassium chloride bicarbonate calcium calcium_ionised magnesium phosphate creatinine
    urea bun egfr uric_acid glucose glucose_fasting glucose_random hba1c total_cholesterol ldl_c hdl_c triglycerides
    non_hdl_c vldl_c lpa apob haemoglobin haematocrit rbc wbc platelets mcv mch mchc rdw neutrophils_pct
    lymphocytes_pct monocytes_pct eosinophils_pct basophils_pct neutrophils_abs lymphocytes_abs monocytes_abs
    eosinophils_abs basophils_abs esr crp hs_crp d_dimer tsh ft4 ft3 alt ast alp ggt bilirubin_total bilirubin_direct
    albumin total_protein inr pt aptt lactate ldh ferritin procalcitonin""".split()
    assert [k for k in required if cat.get(k) is None] == []


@pytest.mark.parametrize(("key", "code"), [
    ("hs_ctnt", "67151-1"), ("hs_ctni", "89579-7"), ("nt_probnp", "33762-6"), ("bnp", "30934-4"), ("potassium", "2823-3"),
    ("sodium", "2951-2"), ("creatinine", "2160-0"), ("glucose", "2345-7"), ("hba1c", "4548-4"), ("ldl_c", "13457-7"),
    ("hdl_c", "2085-9"), ("total_cholesterol", "2093-3"), ("triglycerides", "2571-8"), ("haemoglobin", "718-7"),
    ("wbc", "6690-2"), ("platelets", "777-3"), ("crp", "1988-5"), ("hs_crp", "30522-7"), ("d_dimer", "48065-7"),
    ("tsh", "3016-3"), ("ft4", "3024-7"), ("inr", "6301-6"), ("magnesium", "19123-9"), ("calcium", "17861-6"),
    ("alt", "1742-6"), ("ast", "1920-8"),
])
def test_primary_loinc_codes(cat: Catalogue, key: str, code: str) -> None:
    assert cat.get(key).primary_loinc == code  # type: ignore[union-attr]


def test_by_loinc(cat: Catalogue) -> None:
    assert cat.by_loinc("67151-1").key == "hs_ctnt"  # type: ignore[union-attr]
    assert cat.by_loinc("89579-7").key == "hs_ctni"  # type: ignore[union-attr]  # assay variants share the code
    assert cat.by_loinc("42637-9").key == "bnp"  # type: ignore[union-attr]
    assert cat.by_loinc("59261-8").key == "hba1c"  # type: ignore[union-attr]
    assert cat.by_loinc("2345-7").key == "glucose"  # type: ignore[union-attr]
    assert cat.by_loinc("2089-1").key == "ldl_c"  # type: ignore[union-attr]
    assert cat.by_loinc("0000-0") is None and cat.by_loinc("") is None


def test_loinc_check_digit() -> None:
    assert loinc_check_digit_ok("2160-0") and loinc_check_digit_ok("718-7") and loinc_check_digit_ok("67151-1")
    assert not loinc_check_digit_ok("2160-1") and not loinc_check_digit_ok("2639-6") and not loinc_check_digit_ok("abc")


# --------------------------------------------------------------------------------------------- name lookup
PRINTED_NAMES = [
    # Indian reports
    ("S. Creatinine", "creatinine"), ("SERUM CREATININE (JAFFE KINETIC)", "creatinine"), ("Creatinine, Serum", "creatinine"),
    ("Haemoglobin (Hb)", "haemoglobin"), ("HAEMOGLOBIN", "haemoglobin"), ("Hb", "haemoglobin"), ("HGB", "haemoglobin"),
    ("Total Leucocyte Count (TLC)", "wbc"), ("TLC", "wbc"), ("Platelet Count", "platelets"), ("PLT", "platelets"),
    ("Packed Cell Volume (PCV)", "haematocrit"), ("SGPT", "alt"), ("S.G.O.T.", "ast"), ("SGOT (AST)", "ast"),
    ("Alanine Aminotransferase (ALT/SGPT)", "alt"), ("Blood Urea", "urea"), ("S. Uric Acid", "uric_acid"),
    ("Glucose Fasting (FBS)", "glucose_fasting"), ("Blood Sugar (F)", "glucose_fasting"), ("Fasting Blood Sugar", "glucose_fasting"),
    ("Random Blood Sugar (RBS)", "glucose_random"), ("Post Prandial Blood Sugar (PPBS)", "glucose_pp"), ("PLBS", "glucose_pp"),
    ("Glycosylated Haemoglobin (HbA1c)", "hba1c"), ("Estimated Average Glucose (eAG)", "eag"),
    ("Cholesterol Total (CHOD-PAP)", "total_cholesterol"), ("Triglycerides (GPO-PAP)", "triglycerides"),
    ("VLDL Cholesterol (Calculated)", "vldl_c"), ("CHOL/HDL Ratio", "tc_hdl_ratio"), ("LDL/HDL Ratio", "ldl_hdl_ratio"),
    ("Absolute Eosinophil Count (AEC)", "eosinophils_abs"), ("Polymorphs", "neutrophils_pct"), ("ESR (Westergren)", "esr"),
    ("Sodium (Na+)", "sodium"), ("S. Potassium", "potassium"), ("Chloride (Cl-)", "chloride"), ("Calcium, Total", "calcium"),
    ("Phosphorus Inorganic", "phosphate"), ("Gamma GT (GGT)", "ggt"), ("Alk. Phosphatase", "alp"), ("T. Bilirubin", "bilirubin_total"),
    ("Bilirubin (Direct)", "bilirubin_direct"), ("Bilirubin Indirect", "bilirubin_indirect"), ("A/G Ratio", "ag_ratio"),
    ("Trop T hs", "hs_ctnt"), ("Troponin T (hs)", "hs_ctnt"), ("High sensitive Troponin T", "hs_ctnt"), ("Trop-I", "ctni"),
    ("CPK-MB", "ck_mb"), ("CPK", "ck"), ("NT-proBNP", "nt_probnp"), ("TSH (Ultrasensitive)", "tsh"), ("Free T4 (FT4)", "ft4"),
    ("HBsAg", "hbsag"), ("Anti HCV", "anti_hcv"), ("D-Dimer (Quantitative)", "d_dimer"), ("CRP (Quantitative)", "crp"),
    # UK reports
    ("Serum sodium", "sodium"), ("Adjusted calcium", "calcium_adjusted"), ("eGFR (CKD-EPI)", "egfr"), ("White cell count", "wbc"),
    ("Haematocrit", "haematocrit"), ("Red cell count", "rbc"), ("Alk Phos", "alp"), ("Ferritin", "ferritin"), ("HbA1c (IFCC)", "hba1c"),
    ("Kaolin cephalin clotting time", "aptt"), ("Urine ACR", "urine_acr"), ("Lactate", "lactate"), ("Free thyroxine", "ft4"),
    # US reports
    ("Hemoglobin", "haemoglobin"), ("WBC", "wbc"), ("BUN", "bun"), ("Blood Urea Nitrogen (BUN)", "bun"), ("Glucose", "glucose"),
    ("Cholesterol, Total", "total_cholesterol"), ("LDL Cholesterol (Direct)", "ldl_c"), ("HDL Cholesterol", "hdl_c"),
    ("Non-HDL Cholesterol", "non_hdl_c"), ("Lipoprotein (a)", "lpa"), ("Apo B", "apob"), ("hs-CRP", "hs_crp"), ("hs-TnT", "hs_ctnt"),
    ("Prothrombin Time (PT)", "pt"), ("PT (Patient)", "pt"), ("INR", "inr"), ("PT/INR", "inr"), ("aPTT", "aptt"),
    ("Procalcitonin (PCT)", "procalcitonin"), ("LDH", "ldh"), ("Total Protein", "total_protein"), ("Albumin", "albumin"),
    ("Magnesium (Mg)", "magnesium"), ("Ionized Calcium", "calcium_ionised"), ("CO2", "bicarbonate"), ("MCV", "mcv"),
    ("MCHC", "mchc"), ("RDW-CV", "rdw"), ("Myoglobin", "myoglobin"), ("BNP", "bnp"), ("Vitamin B-12", "vitamin_b12"),
    ("25(OH)D", "vitamin_d"),
    # typing slips and spellings the synonym list does not hold
    ("Haemoglobn", "haemoglobin"), ("Creatinin", "creatinine"), ("Total Cholestrol", "total_cholesterol"),
    ("Tryglycerides", "triglycerides"), ("Platelet Counts", "platelets"),
]


@pytest.mark.parametrize(("printed", "key"), PRINTED_NAMES)
def test_printed_names_resolve(cat: Catalogue, printed: str, key: str) -> None:
    hit = cat.lookup(printed)
    assert hit is not None and hit.key == key, f"{printed!r} -> {hit}"


def test_every_synonym_resolves_to_its_own_analyte(cat: Catalogue) -> None:
    wrong = [(a.key, s, getattr(cat.lookup(s), "key", None)) for a in cat for s in a.synonyms if cat.lookup(s) is not a]
    assert wrong == []


def test_no_synonym_is_shared_between_analytes(cat: Catalogue) -> None:
    owner: dict[str, str] = {}
    clashes = []
    for a in cat:
        for s in a.synonyms:
            norm = cat.normalise_name(s)
            if re.search(r"[/:]", s):
                continue  # ratio names ("Cholesterol/HDL") live in their own index
            if owner.setdefault(norm, a.key) != a.key:
                clashes.append((s, a.key, owner[norm]))
    assert clashes == []


@pytest.mark.parametrize(("printed", "unit", "key"), [
    ("Troponin I", "ng/L", "hs_ctni"),  # printed in ng/L: a high-sensitivity assay (which one is not said)
    ("Troponin I", "ng/mL", "ctni"),
    ("Troponin T", "pg/mL", "hs_ctnt"),
    ("Troponin T", "ng/ml", "ctnt"),
    ("Neutrophils", "%", "neutrophils_pct"),
    ("Neutrophils", "10^3/uL", "neutrophils_abs"),
    ("Lymphocytes", "cells/cumm", "lymphocytes_abs"),
    ("TC", "mg/dL", "total_cholesterol"),
    ("TC", "cells/cumm", "wbc"),
    ("Lp(a)", "nmol/L", "lpa_molar"),
    ("CK-MB", "ng/mL", "ck_mb_mass"),
    ("CK-MB", "U/L", "ck_mb"),
    ("RDW", "fL", "rdw_sd"),
    ("HbA1c", "mmol/mol", "hba1c"),
    ("Platelet Count", "lakhs/cumm", "platelets"),
    ("Haemoglobin", "gm%", "haemoglobin"),
    ("Glucose", "%", None),  # nonsense unit for glucose: refuse rather than guess
    ("Creatinine", "g/dL", None),
])
def test_unit_settles_the_analyte(cat: Catalogue, printed: str, unit: str, key: str | None) -> None:
    hit = cat.lookup(printed, unit=unit)
    assert (hit.key if hit else None) == key


@pytest.mark.parametrize(("printed", "section", "key"), [
    ("Direct", "BILIRUBIN", "bilirubin_direct"),
    ("Total", "Bilirubin", "bilirubin_total"),
    ("Fasting", "Blood Sugar", "glucose_fasting"),
    ("Glucose", "URINE ROUTINE EXAMINATION", "urine_glucose"),
    ("Protein", "Urine R/M", "urine_protein"),
    ("Albumin", "Urine Routine", "urine_protein"),
    ("Pus cells", "Urine Routine", None),
    ("Creatinine", "Urine", None),  # urine creatinine is not serum creatinine
    ("Glucose", "Biochemistry", "glucose"),
    ("TC", "Lipid Profile", "total_cholesterol"),
    ("TC", "Haemogram", "wbc"),
    ("TC", "", None),
    ("hs-TnI", "Cardiac Markers (Abbott Architect)", "hs_ctni_architect"),
])
def test_section_header_context(cat: Catalogue, printed: str, section: str, key: str | None) -> None:
    hit = cat.lookup(printed, section=section)
    assert (hit.key if hit else None) == key


@pytest.mark.parametrize(("printed", "key"), [
    ("Troponin I hs (Abbott Architect)", "hs_ctni_architect"),
    ("hs-TnI (Beckman Access)", "hs_ctni_access"),
    ("hs-cTnI Siemens Atellica", "hs_ctni_atellica"),
    ("High Sensitive Troponin I (ADVIA Centaur)", "hs_ctni_centaur"),
    ("Troponin T hs (Roche Elecsys)", "hs_ctnt"),
    ("hs-TnI (Vitros)", "hs_ctni"),  # an analyser without a configured URL: generic hs-cTnI, no borrowed URL
    ("Troponin I (Architect)", "ctni"),  # not said to be high-sensitivity: not upgraded
])
def test_troponin_assay_from_the_name(cat: Catalogue, printed: str, key: str) -> None:
    hit = cat.lookup(printed)
    assert hit is not None and hit.key == key


@pytest.mark.parametrize("printed", [
    "Cardiac markers", "Lipid profile", "Test Name", "Page 1 of 2", "Dr. Sharma", "Dr. A. K. Gupta, MD (Path)",
    "Troponin", "TROPONIN", "Trop", "hs Troponin", "High Sensitivity Troponin", "Troponin (Quantitative)", "Troponin C",
    "Biological Reference Interval", "Result", "Units", "Reference Range", "Method", "12.5", "", "   ", "PT Control",
    "Patient Name", "LIVER FUNCTION TEST", "Complete Blood Count (CBC)", "Creatinine Clearance", "Urine Creatinine",
    "HDL/LDL Ratio", "Urea/Creatinine", "Sodium Fluoride", "Vitamin D2", "Haemoglobin A2", "Insulin", "Total", "Direct",
])
def test_lookup_refuses_non_analytes_and_ambiguous_names(cat: Catalogue, printed: str) -> None:
    assert cat.lookup(printed) is None


def test_troponin_alone_is_never_high_sensitivity(cat: Catalogue) -> None:
    for unit in ("", "ng/L", "ng/mL", "pg/mL"):
        assert cat.lookup("Troponin", unit=unit) is None
        assert cat.lookup("Cardiac Troponin", unit=unit) is None


def test_normalise_name(cat: Catalogue) -> None:
    assert cat.normalise_name("S. Creatinine (Photometry)") == "creatinine"
    assert cat.normalise_name("Serum  Haemoglobin") == cat.normalise_name("hemoglobin")
    assert cat.normalise_name("E.S.R.") == "esr"
    assert cat.normalise_name("Neutrophils %") == "neutrophils pct"


# --------------------------------------------------------------------------------------------- units
@pytest.mark.parametrize(("key", "value", "unit", "expected"), [
    ("ctnt", 0.05, "ng/mL", 50.0),  # troponin ng/mL x 1000 = ng/L
    ("hs_ctnt", 0.014, "ug/L", 14.0),
    ("hs_ctni", 26.2, "pg/mL", 26.2),
    ("glucose", 126.0, "mg/dL", 126.0 / 18.016),  # glucose / 18.016
    ("glucose_fasting", 100.0, "mg/dl", 100.0 / 18.016),
    ("creatinine", 1.0, "mg/dL", 88.42),  # creatinine x 88.42
    ("urea", 30.0, "mg/dL", 30.0 * 0.1665),
    ("bun", 14.0, "mg/dL", 14.0 * 0.357),
    ("total_cholesterol", 200.0, "mg/dL", 200.0 / 38.67),  # cholesterol / 38.67
    ("ldl_c", 116.0, "mg/dL", 116.0 / 38.67),
    ("hdl_c", 40.0, "mg %", 40.0 / 38.67),
    ("triglycerides", 150.0, "mg/dL", 150.0 / 88.57),  # triglycerides / 88.57
    ("calcium", 10.0, "mg/dL", 2.495),  # calcium x 0.2495
    ("magnesium", 2.0, "mg/dL", 0.8228),  # magnesium x 0.4114
    ("haemoglobin", 13.5, "g/dL", 135.0),  # haemoglobin g/dL x 10
    ("haemoglobin", 13.5, "gm%", 135.0),
    ("nt_probnp", 125.0, "pg/mL", 125.0),  # NT-proBNP pg/mL = ng/L
    ("hba1c", 48.0, "mmol/mol", 6.543),  # IFCC -> NGSP master equation
    ("calcium", 5.0, "mEq/L", 2.5),  # divalent: mEq/L = 0.5 mmol/L
    ("magnesium", 2.0, "meq/l", 1.0),
    ("sodium", 140.0, "mEq/L", 140.0),  # monovalent: mEq/L = mmol/L
    ("creatinine", 88.0, "µmol/L", 88.0),
    ("creatinine", 88.0, "umol/l", 88.0),
    ("creatinine", 88.0, "μmol/L", 88.0),
    ("wbc", 7500.0, "/cumm", 7.5),
    ("wbc", 7.5, "x10^9/L", 7.5),
    ("wbc", 7.5, "thou/cumm", 7.5),
    ("rbc", 4.5, "mill/cumm", 4.5),
    ("rbc", 4.5, "10^6/uL", 4.5),
    ("platelets", 2.5, "lakhs/cumm", 250.0),  # Indian platelet unit: 1 lakh/cumm = 100 x10^9/L
    ("platelets", 1.5, "Lakh/cumm", 150.0),
    ("platelets", 250000.0, "cells/cumm", 250.0),
    ("platelets", 250.0, "10³/µL", 250.0),
    ("haematocrit", 0.42, "L/L", 42.0),
    ("tsh", 2.1, "uIU/mL", 2.1),
    ("ft4", 1.2, "ng/dL", 1.2 * 12.87),
    ("d_dimer", 500.0, "ng/mL FEU", 0.5),
    ("d_dimer", 0.5, "ug/mL FEU", 0.5),
    ("alt", 0.5, "µkat/L", 30.0),
    ("inr", 1.1, "", 1.1),
])
def test_conversions_match_criteria(cat: Catalogue, key: str, value: float, unit: str, expected: float) -> None:
    got, canonical = cat.convert(value, unit, key)
    assert canonical == cat.get(key).unit  # type: ignore[union-attr]
    assert math.isclose(got, expected, rel_tol=1e-3), (got, expected)


def test_hba1c_both_directions(cat: Catalogue) -> None:
    assert cat.convert(6.5, "%", "hba1c") == (6.5, "%")
    assert round(cat.convert(48, "mmol/mol", "hba1c")[0], 1) == 6.5  # criteria.md: 6.5% = 48 mmol/mol
    assert abs(cat.from_canonical(6.5, "hba1c", "mmol/mol") - 48) < 1.0
    assert math.isclose(cat.from_canonical(cat.convert(53, "mmol/mol", "hba1c")[0], "hba1c", "mmol/mol"), 53)
    assert math.isclose(cat.from_canonical(7.0, "glucose", "mg/dL"), 7.0 * 18.016, rel_tol=1e-3)


@pytest.mark.parametrize(("text", "canonical"), [
    ("mg/dl", "mg/dL"), ("mg/dL", "mg/dL"), ("mg %", "mg/dL"), ("MG/DL", "mg/dL"), ("µmol/L", "umol/L"), ("umol/l", "umol/L"),
    ("μmol/L", "umol/L"), ("mmol/l", "mmol/L"), ("mEq/L", "mEq/L"), ("ng/ml", "ug/L"), ("pg/mL", "ng/L"), ("10^3/uL", "10^9/L"),
    ("x10^9/L", "10^9/L"), ("thou/mm3", "10^9/L"), ("10³/µL", "10^9/L"), ("/cumm", "/uL"), ("lakhs/cumm", "lakh/uL"),
    ("10^6/uL", "10^12/L"), ("mill/cumm", "10^12/L"), ("g/dl", "g/dL"), ("gm%", "g/dL"), ("fl", "fL"), ("IU/L", "U/L"),
    ("mIU/L", "mIU/L"), ("uIU/mL", "mIU/L"), ("µIU/mL", "mIU/L"), ("sec", "s"), ("mm/1st hr", "mm/h"),
    ("ml/min/1.73m²", "mL/min/1.73m2"), ("ug/mL FEU", "mg/L FEU"), ("  mg / dl ", "mg/dL"), ("", ""), ("furlongs", "furlongs"),
])
def test_normalise_unit(cat: Catalogue, text: str, canonical: str) -> None:
    assert cat.normalise_unit(text) == canonical


@pytest.mark.parametrize(("value", "unit", "key", "words"), [
    (1.0, "furlongs", "sodium", ("unknown unit", "furlongs")),
    (1.0, "mg/dL", "hba1c", ("not a unit",)),
    (5.0, "%", "glucose", ("not a unit",)),
    (90.0, "", "glucose", ("no unit",)),
    (1.0, "mmol/L", "hbsag", ("text",)),
])
def test_bad_units_raise_a_typed_error(cat: Catalogue, value: float, unit: str, key: str, words: tuple[str, ...]) -> None:
    with pytest.raises(UnitError) as info:
        cat.convert(value, unit, key)
    assert isinstance(info.value, InputError)
    for word in words:
        assert word.lower() in str(info.value).lower()


def test_non_finite_value_is_refused(cat: Catalogue) -> None:
    with pytest.raises(InputError):
        cat.convert(float("nan"), "mmol/L", "sodium")


def test_unit_knowledge(cat: Catalogue) -> None:
    assert cat.is_known_unit("lakhs/cumm") and not cat.is_known_unit("furlongs") and not cat.is_known_unit("")


# --------------------------------------------------------------------------------------------- ranges and limits
def test_sex_specific_ranges_differ(cat: Catalogue) -> None:
    for key in ("haemoglobin", "creatinine"):
        f, m = cat.reference_range(key, "F"), cat.reference_range(key, "M")
        assert f is not None and m is not None and (f.low, f.high) != (m.low, m.high)
        assert f.high < m.high  # type: ignore[operator]
    hb_f = cat.reference_range("haemoglobin", "F", 45)
    assert (hb_f.low, hb_f.high, hb_f.unit) == (115, 165, "g/L")  # type: ignore[union-attr]
    either = cat.reference_range("haemoglobin")  # sex unknown: the union, flags only what is abnormal for both
    assert (either.low, either.high) == (115, 180) and "union" in either.source  # type: ignore[union-attr]
    assert cat.reference_range("creatinine", "female").high == 84  # type: ignore[union-attr]


def test_age_specific_ranges(cat: Catalogue) -> None:
    assert cat.reference_range("nt_probnp", age=80).high == 450  # type: ignore[union-attr]
    assert cat.reference_range("nt_probnp", age=60).high == 125  # type: ignore[union-attr]
    assert cat.reference_range("nt_probnp").high == 125  # type: ignore[union-attr]
    assert cat.reference_range("esr", "M", 30).high == 15  # type: ignore[union-attr]
    assert cat.reference_range("esr", "F", 70).high == 30  # type: ignore[union-attr]
    assert cat.reference_range("esr", "M").high == 20  # type: ignore[union-attr]
    assert cat.reference_range("creatinine", "M", 10) is None  # no adult range for a child


def test_reference_ranges_follow_criteria(cat: Catalogue) -> None:
    assert cat.reference_range("potassium").low == 3.5  # type: ignore[union-attr]
    assert cat.reference_range("hba1c").high < 5.7  # type: ignore[union-attr,operator]
    assert cat.reference_range("ldl_c").high == 3.0  # type: ignore[union-attr]
    assert cat.reference_range("bnp").high == 100  # type: ignore[union-attr]
    assert cat.reference_range("hs_ctni") is None  # assay not stated: no catalogue range


def test_critical_limits(cat: Catalogue) -> None:
    k = cat.critical_limits("potassium")
    assert k is not None and (k.low, k.high) == (2.5, 6.5) and "criteria.md" in k.source
    assert cat.critical_limits("mcv") is None
    for a in cat:
        if a.critical is None:
            continue
        for r in a.refs:
            assert a.critical.low is None or r.low is None or a.critical.low <= r.low, a.key
            assert a.critical.high is None or r.high is None or a.critical.high >= r.high, a.key


@pytest.mark.parametrize(("key", "value", "ok"), [
    ("potassium", 45.0, False), ("potassium", 4.5, True), ("potassium", 0.45, False), ("sodium", 14.0, False),
    ("sodium", 140.0, True), ("haemoglobin", 1350.0, False), ("haemoglobin", 135.0, True), ("glucose", 0.0, False),
    ("hs_ctnt", -3.0, False), ("hs_ctnt", 5000.0, True), ("creatinine", 88.0, True), ("creatinine", 88000.0, False),
    ("hba1c", 65.0, False), ("platelets", 250.0, True), ("platelets", 250000.0, False), ("sodium", float("nan"), False),
])
def test_implausible_values_are_caught(cat: Catalogue, key: str, value: float, ok: bool) -> None:
    assert cat.is_plausible(key, value) is ok


# --------------------------------------------------------------------------------------------- troponin
@pytest.mark.parametrize(("assay", "sex", "url"), [
    ("architect_hs_ctni", "F", 15.6), ("architect_hs_ctni", "M", 34.2), ("architect_hs_ctni", None, 26.2),
    ("access_hs_ctni", "F", 11.6), ("access_hs_ctni", "M", 19.8), ("access_hs_ctni", None, 17.5),
    ("atellica_hs_ctni", "F", 45.0), ("elecsys_hs_ctnt", None, 14.0), ("elecsys_hs_ctnt", "F", 14.0),
    ("hs_ctnt", "M", 14.0), ("hs_ctni_architect", "F", 15.6),
])
def test_troponin_urls(cat: Catalogue, assay: str, sex: str | None, url: float) -> None:
    t = cat.troponin_url(assay, sex)
    assert t is not None and t.value == url and t.unit == "ng/L" and t.source


def test_troponin_url_never_borrowed(cat: Catalogue) -> None:
    assert cat.troponin_url("hs_ctni") is None  # assay not stated
    assert cat.troponin_url("centaur_hs_ctni") is None  # no URL in criteria.md
    assert cat.troponin_url("ctni") is None
    assert cat.reference_range("hs_ctni_architect", "F").high == 15.6  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        cat.troponin_url("no_such_assay")


ESC_FROM_CRITERIA = {  # criteria.md, Troponin: assay | 0h very low | 0h low | delta-1h no | 0h high | delta-1h yes
    "elecsys_hs_ctnt": (5, 12, 3, 52, 5),
    "architect_hs_ctni": (4, 5, 2, 64, 6),
    "centaur_hs_ctni": (3, 6, 3, 120, 12),
    "access_hs_ctni": (4, 5, 4, 50, 15),
}


@pytest.mark.parametrize("assay", sorted(ESC_FROM_CRITERIA))
def test_esc_cutoffs_equal_criteria_table(cat: Catalogue, assay: str) -> None:
    c = cat.esc_0h_1h_cutoffs(assay)
    assert c is not None and c.unit == "ng/L"
    assert (c.very_low_0h, c.low_0h, c.delta_1h_no, c.high_0h, c.delta_1h_yes) == ESC_FROM_CRITERIA[assay]
    assert cat.esc_0h_1h_cutoffs(cat.troponin_assays[assay].analyte) == c
    assert cat.esc_0h_1h_cutoffs("atellica_hs_ctni") is None and cat.esc_0h_1h_cutoffs("hs_ctni") is None


def test_esc_cutoffs_read_from_criteria_md(cat: Catalogue) -> None:
    if not CRITERIA_MD.is_file():
        pytest.skip(f"{CRITERIA_MD} not present")
    names = {"Elecsys": "elecsys_hs_ctnt", "Architect": "architect_hs_ctni", "Centaur": "centaur_hs_ctni", "Access": "access_hs_ctni"}
    rows = {}
    for line in CRITERIA_MD.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("hs-cTn"):
            assay = next(v for k, v in names.items() if k in cells[0])
            rows[assay] = tuple(float(re.sub(r"[^\d.]", "", c)) for c in cells[1:])
    assert set(rows) == set(ESC_FROM_CRITERIA)
    for assay, expected in rows.items():
        c = cat.esc_0h_1h_cutoffs(assay)
        assert (c.very_low_0h, c.low_0h, c.delta_1h_no, c.high_0h, c.delta_1h_yes) == expected  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------- validation at load
def _mutated(raw: dict, change) -> dict:
    data = copy.deepcopy(raw)
    change(data)
    return data


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d["analyte"]["urea"]["synonyms"].append("Serum Creatinine"), ("urea", "creatinine", "collides")),
    (lambda d: d["analyte"]["creatinine"]["units"].update({"furlongs": 2.0}), ("creatinine", "furlongs")),
    (lambda d: d["analyte"]["creatinine"]["units"].pop("umol/L"), ("creatinine", "canonical unit")),
    (lambda d: d["analyte"]["creatinine"]["units"].update({"mg/dl": 88.42}), ("creatinine", "mg/dL")),
    (lambda d: d["analyte"]["creatinine"]["units"].update({"mg/L": 88.42}), ("creatinine", "disagree")),
    (lambda d: d["analyte"]["creatinine"].update({"loinc": ["2160-1"]}), ("creatinine", "2160-1")),
    (lambda d: d["analyte"]["creatinine"].update({"synonym": ["x"]}), ("creatinine", "unknown field")),
    (lambda d: d["analyte"]["sodium"].update({"critical": {"low": 140, "source": "kost"}}), ("sodium", "critical")),
    (lambda d: d["analyte"]["sodium"].update({"source": "nosuchsource"}), ("sodium", "nosuchsource")),
    (lambda d: d["analyte"]["sodium"].update({"category": "astrology"}), ("sodium", "category")),
    (lambda d: d["analyte"]["sodium"].update({"plausible": [200, 100]}), ("sodium", "plausible")),
    (lambda d: d["analyte"]["ctni"]["route"].update({"ng/L": "sodium"}), ("ctni", "route")),
    (lambda d: d["units"].update({"mg/100ml": {"dim": "mass", "scale": 0.01}}), ("mg/100ml", "claimed")),
    (lambda d: d["esc_0h_1h"][0].update({"high_0h": 1}), ("esc_0h_1h", "order")),
])
def test_data_mistakes_are_config_errors_naming_the_entry(raw: dict, change, words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        Catalogue(_mutated(raw, change))
    message = str(info.value)
    for word in words:
        assert word.lower() in message.lower(), message


def test_from_toml_reports_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "analytes.toml"
    bad.write_text("[analyte.x\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Catalogue.from_toml(bad)
    assert "analytes.toml" in str(info.value)
