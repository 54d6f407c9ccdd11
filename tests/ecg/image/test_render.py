"""The ECG page renderer and image augmentations: geometry measured back from the pixels, real records."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.ecg import read_ecg, simulate_ecg
from workbench.ecg.image.augment import AUGMENTATIONS, augment
from workbench.ecg.image.render import render_ecg
from workbench.ecg.image.types import LAYOUTS, PAGE_SECONDS
from workbench.ecg.leads import STANDARD_LEADS
from workbench.ecg.record import ECGRecord
from workbench.errors import InputError

pytestmark = pytest.mark.timeout(120)

DPI = 100
PPM = DPI / 25.4


@pytest.fixture(scope="module")
def sim() -> ECGRecord:
    return simulate_ecg(seed=4)


@pytest.fixture(scope="module")
def page(sim: ECGRecord):
    return render_ecg(sim, "3x4+1", dpi=DPI)


def dark(image: np.ndarray, level: int = 110) -> np.ndarray:
    """Trace-ink pixels: dark in every channel (the pink grid is bright in red)."""
    return (image.max(axis=2) < level)


def autocorr_peak(profile: np.ndarray, lag_lo: float, lag_hi: float) -> float:
    """Lag (sub-pixel) of the strongest autocorrelation peak between lag_lo and lag_hi."""
    p = profile - profile.mean()
    ac = np.correlate(p, p, mode="full")[len(p) - 1:]
    lo, hi = int(np.floor(lag_lo)), int(np.ceil(lag_hi))
    k = lo + int(np.argmax(ac[lo:hi + 1]))
    a, b, c = ac[k - 1], ac[k], ac[k + 1]
    return k + 0.5 * (a - c) / (a - 2 * b + c)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layout_panels_and_page_size(sim: ECGRecord, name: str) -> None:
    out = render_ecg(sim, name, dpi=DPI)
    rows, rhythm = LAYOUTS[name]
    assert out.image.shape == (round(210 * PPM), round(297 * PPM), 3) and out.image.dtype == np.uint8
    assert out.layout.name == name
    grid = [p for p in out.layout.panels if not p.rhythm_strip]
    strips = [p for p in out.layout.panels if p.rhythm_strip]
    assert [p.lead for p in grid] == [lead for row in rows for lead in row]
    assert [p.lead for p in strips] == list(rhythm)
    col_s = PAGE_SECONDS / len(rows[0])
    for r, row in enumerate(rows):
        for c, lead in enumerate(row):
            p = grid[r * len(row) + c]
            assert p.t0_s == pytest.approx(c * col_s) and p.duration_s == pytest.approx(col_s)
    assert all(p.t0_s == 0 and p.duration_s == pytest.approx(PAGE_SECONDS) for p in strips)
    assert set(out.traces) == {p.lead for p in grid} | {f"{p.lead}@rhythm" for p in strips}
    px_per_s = out.calibration.px_per_s
    x_zero = grid[0].box[0]
    for p in out.layout.panels:
        x0, y0, x1, y1 = p.box
        assert x0 == pytest.approx(x_zero + p.t0_s * px_per_s, abs=1)  # time has the same x on every row
        assert x1 - x0 == pytest.approx(p.duration_s * px_per_s, abs=1)
        assert y0 < p.baseline_y < y1
    bands = sorted({(p.box[1], p.box[3]) for p in out.layout.panels})
    assert len(bands) == len(rows) + len(rhythm)
    assert all(b[1] <= n[0] + 1 for b, n in zip(bands, bands[1:]))  # rows do not overlap
    assert out.record.fs == 500 and out.record.duration_s == pytest.approx(10.0)
    assert out.trace_mask is not None and out.trace_mask.shape == out.image.shape[:2]
    np.testing.assert_array_equal(out.transform, np.eye(3))


@pytest.mark.parametrize("dpi", [100, 150])
def test_grid_period_measured_from_pixels(sim: ECGRecord, dpi: int) -> None:
    out = render_ecg(sim, "3x4", dpi=dpi)
    ppm = dpi / 25.4
    x0 = out.layout.panels[0].box[0]
    top = out.layout.panels[0].box[1]
    bottom = out.layout.panels[-1].box[3]
    red_ink = 255.0 - out.image[top:bottom, x0:x0 + int(200 * ppm), 1].astype(float)  # grid lines lack green
    minor = autocorr_peak(red_ink.mean(axis=0), 0.6 * ppm, 1.4 * ppm)
    major = autocorr_peak(red_ink.mean(axis=0), 4.5 * ppm, 5.5 * ppm)
    assert minor == pytest.approx(ppm, abs=0.15)
    assert major == pytest.approx(5 * ppm, abs=0.15)
    rows = autocorr_peak(red_ink[:, : int(5 * ppm)].mean(axis=1), 4.5 * ppm, 5.5 * ppm)  # horizontal lines too
    assert rows == pytest.approx(5 * ppm, abs=0.2)
    assert out.calibration.px_per_mm == pytest.approx(ppm)


@pytest.mark.parametrize("gain", [10.0, 5.0])
def test_calibration_pulse_height(sim: ECGRecord, gain: float) -> None:
    out = render_ecg(sim, "3x4+1", dpi=DPI, gain_mm_mv=gain)
    ink = dark(out.image)
    x_zero = out.layout.panels[0].box[0]
    for p in out.layout.panels:
        if p.t0_s != 0 or p.rhythm_strip and p.lead != "II":
            continue
        region = ink[p.box[1]:p.box[3], x_zero - int(10 * PPM):x_zero - 1]
        rows = np.flatnonzero(region.sum(axis=1) >= 2 * PPM) + p.box[1]  # rows holding a horizontal stroke
        top = rows[rows < rows.min() + 4].mean()
        base = rows[rows > rows.max() - 4].mean()
        assert base - top == pytest.approx(gain * PPM, abs=1.0)
        assert base == pytest.approx(p.baseline_y, abs=1.0)
    assert out.calibration.px_per_mv == pytest.approx(gain * PPM)


def test_trace_pixels_lie_on_the_drawn_coordinates(page) -> None:
    ink = dark(page.image)
    rng = np.random.default_rng(0)
    for key, xy in page.traces.items():
        lead = key.split("@")[0]
        panel = next(p for p in page.layout.panels if p.lead == lead and p.rhythm_strip == key.endswith("@rhythm"))
        # y follows the signal exactly: baseline minus mV times px/mV, x runs from the box's left edge
        n0 = round(panel.t0_s * 500)
        expected_y = panel.baseline_y - page.record.lead(lead)[n0:n0 + len(xy)] * page.calibration.px_per_mv
        np.testing.assert_allclose(xy[:, 1], expected_y, atol=1e-6)
        assert xy[0, 0] == pytest.approx(panel.box[0], abs=1.0)
        for i in rng.choice(len(xy), size=40, replace=False):
            x, y = np.round(xy[i]).astype(int)
            assert ink[y - 1:y + 2, x - 1:x + 2].any(), (key, i)
            assert page.trace_mask[y - 1:y + 2, x - 1:x + 2].any(), (key, i)
    # the mask holds traces only: not the calibration pulses at the far left
    assert not page.trace_mask[:, : page.layout.panels[0].box[0] - 2].any()


def test_rendering_is_deterministic(sim: ECGRecord) -> None:
    a = render_ecg(sim, "6x2", dpi=60, seed=3, augment=["photo", "handwriting"])
    b = render_ecg(sim, "6x2", dpi=60, seed=3, augment=["photo", "handwriting"])
    c = render_ecg(sim, "6x2", dpi=60, seed=4, augment=["photo", "handwriting"])
    assert a.image.tobytes() == b.image.tobytes()
    np.testing.assert_array_equal(a.transform, b.transform)
    assert a.image.tobytes() != c.image.tobytes()
    # without augmentation the seed changes nothing: the clean page is fully defined by the record
    assert render_ecg(sim, "6x2", dpi=60, seed=1).image.tobytes() == render_ecg(sim, "6x2", dpi=60, seed=2).image.tobytes()


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_every_augmentation(page, name: str) -> None:
    img, transform = augment(page.image, [name], seed=7)
    assert img.shape == page.image.shape and img.dtype == np.uint8
    assert not np.array_equal(img, page.image)
    assert transform.shape == (3, 3)
    if name in ("rotation", "perspective", "photo"):
        assert not np.allclose(transform, np.eye(3))
    else:
        np.testing.assert_array_equal(transform, np.eye(3))
    # the homography carries the ground truth: mapped trace samples still land on ink
    xy = np.concatenate(list(page.traces.values()))[::25]
    mapped = np.c_[xy, np.ones(len(xy))] @ transform.T
    mapped = np.round(mapped[:, :2] / mapped[:, 2:]).astype(int)
    h, w = img.shape[:2]
    inside = (mapped[:, 0] > 2) & (mapped[:, 0] < w - 3) & (mapped[:, 1] > 2) & (mapped[:, 1] < h - 3)
    grey = img.astype(int).sum(axis=2) / 3
    darkest = np.array([grey[y - 2:y + 3, x - 2:x + 3].min() for x, y in mapped[inside]])
    assert inside.mean() > 0.6
    assert np.mean(darkest < 120) > 0.9, name


def test_render_applies_augmentations_and_records_the_transform(sim: ECGRecord) -> None:
    clean = render_ecg(sim, "3x4", dpi=60)
    out = render_ecg(sim, "3x4", dpi=60, augment=["rotation"], augment_strength=0.5, seed=2)
    assert out.augmentations == ["rotation"] and not np.allclose(out.transform, np.eye(3))
    np.testing.assert_array_equal(out.trace_mask, clean.trace_mask)  # ground truth stays on the clean page
    img, transform = augment(clean.image, ["rotation"], seed=2, strength=0.5)
    assert img.tobytes() == out.image.tobytes()
    np.testing.assert_array_equal(transform, out.transform)


def test_bad_augmentation_requests_are_refused(page, sim: ECGRecord) -> None:
    with pytest.raises(InputError, match="'coffee-stain'.*Choose from: rotation"):
        augment(page.image, ["blur", "coffee-stain"], seed=0)
    with pytest.raises(InputError, match="Unknown image augmentation"):
        render_ecg(sim, dpi=60, augment=["sepia"])
    with pytest.raises(InputError, match="strength"):
        augment(page.image, ["blur"], seed=0, strength=-1)
    with pytest.raises(InputError, match="8-bit RGB"):
        augment(page.image.astype(float), ["blur"], seed=0)


def test_bad_render_requests_are_refused(sim: ECGRecord) -> None:
    with pytest.raises(InputError, match="Unknown ECG layout '4x3'"):
        render_ecg(sim, "4x3")
    with pytest.raises(InputError, match="cannot hold 10 s"):
        render_ecg(sim, paper=(210, 297))  # portrait A4: 10 s at 25 mm/s is 250 mm
    with pytest.raises(InputError, match="Unknown baseline"):
        render_ecg(sim, baseline="wander")
    with pytest.raises(InputError, match="Unknown paper"):
        render_ecg(sim, paper="A5")
    only_x = ECGRecord(np.zeros((1000, 1)), 500, ["X"])
    with pytest.raises(InputError, match="none of the leads"):
        render_ecg(only_x)


def test_header_text_lines_leave_the_grid_unchanged(sim: ECGRecord) -> None:
    plain = render_ecg(sim, "3x4+1", dpi=DPI)
    header = {"Vent. rate": "72 BPM", "PR interval": "160 ms", "QRS duration": "92 ms", "Sinus rhythm": None}
    out = render_ecg(sim, "3x4+1", dpi=DPI, header_text=header)
    changed = np.flatnonzero((out.image != plain.image).any(axis=(1, 2)))
    assert changed.size and changed.max() < 25 * PPM  # text only above the grid
    assert [p.to_dict() for p in out.layout.panels] == [p.to_dict() for p in plain.layout.panels]
    bare = render_ecg(sim, "3x4+1", dpi=DPI, show_labels=False, show_calibration=False)
    assert dark(bare.image).sum() < dark(plain.image).sum()


def test_real_cinc2021_record(ecg_data) -> None:
    rec = read_ecg(ecg_data / "cinc2021" / "E07500.hea")
    out = render_ecg(rec, "3x4+1", dpi=DPI, baseline="none")
    assert out.layout.name == "3x4+1" and len(out.layout.panels) == 13
    assert out.record.leads == list(STANDARD_LEADS) and out.record.n_samples == 5000
    np.testing.assert_allclose(out.record.lead("V2"), rec.lead("V2"))  # 500 Hz, 10 s: drawn as recorded
    ink = dark(out.image)
    assert 0.005 < ink.mean() < 0.1  # a printed page: traces, not a blank or black page
    grey = out.image.max(axis=2)
    assert (grey[out.trace_mask] < 160).mean() > 0.8  # the mask lies on ink...
    assert out.trace_mask[ink].mean() > 0.75  # ...and covers most of it (the rest: labels, pulses, text)


def test_two_lead_record_renders_a_partial_page(ecg_data) -> None:
    """CPSC 2021 has leads I and II: the other limb leads are derived, the chest leads stay blank."""
    rec = read_ecg(ecg_data / "cpsc2021" / "data_21_7.hea")
    out = render_ecg(rec, "3x4+1", dpi=DPI)
    assert out.layout.name == "partial"
    assert [p.lead for p in out.layout.panels] == ["I", "aVR", "II", "aVL", "III", "aVF", "II"]
    assert out.record.leads == ["I", "II", "III", "aVR", "aVL", "aVF"]
    assert set(out.record.metadata["derived_leads"]) == {"III", "aVR", "aVL", "aVF"}
    assert out.record.fs == 500 and out.record.duration_s == pytest.approx(10.0)  # first 10 s of 236 s
    # lead II sits ~5 mV off zero in the file; the default baseline filter brings it back onto its row
    assert abs(np.median(rec.lead("II")[:2000])) > 3
    assert abs(np.median(out.record.lead("II"))) < 0.2
    assert out.record.metadata["baseline"] == "highpass"
    strip = out.layout.panels[-1]
    assert strip.rhythm_strip and strip.duration_s == pytest.approx(10.0)
    last_row = out.layout.panels[-2]  # aVF: the chest-lead columns above the rhythm strip are empty
    chest = out.image[: int(last_row.baseline_y + 5 * PPM), last_row.box[2] + 5:]
    assert not dark(chest).any()  # nothing drawn where V1-V6 would be


def test_short_record_and_gaps(sim: ECGRecord) -> None:
    short = sim.window(0, 4.0)
    out = render_ecg(short, "3x4", dpi=60)
    assert out.layout.name == "partial"
    assert sorted({p.t0_s for p in out.layout.panels}) == [0.0, 2.5]
    assert [p.duration_s for p in out.layout.panels if p.t0_s == 2.5] == pytest.approx([1.5] * 3)
    gappy = ECGRecord(np.where(np.arange(5000)[:, None] % 1000 < 100, np.nan, sim.signals), 500, sim.leads)
    out = render_ecg(gappy, "12x1", dpi=60)
    assert out.layout.name == "12x1" and np.isnan(out.traces["I"][:, 1]).any()
    low_rate = sim.resample(100)
    assert render_ecg(low_rate, "6x2", dpi=60).record.fs == 500
