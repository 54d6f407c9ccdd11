"""Device-printed text on ECG pages: OCR of the header/footer, parsing of noisy OCR strings, comparison.

The real-scan tests check the parse against a truth table read by eye from the scans
(device_header_truth.json); OCR of every scan runs once per session (a few seconds in all).
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import SHARED_DATA
from workbench.ecg.image.device_text import (
    AGREEMENT_TOLERANCES,
    DevicePrinted,
    _fix_digits,
    _split_merged_numbers,
    compare_with_measurements,
    find_text_bands,
    normalize_statement,
    parse_device_text,
    read_device_text,
)

pytestmark = pytest.mark.timeout(240)

SCANS = SHARED_DATA / "images" / "scans"
TRUTH_FILE = Path(__file__).with_name("device_header_truth.json")
TRUTH: dict = {k: v for k, v in json.loads(TRUTH_FILE.read_text()).items() if not k.startswith("_")}
MEASUREMENT_KEYS = ("heart_rate", "pr_interval", "qrs_duration", "qt_interval", "qtc_bazett", "p_axis", "qrs_axis", "t_axis")


def _compact(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


@pytest.fixture(scope="session")
def ocr_engine():
    from workbench.ecg.image.device_text import get_ocr_engine

    return get_ocr_engine()


@pytest.fixture(scope="session")
def scan_reads(ocr_engine) -> dict[str, DevicePrinted]:
    """read_device_text of every real scan, once per session."""
    if not SCANS.is_dir():
        pytest.skip(f"real scans not found at {SCANS}")
    out = {}
    for path in sorted(SCANS.iterdir()):
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
            continue
        image = np.asarray(Image.open(path).convert("RGB"))
        out[path.name] = read_device_text(image, ocr=ocr_engine)
    assert out, "no scan images found"
    return out


# ---- real scans ------------------------------------------------------------------------------------------

def _field_results(name: str, got: DevicePrinted) -> list[tuple[str, object, object, bool]]:
    truth = TRUTH[name]
    rows = []
    for key in MEASUREMENT_KEYS:
        want = truth["measurements"].get(key)
        have = got.measurements.get(key)
        rows.append((f"{name}:{key}", want, have, want is not None and have is not None and float(want) == float(have)))
    extra = set(got.measurements) - set(truth["measurements"])
    for key in sorted(extra):
        rows.append((f"{name}:{key} (not printed)", None, got.measurements[key], False))
    have_statements = {_compact(s) for s in got.statements}
    for s in truth["statements"]:
        rows.append((f"{name}:statement", s, None, _compact(s) in have_statements))
    for s in got.statements:
        if _compact(s) not in {_compact(t) for t in truth["statements"]}:
            rows.append((f"{name}:statement (not printed)", None, s, False))
    for key in ("speed_mm_s", "gain_mm_mv"):
        rows.append((f"{name}:{key}", truth[key], getattr(got, key), truth[key] == getattr(got, key)))
    return rows


def test_truth_table_lists_existing_scans():
    assert TRUTH, "truth table is empty"
    for name, entry in TRUTH.items():
        assert set(entry["measurements"]) <= set(MEASUREMENT_KEYS), name
        if SCANS.is_dir():
            assert (SCANS / name).is_file(), name


def test_real_scan_headers_match_truth(scan_reads):
    rows = [r for name in TRUTH for r in _field_results(name, scan_reads[name])]
    correct = sum(r[3] for r in rows)
    accuracy = correct / len(rows)
    wrong = "\n".join(f"  {f}: printed {w!r}, read {h!r}" for f, w, h, ok in rows if not ok)
    times = ", ".join(f"{n} {scan_reads[n].seconds:.2f} s" for n in TRUTH)
    assert accuracy >= 0.90, f"field accuracy {correct}/{len(rows)} = {accuracy:.0%} (< 90%); times: {times}\n{wrong}"


def test_real_scan_header_qtc_assumed_bazett(scan_reads):
    for name in TRUTH:
        got = scan_reads[name]
        assert got.qtc_correction is None
        assert "assumed Bazett" in got.qtc_correction_source


def test_scans_without_header_give_nothing(scan_reads):
    for name, got in scan_reads.items():
        if name in TRUTH:
            assert got.found, name
            continue
        assert got.measurements == {}, (name, got.measurements, [t for t, _, _ in got.raw])
        assert got.statements == [], (name, got.statements)
        assert got.speed_mm_s is None and got.gain_mm_mv is None, name


def test_reading_time_per_scan(scan_reads):
    # generous bound: the header bands alone are read, not the page (~0.3-2 s here)
    slow = {n: round(r.seconds, 2) for n, r in scan_reads.items() if r.seconds > 10}
    assert not slow, slow


def test_real_scan_comparison_rows(scan_reads):
    got = scan_reads["ecg00053.png"]
    measured = {"heart_rate": {"value": 61.5, "unit": "bpm"}, "pr_interval": {"value": 150.0, "unit": "ms"},
                "qrs_duration": {"value": 150.0, "unit": "ms"}, "qt_interval": {"value": None, "unit": "ms"}}
    rows = {r["name"]: r for r in compare_with_measurements(got, measured)}
    assert rows["heart_rate"]["agrees"] is True
    assert rows["pr_interval"]["agrees"] is True
    assert rows["qrs_duration"]["agrees"] is False and rows["qrs_duration"]["difference"] == 22.0
    assert rows["qt_interval"]["agrees"] is None


# ---- parsing of OCR-like strings -------------------------------------------------------------------------

def _items(*texts: str, y: int = 0) -> list[tuple[str, tuple[int, int, int, int], float]]:
    """One text line of OCR boxes, left to right."""
    return [(t, (10 + 160 * i, y, 150 + 160 * i, y + 20), 0.9) for i, t in enumerate(texts)]


@pytest.mark.parametrize("texts, expected", [
    (("Vent.rate 72 BPM",), {"heart_rate": 72}),
    (("Vent.", "rate 72"), {"heart_rate": 72}),
    (("HR: 72 bpm",), {"heart_rate": 72}),
    (("Rate 72/min",), {"heart_rate": 72}),
    (("PRint 16Oms",), {"pr_interval": 160}),
    (("PRinterval160ms",), {"pr_interval": 160}),
    (("PR interval", "160", "ms", "Normal sinus rhythm"), {"pr_interval": 160}),
    (("QRSD 9O ms",), {"qrs_duration": 90}),
    (("QRSduration", "l2O", "ms"), {"qrs_duration": 120}),
    (("QRS dur. 92",), {"qrs_duration": 92}),
    (("QT/QTc 380/41O",), {"qt_interval": 380, "qtc_bazett": 410}),
    (("QT/QTcB", "380/410", "ms"), {"qt_interval": 380, "qtc_bazett": 410}),
    (("QT/QTcF 400/420",), {"qt_interval": 400, "qtc_fridericia": 420}),
    (("P-R-T axes 50 -20 40",), {"p_axis": 50, "qrs_axis": -20, "t_axis": 40}),
    (("P-R-Taxes", "5O", "-2O", "4O"), {"p_axis": 50, "qrs_axis": -20, "t_axis": 40}),
    (("P-R-T axes", "52-41", "23"), {"p_axis": 52, "qrs_axis": -41, "t_axis": 23}),
    (("P/QRS/T 50/20/270",), {"p_axis": 50, "qrs_axis": 20, "t_axis": -90}),
    (("HR 72 bpm PR 160 ms QRS 90 ms QT/QTc 380/410 ms P/QRS/T 50/20/40",),
     {"heart_rate": 72, "pr_interval": 160, "qrs_duration": 90, "qt_interval": 380, "qtc_bazett": 410,
      "p_axis": 50, "qrs_axis": 20, "t_axis": 40}),
    (("QRS axis 20",), {"qrs_axis": 20}),
    (("Low voltage QRS",), {}),
    (("Atrial rate 250", "Vent. rate 75"), {"heart_rate": 75}),  # AV block: the atrial rate is not the rate
    (("Vent. rate 9999 BPM",), {}),  # implausible: an OCR misread, dropped
])
def test_parse_noisy_lines(texts, expected):
    got = parse_device_text(_items(*texts))
    assert got.measurements == {k: float(v) for k, v in expected.items()}


def test_parse_multi_line_header_with_statements_and_settings():
    lines = [("Vent. rate", "82", "BPM", "*** Poor dataquality, interpretationmay be adversely affected"),
             ("PRinterval", "160", "ms", "Normal sinusrhythm"),
             ("QRS duration", "92", "ms", "Left axisdeviation"),
             ("QT/QTc", "392/457", "ms", "NonspecificST and Twave abnormality"),
             ("P-R-Taxes", "52-41", "23", "Abnommal ECG"),
             ("Referred by:", "Confirmed By:"),
             ("Technician", "Test ind"),
             ("25mm/s", "10mm/mV", "100Hz", "Page 1 of 1")]
    items = [it for k, line in enumerate(lines) for it in _items(*line, y=30 * k)]
    got = parse_device_text(items)
    assert got.measurements == {"heart_rate": 82, "pr_interval": 160, "qrs_duration": 92, "qt_interval": 392,
                                "qtc_bazett": 457, "p_axis": 52, "qrs_axis": -41, "t_axis": 23}
    assert got.statements == ["Poor data quality, interpretation may be adversely affected", "Normal sinus rhythm",
                              "Left axis deviation", "Nonspecific ST and T wave abnormality", "Abnormal ECG"]
    assert (got.speed_mm_s, got.gain_mm_mv) == (25.0, 10.0)
    assert got.qtc_correction is None and "assumed Bazett" in got.qtc_correction_source


def test_parse_qtc_correction_named():
    got = parse_device_text(_items("QTc:Hodges") + _items("QT/QTc", "380/410", y=30))
    assert got.qtc_correction == "hodges" and got.qtc_correction_source == "printed"
    assert got.measurements == {"qt_interval": 380.0, "qtc_hodges": 410.0}


def test_parse_lead_labels_and_corner_boxes():
    items = [("aVR", [[100, 50], [140, 50], [140, 70], [100, 70]], 0.9), ("II", (10, 200, 30, 220), 0.9),
             ("VS", (300, 200, 330, 220), 0.8), ("avL", (100, 200, 140, 220), 0.9)]
    got = parse_device_text(items)
    assert [(t, b) for t, b in got.lead_labels] == [("aVR", (100, 50, 140, 70)), ("II", (10, 200, 30, 220)),
                                                    ("V5", (300, 200, 330, 220)), ("aVL", (100, 200, 140, 220))]
    assert got.statements == [] and got.measurements == {}


@pytest.mark.parametrize("raw, fixed", [("1O0", "100"), ("l60ms", "160ms"), ("6Oms", "60ms"), ("38O/41O", "380/410"),
                                        ("60BPM", "60BPM"), ("V5", "V5"), ("aVL", "aVL"), ("II", "II"),
                                        ("52\u221241", "52-41")])
def test_fix_digits(raw, fixed):
    assert _fix_digits(raw) == fixed


@pytest.mark.parametrize("raw, expected, known", [
    ("Abnommal ECG", "Abnormal ECG", True),
    ("AbnormalECG", "Abnormal ECG", True),
    ("Normal ECG", "Normal ECG", True),
    ("NopreviousECGsavailable", "No previous ECGs available", True),
    ("*Poor dataqualitynterpretationmaybeadverselyaffected", "Poor data quality, interpretation may be adversely affected", True),
    ("Atrial-sensedventricular-pacedrhythm", "Atrial-sensed ventricular-paced rhythm", True),
    ("Sinus rhythmwithmarkedsinus arrhythmia", "Sinus rhythm with marked sinus arrhythmia", False),
])
def test_normalize_statement(raw, expected, known):
    assert normalize_statement(raw) == (expected, known)


def test_split_merged_numbers_from_ink_gaps():
    img = Image.new("L", (300, 60), 255)
    font = ImageFont.load_default(size=28)
    ImageDraw.Draw(img).text((10, 12), "67", fill=0, font=font)
    ImageDraw.Draw(img).text((140, 12), "44", fill=0, font=font)
    gray = np.asarray(img)
    out = _split_merged_numbers(gray, [("6744", np.array([[5, 5], [200, 5], [200, 50], [5, 50]], float), 0.99),
                                       ("160", np.array([[5, 5], [60, 5], [60, 50], [5, 50]], float), 0.99)])
    assert [t for t, _, _ in out][:2] == ["67", "44"]
    assert out[0][1][2] < out[1][1][0]  # the pieces keep their own boxes
    assert out[2][0] == "160"


# ---- comparison ------------------------------------------------------------------------------------------

def test_compare_rows_and_agreement():
    printed = DevicePrinted(measurements={"heart_rate": 72, "pr_interval": 160, "qrs_duration": 90, "qt_interval": 380,
                                          "qtc_bazett": 410, "p_axis": 50, "qrs_axis": -170, "t_axis": 40})
    measured = {"heart_rate": {"value": 75.0, "unit": "bpm"}, "pr_interval": {"value": 185.0, "unit": "ms"},
                "qrs_duration": {"value": None, "unit": "ms", "reason": "no QRS"}, "qt_interval": {"value": 400.0, "unit": "ms"},
                "qtc_bazett": {"value": 445.0, "unit": "ms"}, "p_axis": 60.0, "qrs_axis": {"value": 175.0, "unit": "deg"},
                "t_axis": {"value": 90.0, "unit": "deg"}}
    rows = compare_with_measurements(printed, measured)
    assert [r["name"] for r in rows] == ["heart_rate", "pr_interval", "qrs_duration", "qt_interval", "qtc_bazett",
                                         "p_axis", "qrs_axis", "t_axis"]
    by = {r["name"]: r for r in rows}
    assert {k: r["agrees"] for k, r in by.items()} == {
        "heart_rate": True, "pr_interval": False, "qrs_duration": None, "qt_interval": True, "qtc_bazett": False,
        "p_axis": True, "qrs_axis": True, "t_axis": False}
    assert by["pr_interval"]["difference"] == 25.0 and by["pr_interval"]["unit"] == "ms"
    assert by["qrs_axis"]["difference"] == -15.0  # 175 vs -170 deg: 15 deg apart across +-180
    assert by["qrs_duration"]["workbench"] is None and "did not measure" in by["qrs_duration"]["note"]
    assert "assumed Bazett" in by["qtc_bazett"]["note"]
    for r in rows:
        assert set(r) >= {"name", "label", "device", "workbench", "difference", "unit", "tolerance", "agrees", "source"}
        assert r["tolerance"] > 0 and r["source"]


def test_compare_other_qtc_corrections():
    printed = DevicePrinted(measurements={"qt_interval": 400.0, "qtc_hodges": 420.0, "qtc_fridericia": 430.0},
                            qtc_correction="hodges", qtc_correction_source="printed")
    measured = {"qt_interval": 400.0, "heart_rate": 72.0, "qtc_fridericia": {"value": 433.0, "unit": "ms"}}
    by = {r["name"]: r for r in compare_with_measurements(printed, measured)}
    assert by["qtc_hodges"]["workbench"] == pytest.approx(400 + 1.75 * 12, abs=0.1) and by["qtc_hodges"]["agrees"] is True
    assert "Hodges" in by["qtc_hodges"]["note"]
    assert by["qtc_fridericia"]["workbench"] == 433.0 and by["qtc_fridericia"]["agrees"] is True


def test_tolerance_table_cites_sources():
    for key in ("pr_interval", "qrs_duration", "qt_interval", "qtc"):
        assert "IEC 60601-2-25" in AGREEMENT_TOLERANCES[key]["source"]
    assert AGREEMENT_TOLERANCES["pr_interval"]["tolerance"] == 10
    assert AGREEMENT_TOLERANCES["qt_interval"]["tolerance"] == 30
    assert all(15 <= AGREEMENT_TOLERANCES[k]["tolerance"] <= 20 for k in ("p_axis", "qrs_axis", "t_axis"))


# ---- rendered pages --------------------------------------------------------------------------------------

def _page(header: list[list[tuple[int, str]]], footer: list[tuple[int, str]], *, size=(1800, 1200), font_px=24,
          grid=(330, 1080)) -> np.ndarray:
    """White page: text lines (x, text) above and below a pink ECG grid with a trace."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=font_px)
    top, bottom = grid
    for x in range(40, w - 40, 8):
        d.line([(x, top), (x, bottom)], fill=(250, 200, 200) if (x - 40) % 40 else (240, 150, 150))
    for y in range(top, bottom + 1, 8):
        d.line([(40, y), (w - 40, y)], fill=(250, 200, 200) if (y - top) % 40 else (240, 150, 150))
    xs = np.arange(40, w - 40)
    for base in range(top + 120, bottom, 240):
        ys = base - 60 * np.exp(-(((xs - 40) % 180) - 90) ** 2 / 20.0)
        d.line(list(zip(xs.tolist(), ys.tolist())), fill=(0, 0, 0), width=2)
    for k, line in enumerate(header):
        for x, text in line:
            d.text((x, 40 + int(1.4 * font_px) * k), text, fill=(0, 0, 0), font=font)
    for x, text in footer:
        d.text((x, bottom + 30), text, fill=(0, 0, 0), font=font)
    return np.asarray(img)


