"""The measurement engine on real PhysioNet records (read in place from ../shared/data/ecg)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.ecg import analyze, find_r_peaks, read_ecg
from workbench.ecg.annotations import read_annotations


def _rules(result) -> set[str]:
    return {f.rule for f in result.findings}


def test_mitdb_100_r_peaks_match_reference_annotations(ecg_data):
    record = read_ecg(ecg_data / "mitdb" / "100.hea")
    reference = read_annotations(ecg_data / "mitdb" / "100").samples
    detected = find_r_peaks(record)
    tolerance = int(0.15 * record.fs)
    nearest = np.abs(detected[:, None] - reference[None, :]).min(axis=0) if detected.size else np.full(reference.size, 10**9)
    true_pos = int((nearest <= tolerance).sum())
    false_pos = detected.size - true_pos
    f1 = 2 * true_pos / (2 * true_pos + false_pos + (reference.size - true_pos))
    assert reference.size == 2273
    assert f1 >= 0.999, (true_pos, false_pos)


def test_rbbb_with_sinus_bradycardia(ecg_data):
    result = analyze(read_ecg(ecg_data / "cinc2021" / "E07510.hea"))
    assert {"complete_rbbb", "sinus_bradycardia"} <= _rules(result)
    assert result.measurements["qrs_duration"].value >= 120
    rbbb = result.finding("complete_rbbb")
    assert rbbb.code == "59118001" and "V1" in rbbb.evidence["leads"]


def test_normal_record_has_only_sinus_rhythm(ecg_data):
    result = analyze(read_ecg(ecg_data / "cinc2021" / "E07506.hea"))
    assert _rules(result) == {"sinus_rhythm"}
    m = {k: v.value for k, v in result.measurements.items()}
    assert 60 <= m["heart_rate"] <= 75
    assert 120 <= m["pr_interval"] <= 200
    assert 60 <= m["qrs_duration"] <= 110
    assert 340 <= m["qt_interval"] <= 440
    assert -30 <= m["qrs_axis"] <= 90


def test_long_qt_record(ecg_data):
    result = analyze(read_ecg(ecg_data / "cinc2021" / "E07504.hea"))
    finding = result.finding("long_qt")
    assert finding is not None and finding.evidence["qtc_ms"] >= 450 and finding.evidence["sex"] == "M"


def test_acute_inferolateral_mi_is_located(ecg_data):
    """s0010_re: acute infero-lateral MI (PTB); an ischaemia/infarction finding must name that territory."""
    result = analyze(read_ecg(ecg_data / "ptbdb" / "s0010_re.hea"))
    ischaemic = [f for f in result.findings if f.rule in {"st_elevation", "st_depression", "pathological_q", "t_inversion"}]
    territories = {t for f in ischaemic for t in f.evidence.get("territory", [])}
    assert territories & {"inferior", "lateral"}, [f.to_dict() for f in ischaemic]
    assert "X" not in json.dumps(result.to_dict()["findings"]), "Frank leads must not enter the 12-lead criteria"


@pytest.mark.parametrize("name, af", [("data_84_1", True), ("data_101_8", True), ("data_21_7", False), ("data_21_8", False)])
def test_af_on_long_two_lead_records_with_episodes(ecg_data, name, af):
    record = read_ecg(ecg_data / "cpsc2021" / f"{name}.hea")
    result = analyze(record)
    assert result.episodes, "records longer than 15 s are analysed in windows"
    assert result.episodes[0].start_s == 0 and result.episodes[-1].end_s == pytest.approx(record.duration_s, abs=0.01)
    assert (result.finding("atrial_fibrillation") is not None) is af
    if af:
        truth = read_annotations(ecg_data / "cpsc2021" / name).episodes("AFIB")
        found = [e for e in result.episodes if e.rhythm == "atrial fibrillation"]
        overlap = sum(max(0.0, min(e.end_s, t[1]) - max(e.start_s, t[0])) for e in found for t in truth)
        assert overlap >= 0.6 * sum(t[1] - t[0] for t in truth)


def test_derived_limb_leads_for_two_lead_record(ecg_data):
    result = analyze(read_ecg(ecg_data / "cpsc2021" / "data_21_7.hea"))
    assert set(result.record["derived_leads"]) == {"III", "aVR", "aVL", "aVF"}
    assert result.measurements["qrs_axis"].value is not None
    assert "V1" in " ".join(result.quality["warnings"])  # the missing chest leads are said, not hidden


@pytest.mark.parametrize("path", ["ptbxl/00001_lr.hea", "cinc2021/JS20000.hea", "cinc2021/HR06002.hea"])
def test_json_contract(ecg_data, path):
    data = json.loads(analyze(read_ecg(ecg_data / path)).to_json())
    assert {"record", "measurements", "leads", "findings", "scores", "quality", "info", "disclaimer"} <= set(data)
    assert {"leads", "fs", "duration_s", "source"} <= set(data["record"])
    for name in ("heart_rate", "pr_interval", "qrs_duration", "qt_interval", "qtc_bazett", "qtc_fridericia", "qrs_axis"):
        entry = data["measurements"][name]
        assert entry["unit"] in ("bpm", "ms", "deg")
        assert entry["value"] is not None or entry["reason"]
    assert data["leads"]["V2"]["st_j60"]["unit"] == "mV"
    for finding in data["findings"]:
        assert finding["code"].isdigit() and 0.5 <= finding["score"] <= 1 and finding["citation"] and finding["evidence"]
    assert all(s is None or 0 <= s <= 1 for s in data["scores"].values())
