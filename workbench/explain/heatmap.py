"""Where the vision encoder looked: attention heatmaps over an ECG image, and how that attention splits by lead.

Two maps from one `EncoderOutput`:

* ``map``: the weights of SigLIP's attention-pooling (MAP) head over the patches. The image embedding *is*
  the weighted sum of the final patch tokens with these weights, so this is the most direct answer to
  "which patches fed the embedding" - but only at the last layer, after 12-27 layers of mixing.
* ``rollout``: attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"):
  each layer's head-fused attention plus the identity (the residual connection), rows renormalised, multiplied
  through the layers, so the flow is traced back to the input patches. See `rollout_heatmap` for how the
  missing CLS token is handled.

Both are explanations of attention, not proof of causation: they show where information came from, not why
a finding was made. Lead attribution then says what share of that attention lies in each lead's panel.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
from PIL import Image

from ..ecg.image.types import Layout
from ..errors import InputError

if TYPE_CHECKING:
    from ..models.encoder import EncoderOutput, VisionEncoder

Method = Literal["map", "rollout"]
HeadFusion = Literal["mean", "max", "min"]
OUTSIDE = "outside"
_INTERPOLATION = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


@dataclass
class Heatmap:
    """A patch-grid heatmap. ``grid`` is scaled to 0..1 for display; ``mass`` is the attention share of each
    patch (non-negative, sums to 1) for measuring, e.g. how much attention a lead's panel received."""

    grid: np.ndarray  # (rows, cols) float32 in [0, 1]
    mass: np.ndarray  # (rows, cols) float32 >= 0, sum 1
    method: str
    head_fusion: str

    def upsample(self, height: int, width: int, *, interpolation: Literal["bilinear", "cubic", "nearest"] = "bilinear",
                 values: Literal["grid", "mass"] = "grid") -> np.ndarray:
        """The map at image resolution (height x width float32).

        The encoder's preprocessing stretches the *whole* image to S x S (no crop, no padding), so patch
        (i, j) covers rows i*H/rows .. (i+1)*H/rows and columns j*W/cols .. (j+1)*W/cols of the original:
        a plain resize with pixel-centre alignment (what cv2.resize does) puts each patch value at that
        cell's centre, whatever the aspect ratio. ``values="mass"`` upsamples the attention shares instead
        (each image pixel then holds the density of its patch; proportional sums stay right).
        """
        if height < 1 or width < 1:
            raise InputError(f"The heatmap size must be positive (got {width} x {height}).")
        if interpolation not in _INTERPOLATION:
            raise InputError(f"Unknown interpolation '{interpolation}'.", hint=f"Use one of: {', '.join(_INTERPOLATION)}.")
        if values not in ("grid", "mass"):
            raise InputError(f"Unknown heatmap values '{values}'.", hint="Use 'grid' (0..1 display) or 'mass' (attention shares).")
        source = self.grid if values == "grid" else self.mass
        full = cv2.resize(source.astype(np.float32), (int(width), int(height)), interpolation=_INTERPOLATION[interpolation])
        return np.clip(full, 0.0, 1.0 if values == "grid" else None)  # cubic overshoots; attention is never negative

    def to_dict(self) -> dict[str, Any]:
        """The patch grid as plain lists (a few thousand numbers), so a stored run redraws its map without the encoder."""
        return {"method": self.method, "head_fusion": self.head_fusion, "heat": np.round(self.grid, 4).tolist(),
                "mass": np.round(self.mass, 7).tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Heatmap:
        grid, mass = np.asarray(data["heat"], dtype=np.float32), np.asarray(data["mass"], dtype=np.float32)
        if grid.ndim != 2 or grid.shape != mass.shape or grid.size == 0:
            raise InputError("The stored heatmap is damaged (its grid and attention shares do not match).")
        return cls(grid, mass, str(data.get("method", "map")), str(data.get("head_fusion", "mean")))


@dataclass
class HeatmapResult:
    """`explain_image`'s answer: the map, the picture to show, the per-lead split and where the time went."""

    heatmap: Heatmap
    full_res: np.ndarray  # H x W float32 0..1, aligned with the image
    overlay: np.ndarray  # H x W x 3 uint8 RGB
    attribution: dict[str, float] | None
    timings: dict[str, float] = field(default_factory=dict)
    provider: str = ""

    def save(self, path: str | Path) -> Path:
        """Write the overlay picture (PNG, JPEG... by the file's extension)."""
        path = Path(path)
        try:
            Image.fromarray(self.overlay).save(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"The heatmap picture cannot be written to {path} ({exc}).",
                             hint="Check the folder exists and the name ends in .png or .jpg.") from exc
        return path

    def to_dict(self) -> dict[str, Any]:
        return {**self.heatmap.to_dict(), "grid": list(self.heatmap.grid.shape), "attribution": self.attribution,
                "timings_s": {k: round(v, 4) for k, v in self.timings.items()}, "provider": self.provider}


# ====================================================================== maps
def map_head_heatmap(out: EncoderOutput, head_fusion: HeadFusion = "mean") -> Heatmap:
    """The attention-pooling head's weights over the patches, heads fused by mean (default) or max."""
    weights = _fuse(np.asarray(out.map_attention, np.float64), head_fusion, axis=0)  # (P,)
    return _heatmap(weights, out.grid, "map", head_fusion)


def attention_rollout(attentions: np.ndarray, head_fusion: HeadFusion = "mean", discard_ratio: float = 0.0) -> np.ndarray:
    """The rolled-out (P, P) matrix R = A_L ... A_1 with A_l = rownorm(0.5 * fused_l + 0.5 * I).

    Row i of R is how much each input patch contributes to output token i; every row sums to 1.
    Costs L - 1 products of P x P matrices; the heatmaps themselves only need vector products (`rollout_heatmap`).
    """
    rolled = None
    for matrix in _layer_matrices(attentions, head_fusion, discard_ratio):
        rolled = matrix if rolled is None else matrix @ rolled
    if rolled is None:
        raise InputError("The encoder output holds no attention layers.")
    return rolled


def rollout_heatmap(out: EncoderOutput, head_fusion: HeadFusion = "mean", discard_ratio: float = 0.0,
                    query: Literal["map", "mean"] = "map") -> Heatmap:
    """Attention rollout to the input patches, read out through the pooling head.

    Rollout was defined for ViTs with a CLS token, whose row of R is the map. SigLIP has none: the image
    embedding is the MAP head's weighted sum of the final tokens, so by default (``query="map"``) the map is
    m^T R, with m the head's (head-fused) weights - the attention flow *into the embedding*, the same
    quantity the CLS row measures in a ViT. ``query="mean"`` averages all rows of R instead (attention flow
    into the average token): it ignores which tokens the pooling selects, so it says less about the
    embedding; kept for comparison. Computed right to left as vector-matrix products (L x P^2, not L x P^3).
    ``discard_ratio`` zeroes that fraction of the weakest attention weights of each row before rollout
    (the noise filter of the original implementations); 0 keeps all.
    """
    count = out.attentions.shape[-1]
    if query == "map":
        vector = _fuse(np.asarray(out.map_attention, np.float64), head_fusion, axis=0)
        vector = vector / vector.sum()
    elif query == "mean":
        vector = np.full(count, 1.0 / count)
    else:
        raise InputError(f"Unknown rollout query '{query}'.", hint="Use 'map' or 'mean'.")
    for matrix in _layer_matrices(out.attentions[::-1], head_fusion, discard_ratio):  # last layer first
        vector = vector @ matrix
    return _heatmap(vector, out.grid, "rollout", head_fusion)


def heatmap_for(out: EncoderOutput, method: Method = "map", head_fusion: HeadFusion = "mean",
                discard_ratio: float = 0.0) -> Heatmap:
    """`map_head_heatmap` or `rollout_heatmap` by name (the CLI's --method)."""
    if method == "map":
        return map_head_heatmap(out, head_fusion)
    if method == "rollout":
        return rollout_heatmap(out, head_fusion, discard_ratio)
    raise InputError(f"Unknown heatmap method '{method}'.", hint="Use 'map' or 'rollout'.")


# ====================================================================== pictures and numbers
def colormaps() -> list[str]:
    """Names `overlay` accepts (OpenCV's colour maps)."""
    return sorted(name[len("COLORMAP_"):].lower() for name in dir(cv2) if name.startswith("COLORMAP_"))


def overlay(image: np.ndarray, heatmap: Heatmap | np.ndarray, colormap: str = "jet", opacity: float = 0.45) -> np.ndarray:
    """The image with the heatmap blended over it in colour (RGB uint8, same size as the image).

    ``heatmap`` may be a `Heatmap` or an array of values in 0..1 (any size: it is resized to the image).
    ``opacity`` 0 gives the image unchanged, 1 the colour map alone.
    """
    rgb = _rgb_uint8(image)
    if not 0.0 <= opacity <= 1.0:
        raise InputError(f"The opacity must be between 0 and 1 (got {opacity}).")
    code = getattr(cv2, f"COLORMAP_{colormap.upper()}", None)
    if code is None:
        raise InputError(f"Unknown colour map '{colormap}'.", hint=f"Use one of: {', '.join(colormaps())}.")
    height, width = rgb.shape[:2]
    if isinstance(heatmap, Heatmap):
        values = heatmap.upsample(height, width)
    else:
        values = np.asarray(heatmap, np.float32)
        if values.ndim != 2:
            raise InputError(f"Expected a 2-D heatmap, got shape {values.shape}.")
        if values.shape != (height, width):
            values = cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)
    if opacity == 0.0:
        return rgb.copy()
    levels = np.clip(np.nan_to_num(values) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(levels, code), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb, 1.0 - opacity, colour, opacity, 0.0)