def test_rendered_page_ge_style(ocr_engine):
    header = [[(80, "Vent. rate"), (330, "72"), (400, "BPM"), (560, "Sinus rhythm")],
              [(80, "PR interval"), (318, "164"), (400, "ms"), (560, "Left axis deviation")],
              [(80, "QRS duration"), (330, "96"), (400, "ms"), (560, "Abnormal ECG")],
              [(80, "QT/QTc"), (270, "384/420"), (400, "ms")],
              [(80, "P-R-T axes"), (280, "55"), (330, "-38"), (400, "41")]]
    page = _page(header, [(60, "25 mm/s"), (250, "10 mm/mV"), (450, "150 Hz")])
    bands, grid_box = find_text_bands(page)
    assert grid_box is not None and abs(grid_box[1] - 330) < 12 and abs(grid_box[3] - 1080) < 12
    assert len(bands) == 2
    got = read_device_text(page, ocr=ocr_engine)
    assert got.measurements == {"heart_rate": 72, "pr_interval": 164, "qrs_duration": 96, "qt_interval": 384,
                                "qtc_bazett": 420, "p_axis": 55, "qrs_axis": -38, "t_axis": 41}
    assert got.statements == ["Sinus rhythm", "Left axis deviation", "Abnormal ECG"]
    assert (got.speed_mm_s, got.gain_mm_mv) == (25.0, 10.0)
    assert got.seconds < 10


