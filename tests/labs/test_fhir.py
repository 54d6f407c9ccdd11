"""FHIR R4 JSON -> RawLabRow: Bundle, DiagnosticReport with contained Observations, components, bad inputs."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.helpers import assert_refused
from workbench.config import get_settings
from workbench.errors import CorruptFileError, FileTooLargeError, InputError, UnsupportedFormatError
from workbench.labs.fhir import read_fhir

IST = timezone(timedelta(hours=5, minutes=30))
UCUM = "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def loinc(code: str, display: str, text: str | None = None) -> dict:
    concept: dict = {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]}
    if text:
        concept["text"] = text
    return concept


def qty(value: str, unit: str, comparator: str | None = None) -> str:
    """valueQuantity as raw JSON text, so the printed decimals ("48.0", "0.010") are what the file holds."""
    cmp = f'"comparator": "{comparator}", ' if comparator else ""
    return f'{{{cmp}"value": {value}, "unit": "{unit}", "system": "{UCUM}", "code": "{unit}"}}'


def interp(code: str) -> list:
    return [{"coding": [{"system": V3, "code": code}]}]


def obs(oid: str, code: dict, **fields) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": code, **fields}


MARK = "__Q{}__"


def bundle_text() -> tuple[str, int]:
    """A searchset Bundle: Patient, a DiagnosticReport with contained Observations (comparator, panel with
    components, qualitative, dataAbsentReason, invalid), referenced Observations, a cancelled one."""
    quantities = [qty("48.0", "ng/L"), qty("0.010", "ng/mL", "<"), qty("162", "mg/dL"), qty("38", "mg/dL"),
                  qty("13.20", "g/dL"), qty("141", "mmol/L")]
    contained = [
        obs("trop", loinc("67151-1", "Troponin T.cardiac [Mass/volume] in Serum or Plasma by High sensitivity method",
                          "hs-Troponin T"),
            valueQuantity=MARK.format(0), referenceRange=[{"high": {"value": 14, "unit": "ng/L"}}],
            interpretation=interp("H")),
        obs("ctni", loinc("10839-9", "Troponin I.cardiac [Mass/volume] in Serum or Plasma"),
            valueQuantity=MARK.format(1), referenceRange=[{"high": {"value": 0.04, "unit": "ng/mL"}}]),
        obs("lipid", loinc("57698-3", "Lipid panel with direct LDL", "Lipid panel"), component=[
            {"code": loinc("18262-6", "LDL Cholesterol"), "valueQuantity": MARK.format(2),
             "referenceRange": [{"high": {"value": 100, "unit": "mg/dL"}}], "interpretation": interp("H")},
            {"code": loinc("2085-9", "HDL Cholesterol"), "valueQuantity": MARK.format(3),
             "referenceRange": [{"low": {"value": 40, "unit": "mg/dL"}}], "interpretation": interp("L")},
            {"code": loinc("2571-8", "Triglyceride"),
             "dataAbsentReason": {"coding": [{"code": "error", "display": "Error"}], "text": "Sample lipaemic"}},
        ]),
        obs("hbsag", loinc("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum"),
            valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "260385009",
                                              "display": "Negative"}], "text": "Non-reactive"}),
        obs("k", loinc("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "Potassium"),
            dataAbsentReason={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                          "code": "not-performed", "display": "Not Performed"}]}),
        obs("bad", loinc("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "Creatinine"),
            valueQuantity={"value": "abc", "unit": "mg/dL"}),
    ]
    report = {
        "resourceType": "DiagnosticReport", "id": "rep1", "status": "final",
        "code": {"text": "Cardiac and lipid profile"}, "subject": {"reference": "urn:uuid:pat-1"},
        "effectiveDateTime": "2024-03-05T10:30:00+05:30", "issued": "2024-03-05T14:00:00+05:30",
        "contained": contained,
        "result": [{"reference": f"#{c['id']}"} for c in contained]
        + [{"reference": "urn:uuid:obs-hb"}, {"reference": "Observation/missing", "display": "Ferritin"}],
    }
    hb = obs("hb", loinc("718-7", "Hemoglobin [Mass/volume] in Blood", "Haemoglobin"),
             valueQuantity=MARK.format(4), issued="2024-03-05T11:00:00+05:30",
             subject={"identifier": {"system": "urn:mrn", "value": "MRN-77"}},
             referenceRange=[
                 {"low": {"value": 13, "unit": "g/dL"}, "high": {"value": 17, "unit": "g/dL"},
                  "appliesTo": [{"coding": [{"system": "http://snomed.info/sct", "code": "248153007"}]}]},
                 {"low": {"value": 12, "unit": "g/dL"}, "high": {"value": 15, "unit": "g/dL"},
                  "appliesTo": [{"coding": [{"system": "http://snomed.info/sct", "code": "248152002"}]}]}])
    cancelled = obs("tsh", loinc("3016-3", "Thyrotropin", "TSH"), status="cancelled")
    sodium = obs("na1", loinc("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "Sodium"),
                 valueQuantity=MARK.format(5), subject={"reference": "Patient/p2"},
                 effectivePeriod={"start": "2024-03-04T08:00:00Z"})
    patient = {"resourceType": "Patient", "id": "pat-1",
               "identifier": [{"system": "urn:mrn", "value": "MRN-77"}]}
    document = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "urn:uuid:pat-1", "resource": patient},
        {"fullUrl": "urn:uuid:rep1", "resource": report},
        {"fullUrl": "urn:uuid:obs-hb", "resource": hb},
        {"fullUrl": "http://lab.example/fhir/Observation/tsh", "resource": cancelled},
        {"fullUrl": "http://lab.example/fhir/Observation/na1", "resource": sodium},
    ]}
    text = json.dumps(document, indent=1)
    for i, q in enumerate(quantities):
        text = text.replace(f'"{MARK.format(i)}"', q)
    results = 2 + 3 + 1 + 1 + 1 + 1 + 1 + 1 + 1  # trop, ctni, 3 components, hbsag, k, bad, hb, missing, tsh, na
    return text, results


@pytest.fixture
def bundle_file(tmp_path):
    text, count = bundle_text()
    path = tmp_path / "results.json"
    path.write_text(text, encoding="utf-8")
    return path, count


def test_bundle_every_result_accounted_for(bundle_file):
    path, count = bundle_file
    result = read_fhir(path)
    assert result.total == count and len(result.rows) == 7 and len(result.unparsed) == 5
    rows = {r.name: r for r in result.rows}
    assert list(rows) == ["hs-Troponin T", "Troponin I.cardiac [Mass/volume] in Serum or Plasma", "LDL Cholesterol",
                          "HDL Cholesterol", "Hepatitis B virus surface Ag [Presence] in Serum", "Haemoglobin",
                          "Sodium"]
    trop = rows["hs-Troponin T"]
    assert (trop.value_text, trop.unit_text, trop.ref_text, trop.flag_text, trop.loinc) == (
        "48.0", "ng/L", "<= 14", "H", "67151-1")
    assert trop.patient == "MRN-77" and trop.section == "Cardiac and lipid profile"
    assert trop.collected_at == datetime(2024, 3, 5, 10, 30, tzinfo=IST)
    assert (trop.source.file, trop.source.reader, trop.source.row) == ("results.json", "fhir", 1)
    ctni = rows["Troponin I.cardiac [Mass/volume] in Serum or Plasma"]
    assert (ctni.value_text, ctni.unit_text, ctni.ref_text, ctni.loinc) == ("<0.010", "ng/mL", "<= 0.04", "10839-9")
    ldl, hdl = rows["LDL Cholesterol"], rows["HDL Cholesterol"]
    assert (ldl.value_text, ldl.ref_text, ldl.flag_text, ldl.loinc, ldl.section) == (
        "162", "<= 100", "H", "18262-6", "Lipid panel")
    assert (hdl.value_text, hdl.ref_text, hdl.flag_text, hdl.loinc) == ("38", ">= 40", "L", "2085-9")
    assert hdl.collected_at == trop.collected_at and hdl.patient == "MRN-77"
    hbsag = rows["Hepatitis B virus surface Ag [Presence] in Serum"]
    assert (hbsag.value_text, hbsag.unit_text, hbsag.loinc) == ("Non-reactive", "", "5196-1")
    hb = rows["Haemoglobin"]
    assert (hb.value_text, hb.ref_text, hb.patient, hb.section, hb.source.row) == (
        "13.20", "Male 13-17; Female 12-15", "MRN-77", "Cardiac and lipid profile", 2)
    assert hb.collected_at == datetime(2024, 3, 5, 11, 0, tzinfo=IST)  # issued: no effective time given
    na = rows["Sodium"]
    assert (na.patient, na.section, na.source.row) == ("p2", "", 4)
    assert na.collected_at == datetime(2024, 3, 4, 8, 0, tzinfo=timezone.utc)

    reasons = {u.reason.split(":")[0].split(" ")[0]: u for u in result.unparsed}
    assert "Triglyceride: no result (Sample lipaemic)." in [u.reason for u in result.unparsed]
    assert "Potassium: no result (Not Performed)." in [u.reason for u in result.unparsed]
    bad = reasons["Creatinine"]
    assert "not valid FHIR" in bad.reason and "'valueQuantity.value' has an invalid value 'abc'" in bad.reason
    assert bad.text == "Creatinine abc mg/dL"
    assert "does not contain it" in reasons["The"].reason and reasons["The"].text == "Ferritin"
    assert "was cancelled" in reasons["TSH"].reason and reasons["TSH"].source.row == 3


def test_lone_diagnostic_report_from_dict():
    text, _ = bundle_text()
    report = json.loads(text, parse_float=Decimal)["entry"][1]["resource"]  # Decimals keep "0.010" exact
    report["result"] = report["result"][:6]  # only the contained ones
    result = read_fhir(report, name="upload-1")
    assert result.total == 2 + 3 + 1 + 1 + 1
    assert [r.source.row for r in result.rows] == [0, 1, 2, 2, 3]  # index within `contained`
    assert {r.source.file for r in result.rows} == {"upload-1"}
    assert result.rows[0].value_text == "48.0" and result.rows[1].value_text == "<0.010"
    assert result.rows[0].patient == "pat-1"  # urn:uuid reference not in this document: its id
    as_floats = read_fhir(json.loads(text)["entry"][1]["resource"])  # plain floats: the shortest spelling
    assert [r.value_text for r in as_floats.rows[:2]] == ["48.0", "<0.01"]


def test_single_observation_dict_with_floats_and_partial_date():
    resource = obs("k", loinc("2823-3", "Potassium"), valueQuantity={"value": 4.1, "unit": "mmol/L"},
                   effectiveDateTime="2024-03", interpretation=[{"text": "Normal"}],
                   referenceRange=[{"text": "3.5 - 5.1 mmol/L"}], subject={"reference": "Patient/42"})
    (row,) = read_fhir(resource).rows
    assert (row.name, row.value_text, row.unit_text, row.ref_text, row.flag_text) == (
        "Potassium", "4.1", "mmol/L", "3.5 - 5.1 mmol/L", "Normal")
    assert row.collected_at == datetime(2024, 3, 1) and row.patient == "42" and row.source.file == "FHIR resource"


def test_transaction_bundle_has_member_panel_and_ndjson(tmp_path):
    members = [obs(f"m{i}", loinc(code, name), valueQuantity={"value": v, "unit": "10*3/uL", "code": "10*3/uL"})
               for i, (code, name, v) in enumerate([("6690-2", "WBC", 7.2), ("777-3", "Platelets", 250)])]
    panel = obs("cbc", loinc("58410-2", "CBC panel", "Complete blood count"),
                hasMember=[{"reference": "Observation/m0"}, {"reference": "Observation/m1"}])
    document = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": panel, "request": {"method": "POST", "url": "Observation"}},
        *({"resource": m, "request": {"method": "POST", "url": "Observation"}} for m in members),
        {"request": {"method": "DELETE", "url": "Observation/old"}},
    ]}
    result = read_fhir(document)
    assert [(r.name, r.value_text, r.unit_text, r.section) for r in result.rows] == [
        ("WBC", "7.2", "10*3/uL", "Complete blood count"), ("Platelets", "250", "10*3/uL", "Complete blood count")]
    assert not result.unparsed
    ndjson = tmp_path / "export.ndjson"
    ndjson.write_text("\n".join(json.dumps(m) for m in members) + "\n")
    assert [r.name for r in read_fhir(ndjson).rows] == ["WBC", "Platelets"]


def test_invalid_observation_does_not_lose_the_others():
    good = obs("a", loinc("2951-2", "Sodium"), valueQuantity={"value": 140, "unit": "mmol/L"})
    no_status = {k: v for k, v in obs("b", loinc("2823-3", "Potassium"), valueString="4.2").items() if k != "status"}
    two_values = obs("c", loinc("2160-0", "Creatinine"), valueString="1.0", valueInteger=1)
    unknown = obs("d", loinc("1742-6", "ALT"), valueString="30", colour="blue")
    document = {"resourceType": "Bundle", "type": "collection",
                "entry": [{"resource": r} for r in (good, no_status, two_values, unknown)]}
    result = read_fhir(document)
    assert [r.name for r in result.rows] == ["Sodium"] and len(result.unparsed) == 3
    reasons = [u.reason for u in result.unparsed]
    assert "the required field 'status' is missing" in reasons[0]
    assert "more than one value" in reasons[1]
    assert "'colour' is not a field FHIR allows here" in reasons[2]
    assert all("Traceback" not in r and "pydantic" not in r for r in reasons)


def test_invalid_report_shell_is_a_note_not_a_loss():
    text, _ = bundle_text()
    report = json.loads(text)["entry"][1]["resource"]
    del report["status"]
    result = read_fhir(report)
    assert len(result.rows) == 5 and any("not fully valid FHIR" in n and "status" in n for n in result.notes)


# ====================================================================== bad inputs
@pytest.mark.parametrize(("content", "exc", "words"), [
    ('{"results": [{"test": "K", "value": 4.1}]}', UnsupportedFormatError, ("not FHIR", "resourceType")),
    ('[{"test": "K"}]', UnsupportedFormatError, ("not FHIR",)),
    ('{"resourceType": "Patient", "id": "p"}', UnsupportedFormatError, ("Patient", "not lab results")),
    ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]}',
     InputError, ("no lab results",)),
    ('{"resourceType": "Bundle", "entry": [', CorruptFileError, ("not valid JSON", "line 1")),
    ('<Bundle xmlns="http://hl7.org/fhir"/>', UnsupportedFormatError, ("XML",)),
    ("   \n", CorruptFileError, ("blank",)),
    ("", CorruptFileError, ("empty",)),
])
def test_bad_fhir_inputs(tmp_path, content, exc, words):
    path = tmp_path / "input.json"
    path.write_text(content)
    assert_refused(read_fhir, exc, path, *words)


def test_binary_missing_and_huge_fhir_files(tmp_path, monkeypatch):
    binary = tmp_path / "scan.json"
    binary.write_bytes(bytes(range(256)) * 8)
    assert_refused(read_fhir, CorruptFileError, binary, "binary", "FHIR JSON")
    assert_refused(read_fhir, InputError, tmp_path / "absent.json", "does not exist")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": obs(str(i), loinc("2951-2", "Sodium"), valueQuantity={"value": 140, "unit": "mmol/L"})}
        for i in range(6000)]}))
    monkeypatch.setenv("WORKBENCH_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    assert_refused(read_fhir, FileTooLargeError, big, "1 MB")