def lead_attribution(heatmap_full_res: np.ndarray, layout: Layout) -> dict[str, float]:
    """Share of the total heat inside each lead's panel box, plus ``"outside"`` for the rest.

    Shares are measured against the heat over the *whole* image and the remainder is reported, not spread
    over the leads: heat on the printed header (the device's own measurements and interpretation), lead
    labels, calibration pulses or margins belongs to no lead, and hiding it would overstate how much the
    model looked at the traces - a model reading the printed interpretation is exactly what a reviewer must
    see. Boxes that overlap (trace excursions) give each pixel to the panel whose baseline is nearest, so no
    heat counts twice: lead shares sum to at most 1 and, with ``outside``, to 1. A lead drawn twice (short
    panel and rhythm strip) has its strip reported as ``"<lead> (rhythm)"``. Boxes are in the digitizer's
    pixel frame, which is the image's own for scans (it differs slightly for photographed, rotated pages).
    Pass the attention mass (``Heatmap.upsample(..., values="mass")``) for shares of attention, or a 0..1
    display map for shares of the drawn heat.
    """
    heat = np.clip(np.nan_to_num(np.asarray(heatmap_full_res, np.float64)), 0.0, None)
    if heat.ndim != 2:
        raise InputError(f"Expected a 2-D heatmap at image resolution, got shape {heat.shape}.")
    height, width = heat.shape
    owner = np.full((height, width), -1, np.int16)
    distance = np.full((height, width), np.inf, np.float32)
    names = [f"{p.lead} (rhythm)" if p.rhythm_strip else p.lead for p in layout.panels]
    for index, panel in enumerate(layout.panels):
        x0, y0, x1, y1 = (int(round(v)) for v in panel.box)
        x0, x1 = max(0, min(x0, x1)), min(width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(height, max(y0, y1))
        if x1 <= x0 or y1 <= y0:
            continue
        rows = np.abs(np.arange(y0, y1, dtype=np.float32) - np.float32(panel.baseline_y))[:, None]
        closer = rows < distance[y0:y1, x0:x1]
        distance[y0:y1, x0:x1] = np.where(closer, rows, distance[y0:y1, x0:x1])
        owner[y0:y1, x0:x1][closer] = index
    total = heat.sum()
    shares = {name: 0.0 for name in names}
    if total <= 0:
        return {**shares, OUTSIDE: 1.0}
    per_panel = np.bincount(owner.ravel() + 1, weights=heat.ravel(), minlength=len(names) + 1) / total
    for index, name in enumerate(names):
        shares[name] += float(per_panel[index + 1])
    shares[OUTSIDE] = float(per_panel[0])
    return shares


# ====================================================================== one call
def explain_image(encoder: VisionEncoder, image: np.ndarray | Image.Image | str | Path, method: Method = "map",
                  layout: Layout | None = None, *, head_fusion: HeadFusion = "mean", discard_ratio: float = 0.0,
                  colormap: str = "jet", opacity: float = 0.45) -> HeatmapResult:
    """Encoder run, heatmap, overlay and (with a layout) lead attribution for one ECG image.

    ``image`` may be a path (read with the digitizer's own loader, so a layout from `digitize_file` on the
    same file lines up), an RGB uint8 array or a PIL image. Attribution uses the attention mass.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    rgb = _load(image)
    timings["load_s"] = time.perf_counter() - start
    mark = time.perf_counter()
    out = encoder.run(rgb)
    timings["encoder_s"] = time.perf_counter() - mark
    timings["onnxruntime_s"] = out.seconds
    mark = time.perf_counter()
    heatmap = heatmap_for(out, method, head_fusion, discard_ratio)
    height, width = rgb.shape[:2]
    full_res = heatmap.upsample(height, width)
    timings["heatmap_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    picture = overlay(rgb, full_res, colormap, opacity)
    timings["overlay_s"] = time.perf_counter() - mark
    attribution = None
    if layout is not None:
        mark = time.perf_counter()
        attribution = lead_attribution(heatmap.upsample(height, width, values="mass"), layout)
        timings["attribution_s"] = time.perf_counter() - mark
    timings["total_s"] = time.perf_counter() - start
    return HeatmapResult(heatmap, full_res, picture, attribution, timings, out.provider)


# ====================================================================== internals
def _fuse(values: np.ndarray, head_fusion: str, axis: int) -> np.ndarray:
    if head_fusion == "mean":
        return values.mean(axis=axis)
    if head_fusion == "max":
        return values.max(axis=axis)
    if head_fusion == "min":
        return values.min(axis=axis)
    raise InputError(f"Unknown head fusion '{head_fusion}'.", hint="Use 'mean', 'max' or 'min'.")


def _layer_matrices(attentions: np.ndarray, head_fusion: str, discard_ratio: float) -> Iterator[np.ndarray]:
    """Per layer, first to last, the (P, P) rollout matrix: heads fused, weakest weights dropped, identity added,
    rows normalised. One layer at a time: a float64 copy of base-448's attentions would take 1.2 GB."""
    attentions = np.asarray(attentions)
    if attentions.ndim != 4 or attentions.shape[-1] != attentions.shape[-2]:
        raise InputError(f"Expected attentions of shape (layers, heads, P, P), got {attentions.shape}.")
    if not 0.0 <= discard_ratio < 1.0:
        raise InputError(f"discard_ratio must be in [0, 1) (got {discard_ratio}).")
    count = attentions.shape[-1]
    drop = int(discard_ratio * count)
    diagonal = np.arange(count)
    for layer in attentions:
        fused = _fuse(layer, head_fusion, axis=0).astype(np.float64)
        if drop:
            cut = np.partition(fused, drop - 1, axis=-1)[:, drop - 1:drop]  # per-row threshold
            fused = np.where(fused > cut, fused, 0.0)
        fused *= 0.5
        fused[diagonal, diagonal] += 0.5
        fused /= fused.sum(axis=-1, keepdims=True)
        yield fused


def _heatmap(values: np.ndarray, grid: tuple[int, int], method: str, head_fusion: str) -> Heatmap:
    rows, cols = grid
    if values.size != rows * cols:
        raise InputError(f"{values.size} patch values do not fill a {rows} x {cols} grid.")
    values = np.clip(values.reshape(rows, cols), 0.0, None)
    total = values.sum()
    mass = values / total if total > 0 else np.full_like(values, 1.0 / values.size)
    low, high = values.min(), values.max()
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return Heatmap(scaled.astype(np.float32), mass.astype(np.float32), method, head_fusion)


def _rgb_uint8(image: np.ndarray | Image.Image) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise InputError(f"Expected 8-bit pixels (uint8), got {array.dtype}.")
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return np.ascontiguousarray(array[..., :3])
    raise InputError(f"Expected an H x W x 3 RGB image, got an array of shape {array.shape}.")


def _load(image: np.ndarray | Image.Image | str | Path) -> np.ndarray:
    if isinstance(image, (str, Path)):
        from ..ecg.image.loading import load_image

        return load_image(image).image
    return _rgb_uint8(image)
