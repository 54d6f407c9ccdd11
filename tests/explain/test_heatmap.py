"""Attention heatmaps: the maths on hand-made attentions, then end to end on a real ECG scan through the tiny
random-weight SigLIP exported by the workbench's own tool (the map's content is meaningless, its mechanics
- alignment, normalisation, overlay, per-lead shares - are what is checked)."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.ecg.image.types import Layout, LeadPanel
from workbench.errors import InputError
from workbench.explain.heatmap import (
    OUTSIDE,
    Heatmap,
    attention_rollout,
    explain_image,
    lead_attribution,
    map_head_heatmap,
    overlay,
    rollout_heatmap,
)
from workbench.models.encoder import EncoderOutput, VisionEncoder
from workbench.models.test_encoders import tiny_siglip_onnx


def _output(attentions: np.ndarray, map_attention: np.ndarray, grid: tuple[int, int]) -> EncoderOutput:
    patches = grid[0] * grid[1]
    return EncoderOutput(np.zeros(8, np.float32), np.zeros((patches, 8), np.float32), attentions, map_attention, grid,
                         "CPUExecutionProvider", (100, 100), 0.0)


def _random_attentions(rng: np.random.Generator, layers: int, heads: int, patches: int) -> np.ndarray:
    logits = rng.normal(size=(layers, heads, patches, patches)) * 2
    weights = np.exp(logits)
    return weights / weights.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def encoder() -> VisionEncoder:
    return VisionEncoder.load(tiny_siglip_onnx("none"), threads=2)


# ---------------------------------------------------------------------- maps
def test_map_head_heatmap_peaks_where_the_probe_looks():
    weights = np.full((3, 12), 0.05)
    weights[:, 7] = 0.45  # every head looks at patch 7 = row 1, column 3 of a 3 x 4 grid
    weights[0, 2] = 0.8
    weights /= weights.sum(1, keepdims=True)
    heat = map_head_heatmap(_output(np.zeros((1, 3, 12, 12)), weights, (3, 4)))
    assert heat.grid.shape == (3, 4) and np.unravel_index(heat.grid.argmax(), (3, 4)) == (1, 3)
    assert heat.grid.min() == 0.0 and heat.grid.max() == 1.0 and heat.mass.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(heat.mass.ravel(), weights.mean(0), atol=1e-7)
    strongest = map_head_heatmap(_output(np.zeros((1, 3, 12, 12)), weights, (3, 4)), head_fusion="max")
    assert np.unravel_index(strongest.grid.argmax(), (3, 4)) == (0, 2)  # head 0's sharp peak wins under max


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard", [0.0, 0.5])
def test_rollout_rows_sum_to_one(fusion, discard):
    attentions = _random_attentions(np.random.default_rng(0), 3, 4, 16)
    rolled = attention_rollout(attentions, fusion, discard)
    assert rolled.shape == (16, 16) and (rolled >= 0).all()
    np.testing.assert_allclose(rolled.sum(-1), 1.0, atol=1e-12)


def test_rollout_of_one_layer_is_half_attention_half_identity():
    attentions = _random_attentions(np.random.default_rng(1), 1, 2, 9)
    np.testing.assert_allclose(attention_rollout(attentions), 0.5 * attentions[0].mean(0) + 0.5 * np.eye(9), atol=1e-12)


def test_rollout_heatmap_is_the_pooling_row_of_the_rolled_matrix():
    rng = np.random.default_rng(2)
    attentions = _random_attentions(rng, 4, 3, 12)
    probe = rng.dirichlet(np.ones(12), size=3)
    out = _output(attentions, probe, (3, 4))
    rolled = attention_rollout(attentions)
    np.testing.assert_allclose(rollout_heatmap(out).mass.ravel(), probe.mean(0) @ rolled, atol=1e-6)
    np.testing.assert_allclose(rollout_heatmap(out, query="mean").mass.ravel(), rolled.mean(0), atol=1e-6)
    with pytest.raises(InputError, match="head fusion"):
        rollout_heatmap(out, head_fusion="median")  # type: ignore[arg-type]


def test_rollout_on_the_real_encoder(encoder):
    out = encoder.run(np.random.default_rng(3).integers(0, 256, (200, 400, 3), dtype=np.uint8))
    np.testing.assert_allclose(attention_rollout(out.attentions, "max", 0.9).sum(-1), 1.0, atol=1e-9)
    heat = rollout_heatmap(out)
    assert heat.grid.shape == (14, 14) and heat.method == "rollout" and heat.mass.sum() == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------- upsampling and overlay
def test_upsample_puts_each_patch_on_its_part_of_the_image():
    grid = np.zeros((4, 5), np.float32)
    grid[1, 3] = 1.0
    heat = Heatmap(grid, grid / grid.sum(), "map", "mean")
    full = heat.upsample(300, 1000, interpolation="nearest")
    assert full.shape == (300, 1000)
    ys, xs = np.nonzero(full)
    # the image was stretched to a square, so patch (1, 3) is rows 75..150 and columns 600..800 of the original
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (75, 149, 600, 799)
    for interpolation in ("bilinear", "cubic"):
        smooth = heat.upsample(300, 1000, interpolation=interpolation)
        y, x = np.unravel_index(smooth.argmax(), smooth.shape)
        assert 75 <= y < 150 and 600 <= x < 800 and 0.0 <= smooth.min() and smooth.max() <= 1.0
    with pytest.raises(InputError):
        heat.upsample(0, 10)


def test_overlay_shape_opacity_and_colour_maps():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    heat = Heatmap(rng.random((6, 10)).astype(np.float32), np.full((6, 10), 1 / 60, np.float32), "map", "mean")
    for name in ("jet", "inferno", "viridis"):
        blended = overlay(image, heat, colormap=name)
        assert blended.shape == image.shape and blended.dtype == np.uint8 and not np.array_equal(blended, image)
    assert np.array_equal(overlay(image, heat, opacity=0.0), image)
    full = heat.upsample(120, 200)
    only_colour = overlay(image, full, colormap="jet", opacity=1.0)
    assert np.array_equal(only_colour, overlay(np.zeros_like(image), full, colormap="jet", opacity=1.0))
    assert overlay(image[..., 0], full).shape == image.shape  # grey image in, RGB out
    with pytest.raises(InputError, match="colour map"):
        overlay(image, heat, colormap="rainbowish")
    with pytest.raises(InputError, match="opacity"):
        overlay(image, heat, opacity=1.5)


# ---------------------------------------------------------------------- lead attribution
def _layout() -> Layout:
    panels = [LeadPanel("I", (0, 0, 100, 60), 30, 0.0, 5.0), LeadPanel("V1", (100, 0, 200, 60), 30, 5.0, 5.0),
              LeadPanel("II", (0, 50, 100, 110), 80, 0.0, 5.0), LeadPanel("V2", (100, 50, 200, 110), 80, 5.0, 5.0),
              LeadPanel("II", (0, 110, 200, 150), 130, 0.0, 10.0, rhythm_strip=True)]
    return Layout("hand-made", panels)


def test_lead_attribution_finds_the_hot_panel():
    heat = np.full((170, 220), 0.01)
    heat[10:40, 120:180] = 1.0  # inside V1 only
    shares = lead_attribution(heat, _layout())
    assert set(shares) == {"I", "V1", "II", "V2", "II (rhythm)", OUTSIDE}
    assert max(shares, key=shares.get) == "V1" and shares["V1"] > 0.8
    assert sum(shares.values()) == pytest.approx(1.0) and shares[OUTSIDE] > 0  # the margins hold heat too


def test_lead_attribution_counts_overlapping_boxes_once():
    heat = np.zeros((150, 200))
    heat[50:60, :100] = 1.0  # rows shared by the boxes of I (baseline 30) and II (baseline 80)
    shares = lead_attribution(heat, _layout())
    # rows 50-55 are nearer I's baseline (55 is a tie: the first panel keeps it), rows 56-59 nearer II's
    assert shares["I"] == pytest.approx(0.6) and shares["II"] == pytest.approx(0.4) and shares[OUTSIDE] == 0.0
    assert sum(v for k, v in shares.items() if k != OUTSIDE) <= 1.0 + 1e-12
    nothing = lead_attribution(np.zeros((150, 200)), _layout())
    assert nothing[OUTSIDE] == 1.0 and nothing["I"] == 0.0


# ---------------------------------------------------------------------- end to end on a real scan
def test_explain_a_real_scan_with_its_digitized_layout(encoder, ecg_data):
    from workbench.ecg.image import digitize_file

    path = ecg_data.parent / "images" / "scans" / "ecg00001.png"
    layout = digitize_file(path, read_text=False).layout
    for method in ("map", "rollout"):
        result = explain_image(encoder, path, method=method, layout=layout, colormap="inferno")
        height, width = result.overlay.shape[:2]
        assert result.overlay.dtype == np.uint8 and result.full_res.shape == (height, width) and (height, width) == (1580, 3167)
        assert result.heatmap.method == method and 0.0 <= result.full_res.min() and result.full_res.max() <= 1.0
        leads = {p.lead for p in layout.panels}
        assert leads <= set(result.attribution) and OUTSIDE in result.attribution
        assert sum(result.attribution.values()) == pytest.approx(1.0)
        # the twelve panels and the rhythm strip cover most of the page: most attention mass lands on leads
        assert result.attribution[OUTSIDE] < 0.5
        assert {"encoder_s", "heatmap_s", "overlay_s", "attribution_s", "total_s"} <= set(result.timings)
        assert result.to_dict()["grid"] == [14, 14]