def test_rendered_page_one_line_style_noisy_jpeg(ocr_engine):
    header = [[(60, "HR 95 bpm   PR 172 ms   QRS 104 ms   QT/QTcF 352/410 ms   P/QRS/T 61/-12/45")],
              [(60, "Sinus rhythm")],
              [(60, "Incomplete right bundle branch block")]]
    page = _page(header, [(60, "Speed: 50 mm/s   Limb: 20 mm/mV")]).astype(float)
    rng = np.random.default_rng(3)
    page = np.clip(page * 0.93 + 8 + rng.normal(0, 6, page.shape), 0, 255).astype(np.uint8)  # grey paper, noise
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, "JPEG", quality=60)
    page = np.asarray(Image.open(buf).convert("RGB"))
    got = read_device_text(page, ocr=ocr_engine)
    assert got.measurements == {"heart_rate": 95, "pr_interval": 172, "qrs_duration": 104, "qt_interval": 352,
                                "qtc_fridericia": 410, "p_axis": 61, "qrs_axis": -12, "t_axis": 45}
    assert got.qtc_correction == "fridericia"
    assert got.statements == ["Sinus rhythm", "Incomplete right bundle branch block"]
    assert (got.speed_mm_s, got.gain_mm_mv) == (50.0, 20.0)


def test_blank_and_grid_only_pages_do_not_call_ocr():
    def refuse(_image):
        raise AssertionError("OCR called on a page without text")

    blank = np.full((600, 900, 3), 255, np.uint8)
    got = read_device_text(blank, ocr=refuse)
    assert not got.found and got.measurements == {} and got.raw == []
    grid_only = _page([], [], size=(900, 600), grid=(0, 599))
    got = read_device_text(grid_only, ocr=refuse)
    assert not got.found and got.regions == []
    assert read_device_text(blank[:, :, 0], ocr=refuse).measurements == {}  # grayscale input


def test_result_serialises():
    got = parse_device_text(_items("Vent. rate 72 BPM", "Normal ECG"))
    d = got.to_dict()
    json.dumps(d)
    assert d["measurements"] == {"heart_rate": 72.0} and d["statements"] == ["Normal ECG"]
