"""The digitizer end to end: rendered pages of real records (exact truth), degraded pages, crops, and the
real scans in ../shared/data/images/scans. No mocks: every page is drawn by `render_ecg` or read from disk.

SNR is the PhysioNet/CinC 2024 metric (`record_snr`, per lead, best time shift, offset removed). The
thresholds sit a little under what the engine measured when these tests were written (numbers in the
comments); they guard against regressions, not against the best possible digitizer.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from tests.conftest import SHARED_DATA
from workbench.ecg import analyze, read_ecg, simulate_ecg
from workbench.ecg.image import DigitizedECG, digitize, digitize_file
from workbench.ecg.image.accuracy import lead_snr, record_snr
from workbench.ecg.image.render import render_ecg
from workbench.ecg.image.types import RenderedECG
from workbench.ecg.inputs import analyze_file
from workbench.ecg.leads import STANDARD_LEADS
from workbench.errors import InputError

pytestmark = pytest.mark.timeout(300)

DPI = 150
PPM = DPI / 25.4  # true pixels per mm of every rendered page
RECORDS = ("E07506", "E07510", "sim")
LAYOUTS = ("3x4", "3x4+1", "6x2")
ROUND_TRIP = [(r, lay) for r in RECORDS for lay in LAYOUTS]
SCANS = SHARED_DATA / "images" / "scans"
SCAN_FILES = sorted(p.name for p in SCANS.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")) if SCANS.is_dir() else []


class Pages:
    """Rendered pages and their digitization, each made once per session (rendering + digitizing ~1 s)."""

    def __init__(self, records: dict) -> None:
        self.records = records
        self._cache: dict[tuple, tuple[RenderedECG, DigitizedECG]] = {}

    def __call__(self, name: str, layout: str, augment: tuple[str, ...] = (), seed: int = 1) -> tuple[RenderedECG, DigitizedECG]:
        key = (name, layout, augment, seed)
        if key not in self._cache:
            rendered = render_ecg(self.records[name], layout, dpi=DPI, seed=seed, augment=list(augment))
            self._cache[key] = (rendered, digitize(rendered.image))
        return self._cache[key]


@pytest.fixture(scope="session")
def records(ecg_data: Path) -> dict:
    return {"E07506": read_ecg(ecg_data / "cinc2021" / "E07506.hea"),  # normal sinus rhythm
            "E07510": read_ecg(ecg_data / "cinc2021" / "E07510.hea"),  # complete RBBB, sinus bradycardia
            "sim": simulate_ecg(seed=1)}


@pytest.fixture(scope="session")
def pages(records: dict) -> Pages:
    return Pages(records)


def cases(params: list[tuple], known_bugs: dict[tuple, str]) -> list:
    """Parameters, with a strict xfail (the bug, with values) on those that show a known engine bug."""
    return [pytest.param(*p, marks=pytest.mark.xfail(strict=True, reason=known_bugs[p])) if p in known_bugs else p
            for p in params]


def mean_snr(rendered: RenderedECG, result: DigitizedECG) -> tuple[float, dict[str, float]]:
    snr = record_snr(rendered.record, result.record)
    assert snr, "no lead could be compared with the drawn signals"
    return float(np.mean(list(snr.values()))), {k: round(float(v), 1) for k, v in snr.items()}


def true_scale(rendered: RenderedECG) -> float:
    """Horizontal pixels per mm of an augmented page at its centre (the clean page's scale times the local
    stretch of ``rendered.transform``)."""
    h, w = rendered.trace_mask.shape
    def to_image(x: float, y: float) -> np.ndarray:
        v = rendered.transform @ np.array([x, y, 1.0])
        return v[:2] / v[2]
    step = 50.0
    return float(np.linalg.norm(to_image(w / 2 + step, h / 2) - to_image(w / 2, h / 2)) / step * PPM)


# ------------------------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("name, layout", ROUND_TRIP)
def test_layout_and_twelve_leads(pages: Pages, name: str, layout: str) -> None:
    rendered, result = pages(name, layout)
    assert rendered.layout.name == layout
    assert result.layout.name == layout
    assert sorted(result.record.leads) == sorted(STANDARD_LEADS)
    assert result.record.fs == 500 and result.record.source == "image"
    assert set(result.confidence) == set(STANDARD_LEADS) and all(0 <= v <= 1 for v in result.confidence.values())


@pytest.mark.parametrize("name, layout", ROUND_TRIP)
def test_calibration_matches_the_printed_page(pages: Pages, name: str, layout: str) -> None:
    _, result = pages(name, layout)
    cal = result.calibration
    assert cal.px_per_mm == pytest.approx(PPM, rel=0.02)
    assert cal.speed_mm_s == pytest.approx(25.0, rel=0.05)
    # measured: 10.2-10.4 mm/mV from the pulse on every layout (the pen width makes the pulse look taller)
    assert cal.gain_mm_mv == pytest.approx(10.0, rel=0.05)


@pytest.mark.parametrize("name", ["E07506", "sim"])
def test_six_by_two_gain_comes_from_the_pulse(pages: Pages, name: str) -> None:
    _, result = pages(name, "6x2")
    assert result.calibration.gain_source.startswith("calibration pulse"), result.warnings


@pytest.mark.parametrize("name, layout", ROUND_TRIP)
def test_signals_match_the_drawn_record(pages: Pages, name: str, layout: str) -> None:
    # measured mean per-lead SNR at 150 dpi (3x4 / 3x4+1 / 6x2): E07506 13.3 / 12.8 / 13.9 dB,
    # E07510 12.4 / 13.1 / 12.5 dB, simulated 17.3 / 17.4 / 17.0 dB; single leads go down to ~1 dB
    # (E07510 V6 on the 3x4 page), so only the mean is held to a threshold
    rendered, result = pages(name, layout)
    mean, per_lead = mean_snr(rendered, result)
    assert mean >= 10.0, per_lead


def _expected_spans(rendered: RenderedECG) -> dict[str, tuple[float, float]]:
    """Per lead, the time span the page prints; a rhythm strip gives its lead the whole 10 s."""
    spans: dict[str, tuple[float, float]] = {}
    for p in rendered.layout.panels:
        if p.rhythm_strip or p.lead not in spans:
            spans[p.lead] = (p.t0_s, p.t0_s + p.duration_s)
    return spans


@pytest.mark.parametrize("name, layout", cases(ROUND_TRIP, {("E07510", "6x2"): (
    "E07510 6x2 at 150 dpi: lead III's trace is lost before the end of its panel (coverage [0.0, 4.78] s, "
    "panel 0-5 s; earlier engine versions gave [0.0, 4.60]); lead I starts at 0.07-0.09 s because the "
    "follower starts on the printed 'I' label, V1 ends at 9.86-9.95 s")}))
def test_coverage_is_the_printed_time_span(pages: Pages, name: str, layout: str) -> None:
    rendered, result = pages(name, layout)
    coverage = result.record.metadata["coverage"]
    spans = _expected_spans(rendered)
    assert set(coverage) == set(spans)
    off = {lead: (round(coverage[lead][0] - a, 3), round(coverage[lead][1] - b, 3)) for lead, (a, b) in spans.items()}
    assert all(abs(d0) <= 0.1 and abs(d1) <= 0.1 for d0, d1 in off.values()), off
    for lead, (a, b) in spans.items():  # the signal is NaN exactly outside the coverage
        finite = np.flatnonzero(np.isfinite(result.record.lead(lead)))
        assert finite[0] / 500 == pytest.approx(coverage[lead][0], abs=0.002)
        assert (finite[-1] + 1) / 500 == pytest.approx(coverage[lead][1], abs=0.002)


@pytest.mark.parametrize("name, layout", ROUND_TRIP)
def test_pixel_map_lies_on_the_trace_ink(pages: Pages, name: str, layout: str) -> None:
    rendered, result = pages(name, layout)
    distance = ndimage.distance_transform_edt(~rendered.trace_mask)  # px to the nearest drawn-trace pixel
    h, w = distance.shape
    near = {}
    for lead, xy in result.pixel_map.items():
        assert xy.shape == (result.record.n_samples, 2)
        shown = np.isfinite(xy).all(axis=1)
        np.testing.assert_array_equal(shown, np.isfinite(result.record.lead(lead)))
        x = np.clip(np.round(xy[shown, 0]).astype(int), 0, w - 1)
        y = np.clip(np.round(xy[shown, 1]).astype(int), 0, h - 1)
        near[lead] = round(float(np.mean(distance[y, x] <= 3.0)), 3)
    # measured: 0.99-1.0 of the points of every lead within 3 px of the ink
    assert set(near) == set(STANDARD_LEADS)
    assert min(near.values()) >= 0.95, near


# ------------------------------------------------------------------------------------------ robustness
ROBUST = [(aug, name) for aug in ("rotation", "perspective") for name in RECORDS]


@pytest.mark.parametrize("augmentation, name", cases(ROBUST, {("perspective", "E07510"): (
    "E07510 3x4+1 perspective (seed 1, 150 dpi): mean SNR 7.2 dB; aVF -6.0 dB because the follower starts "
    "on the column-separator tick and 'aVF' label (spike of ~1 mV at the panel start) and stops at 70% of "
    "the panel; V6 1.2 dB")}))
def test_rotated_and_perspective_pages(pages: Pages, augmentation: str, name: str) -> None:
    # measured mean SNR (seed 1, 3x4+1, 150 dpi): rotation (3.2 deg) E07506 10.5, E07510 9.0 (V6 0.9),
    # simulated 15.6 dB; perspective E07506 11.1, E07510 7.1 (xfail), simulated 13.1 dB
    rendered, result = pages(name, "3x4+1", (augmentation,))
    assert result.layout.name == "3x4+1"
    assert sorted(result.record.leads) == sorted(STANDARD_LEADS)
    mean, per_lead = mean_snr(rendered, result)
    assert mean >= 8.5, per_lead


def test_rotation_is_measured(pages: Pages) -> None:
    rendered, result = pages("E07506", "3x4+1", ("rotation",))
    applied = np.degrees(np.arctan2(rendered.transform[1, 0], rendered.transform[0, 0]))
    assert abs(applied) >= 1.0, "the augmentation should rotate the page"
    assert abs(result.calibration.rotation_deg) == pytest.approx(abs(applied), abs=0.3)
    assert result.calibration.px_per_mm == pytest.approx(true_scale(rendered), rel=0.02)


PHOTO_SEEDS = (1, 2, 3)


@pytest.mark.parametrize("seed", PHOTO_SEEDS)
def test_photo_page_gives_twelve_leads(pages: Pages, seed: int) -> None:
    _, result = pages("E07506", "3x4+1", ("photo",), seed)
    assert sorted(result.record.leads) == sorted(STANDARD_LEADS)


@pytest.mark.parametrize("seed", [
    pytest.param(1, marks=pytest.mark.xfail(strict=True, reason=(
        "photo seed 1: scale read as 7.54 px/mm where the page shows ~5.38 px/mm (x1.40, a grid harmonic) and "
        "the pulse then gives 17.5 mm/mV ('nominal 20'); every lead's SNR is about 0 dB (mean -0.4 dB)"))),
    2,
    pytest.param(3, marks=pytest.mark.xfail(strict=True, reason=(
        "photo seed 3: scale read as 4.30 px/mm where the page shows ~4.82 px/mm horizontally (-11%), so the "
        "rows 'span 310 mm' and speed/gain fall back to assumed values; mean SNR -3.3 dB"))),
])
def test_photo_page_scale_and_signals(pages: Pages, seed: int) -> None:
    # measured (E07506, 3x4+1, 150 dpi): seed 2 mean SNR 5.4 dB with px/mm 2% off the page's true scale;
    # seeds 1 and 3 see the wrong scale (xfail)
    rendered, result = pages("E07506", "3x4+1", ("photo",), seed)
    assert result.calibration.px_per_mm == pytest.approx(true_scale(rendered), rel=0.06)
    mean, per_lead = mean_snr(rendered, result)
    assert mean >= 4.5, per_lead


# --------------------------------------------------------------------------------- findings survive
@pytest.fixture(scope="session")
def original_e07510(records: dict):
    return analyze(records["E07510"])


@pytest.mark.parametrize("layout", [
    pytest.param("3x4+1", marks=pytest.mark.xfail(strict=True, reason=(
        "rendered E07510 3x4+1 (150 dpi) digitized: complete_rbbb is lost (ivcd instead, bundle-branch score 0.3) "
        "and low_voltage / st_elevation appear. The digitized V6 is close to the drawn one (peak 0.56 vs 0.57 mV, "
        "SNR 11.6 dB) but is delineated with S duration 6 ms (54 ms on the drawn signal) and Q duration 68 ms; "
        "V1 R' 0 mV (0.87). The drawn signals masked to the same panels keep complete_rbbb"))),
    "6x2",
])
def test_rbbb_and_bradycardia_survive_digitization(pages: Pages, original_e07510, layout: str) -> None:
    assert {"complete_rbbb", "sinus_bradycardia"} <= {f.rule for f in original_e07510.findings}
    _, result = pages("E07510", layout)
    rules = {f.rule for f in analyze(result.record).findings}
    assert {"complete_rbbb", "sinus_bradycardia"} <= rules, sorted(rules)


@pytest.mark.parametrize("layout", ["3x4+1", "6x2"])
def test_heart_rate_survives_digitization(pages: Pages, original_e07510, layout: str) -> None:
    # measured: 48.3 bpm original, 48.3 bpm digitized
    _, result = pages("E07510", layout)
    rate = analyze(result.record).measurements["heart_rate"].value
    assert rate == pytest.approx(original_e07510.measurements["heart_rate"].value, abs=5.0)


# ----------------------------------------------------------------------------------- device header
HEADER = {"Vent. rate": "72 BPM", "PR interval": "160 ms", "QRS duration": "90 ms", "QT/QTc": "380/410 ms",
          "P-R-T axes": "50 20 40"}


@pytest.fixture(scope="session")
def header_analysis(records: dict, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("header") / "device_page.png"
    rendered = render_ecg(records["E07506"], "3x4+1", dpi=DPI, seed=1, header_text=HEADER)
    Image.fromarray(rendered.image).save(path, dpi=(DPI, DPI))
    return analyze_file(path)


def test_device_header_is_read_and_compared(header_analysis) -> None:
    image = header_analysis.image
    assert image["layout"]["name"] == "3x4+1"
    printed = image["device_printed"]["measurements"]
    expected = {"heart_rate": 72, "pr_interval": 160, "qrs_duration": 90, "p_axis": 50, "qrs_axis": 20, "t_axis": 40}
    assert {k: printed.get(k) for k in expected} == expected, printed
    comparison = image["device_comparison"]
    assert isinstance(comparison, list) and comparison
    by_name = {row["name"]: row for row in comparison}
    assert set(expected) <= set(by_name)
    for key, value in expected.items():
        row = by_name[key]
        assert row["device"] == value
        assert row["workbench"] is not None and isinstance(row["agrees"], bool)
    # the workbench's own rate of this page (E07506, ~68 bpm) is within 5 bpm of the printed 72
    assert by_name["heart_rate"]["agrees"] is True


@pytest.mark.xfail(strict=True, reason=(
    "the OCR reads the rendered 'QT/QTc' label as '10/100' (150 dpi; '0/100' at 200 and 300 dpi), so "
    "'380/410 ms' is attached to no label and qt_interval / qtc_bazett are missing"))
def test_device_header_qt_and_qtc_are_read(header_analysis) -> None:
    printed = header_analysis.image["device_printed"]["measurements"]
    assert printed.get("qt_interval") == 380 and printed.get("qtc_bazett") == 410, printed
    assert {"qt_interval", "qtc_bazett"} <= {row["name"] for row in header_analysis.image["device_comparison"]}


# ------------------------------------------------------------------------------------------ partial
@pytest.fixture(scope="session")
def page_rows(pages: Pages) -> tuple[RenderedECG, list[tuple[int, int]]]:
    rendered, _ = pages("E07506", "3x4+1")
    return rendered, sorted({(p.box[1], p.box[3]) for p in rendered.layout.panels})


@pytest.mark.parametrize("first, last, n_leads", [(3, 3, 1), (0, 1, 2)])
def test_cropped_rows_give_a_partial_layout(page_rows, tmp_path: Path, first: int, last: int, n_leads: int) -> None:
    rendered, rows = page_rows
    assert len(rows) == 4
    path = tmp_path / "crop.png"
    Image.fromarray(rendered.image[rows[first][0]:rows[last][1]]).save(path)
    result = digitize_file(path)
    assert result.layout.name == "partial"
    assert len(result.record.leads) == n_leads
    assert any("not a standard 12-lead layout" in w for w in result.warnings)
    assert result.calibration.px_per_mm == pytest.approx(PPM, rel=0.02)
    for lead in result.record.leads:
        assert result.record.metadata["coverage"][lead] == pytest.approx([0.0, 10.0], abs=0.2)
    if first == 3:  # the rhythm strip is lead II over 10 s: measured SNR 9.0 dB
        assert lead_snr(rendered.record.lead("II"), result.record.signals[:, 0], 500) >= 7.0


# ---------------------------------------------------------------------------------------- real scans
@pytest.fixture(scope="session")
def scan_results() -> dict:
    """digitize_file outcome and seconds of every scan, computed once (a scan's own test asserts on it)."""
    if not SCAN_FILES:
        pytest.skip(f"real scans not found at {SCANS}")
    return {}


def _digitize_scan(cache: dict, name: str):
    if name not in cache:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            outcome = digitize_file(SCANS / name)
        except InputError as err:
            outcome = err
        cache[name] = (outcome, time.perf_counter() - wall, time.process_time() - cpu)
    return cache[name]


def test_there_are_26_scans() -> None:
    if not SCANS.is_dir():
        pytest.skip(f"real scans not found at {SCANS}")
    assert len(SCAN_FILES) == 26


@pytest.mark.slow
@pytest.mark.parametrize("name", SCAN_FILES)
def test_real_scan_digitizes_or_says_why(scan_results: dict, name: str) -> None:
    # any exception other than InputError propagates and fails the test
    outcome, wall, cpu = _digitize_scan(scan_results, name)
    if isinstance(outcome, InputError):
        assert str(outcome).strip(), f"{name}: {type(outcome).__name__} without a message"
    else:
        assert len(outcome.record.leads) >= 1
        assert np.isfinite(outcome.record.signals).any()
    # measured (2 shared CPU cores): slowest ecg00005.jpg (2721 x 2967 px) 12-18 s wall, then ecg00053.png
    # ~14 s (OCR), all others < 3 s. Wall time on a shared machine includes other jobs' load; CPU time of a
    # multi-threaded step exceeds its wall time: the smaller of the two is this scan's own cost.
    assert min(wall, cpu) < 20.0, f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU"


@pytest.mark.slow
def test_scan_ecg00001_is_a_3x4_plus_1_page_at_about_60_bpm(scan_results: dict) -> None:
    outcome, _, _ = _digitize_scan(scan_results, "ecg00001.png")
    assert not isinstance(outcome, Exception), outcome
    assert outcome.layout.name == "3x4+1"
    assert sorted(outcome.record.leads) == sorted(STANDARD_LEADS)
    # read by eye: the lead II rhythm strip holds 10 QRS complexes ~1.02 s apart over 10 s (~59 bpm);
    # measured 59.2 bpm
    rate = analyze(outcome.record).measurements["heart_rate"].value
    assert 50 <= rate <= 70
