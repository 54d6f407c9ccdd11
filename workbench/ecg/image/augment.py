"""Make a clean rendered page look like what users really upload: phone photos, poor scans, marked-up copies.

Each named augmentation is a function of (image, random generator, strength) that returns the new image
and the 3x3 homography it applied to pixel coordinates (identity for photometric ones). `augment` chains
them and composes the homographies, so ground-truth trace coordinates of the clean page can be mapped
onto the degraded image. Every step draws its randomness from ``(seed, position, name)``, so the same
call gives identical pixels, and changing one step's position or name does not reshuffle the others.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from ...errors import InputError

_Op = Callable[[np.ndarray, np.random.Generator, float], tuple[np.ndarray, np.ndarray]]

#: a phone photo of a printout: geometry first, then light, optics, sensor and compression, in that order
PHOTO_STEPS: tuple[str, ...] = ("perspective", "lighting", "blur", "noise", "jpeg")


def augment(image: np.ndarray, names: Sequence[str] | str, *, seed: int, strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Apply the named augmentations in order; returns (H x W x 3 uint8 RGB image, 3x3 homography).

    The homography maps pixel coordinates (x, y, 1) of the input image to the output image. ``strength``
    scales every effect (0 = none, 1 = typical, up to 3 = severe). Names: see `AUGMENTATIONS`.
    """
    names = check_names(names)
    if not (isinstance(strength, (int, float)) and 0.0 <= strength <= 3.0):
        raise InputError(f"Augmentation strength must be between 0 and 3, not {strength!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"The augmentation seed must be a non-negative integer, not {seed!r}.")
    img = _as_rgb(image)
    total = np.eye(3)
    for position, name in enumerate(names):
        for step in PHOTO_STEPS if name == "photo" else (name,):
            rng = np.random.default_rng([int(seed), position, zlib.crc32(step.encode())])
            img, matrix = _OPS[step](img, rng, float(strength))
            total = matrix @ total
    return img, total


def check_names(names: Sequence[str] | str) -> list[str]:
    """The names as a list (a single string is one name); unknown ones raise `InputError` before any work."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise InputError(f"Unknown image augmentation {', '.join(map(repr, unknown))}.",
                         hint=f"Choose from: {', '.join(AUGMENTATIONS)}.")
    return names


def _as_rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InputError(f"Expected an 8-bit RGB image, got an array of shape {arr.shape} and type {arr.dtype}.")
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def _scale(img: np.ndarray) -> float:
    """Image size relative to an A4 page at 200 dpi, so that blur and strokes look alike at every dpi."""
    return max(img.shape[:2]) / 2339.0


def _rotation(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """A crooked scan: the page turned by up to 15 degrees (x strength) about its centre, corners white."""
    h, w = img.shape[:2]
    angle = rng.uniform(-15.0, 15.0) * strength
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    return out, np.vstack([m, [0.0, 0.0, 1.0]])


def _perspective(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """A phone held above the page: the paper shrinks into the frame, keystoned, on a desk-coloured background."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    centre = np.float32([(w - 1) / 2.0, (h - 1) / 2.0])
    margin = min(0.4, rng.uniform(0.03, 0.08) * strength)  # fraction of the frame left around the paper per side
    shrink = 1.0 - 2.0 * margin
    # corners wander inside their margin only, so the whole page stays in the photo
    jitter = rng.uniform(-0.8, 0.8, size=(4, 2)) * margin * np.float32([w, h])
    top_squeeze = rng.uniform(0.0, 0.05) * strength * w  # camera tilted towards the page bottom: top edge shorter
    dst = centre + (src - centre) * shrink + jitter
    dst[0, 0] += top_squeeze
    dst[1, 0] -= top_squeeze
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    desk = tuple(float(c) for c in rng.uniform(70, 150) * np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.7, 0.95)]))
    out = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=desk)
    return out, m.astype(np.float64)


def _blur(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Defocus or a low-resolution scan: a Gaussian of about 1 px at 200 dpi."""
    sigma = rng.uniform(0.6, 1.4) * strength * max(_scale(img), 0.4)
    out = cv2.GaussianBlur(img, (0, 0), sigma) if sigma > 0.05 else img
    return out, np.eye(3)


def _noise(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Sensor noise: mostly luminance grain plus some colour noise."""
    h, w = img.shape[:2]
    sigma = rng.uniform(3.0, 8.0) * strength
    grain = rng.standard_normal((h, w, 1), dtype=np.float32) * sigma
    chroma = rng.standard_normal((h, w, 3), dtype=np.float32) * (0.4 * sigma)
    out = np.clip(img.astype(np.float32) + grain + chroma + 0.5, 0, 255).astype(np.uint8)
    return out, np.eye(3)


def _jpeg(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Messaging apps re-encode photos hard: blocking and ringing around thin lines (quality 15-40 at strength 1)."""
    quality = int(np.clip(round(90 - strength * rng.uniform(50, 75)), 5, 95))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        return img, np.eye(3)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), np.eye(3)


def _crease(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """A page folded once: a dark valley along a nearly straight line, shadow on one side, highlight on the other."""
    h, w = img.shape[:2]
    vertical = rng.random() < 0.6  # ECG printouts are mostly folded across their long side
    angle = np.deg2rad((90.0 if vertical else 0.0) + rng.uniform(-6, 6))
    px, py = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d = (xs - np.float32(px)) * np.float32(-np.sin(angle)) + (ys - np.float32(py)) * np.float32(np.cos(angle))
    width = np.float32(rng.uniform(0.004, 0.012) * max(h, w))  # d: signed distance to the fold, px
    near = np.minimum(np.abs(d), 20 * width)  # exp of huge values would overflow float32
    shade = np.where(d > 0, -0.22 * np.exp(-near / width), 0.08 * np.exp(-near / (2 * width)))  # shadow / lit side
    shade += -0.35 * np.exp(-((near / np.float32(max(1.0, 0.0012 * max(h, w)))) ** 2))  # the fold itself
    factor = 1.0 + np.float32(min(strength, 2.0)) * shade.astype(np.float32)
    out = np.clip(img.astype(np.float32) * factor[..., None] + 0.5, 0, 255).astype(np.uint8)
    return out, np.eye(3)


def _lighting(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Room light: a brightness gradient across the page, a vignette and a warm colour cast."""
    h, w = img.shape[:2]
    sh, sw = max(2, h // 8), max(2, w // 8)  # light varies slowly: compute coarse, then interpolate
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float64)
    ys, xs = ys / (sh - 1), xs / (sw - 1)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (xs - 0.5) * np.cos(theta) + (ys - 0.5) * np.sin(theta) + 0.5  # 0..1-ish along the light
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
    r2 = (xs - cx) ** 2 + (ys - cy) ** 2
    factor = (1.0 - strength * rng.uniform(0.12, 0.3) * ramp) * (1.0 - strength * rng.uniform(0.2, 0.5) * r2)
    factor = cv2.resize(np.clip(factor, 0.2, 1.0).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    tint = 1.0 - strength * np.array([0.0, rng.uniform(0.01, 0.05), rng.uniform(0.04, 0.12)], np.float32)
    out = img.astype(np.float32) * factor[..., None] * tint
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), np.eye(3)


def _handwriting(img: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """A reader's pen: a scribbled signature or note, a circle around something, an underline or tick."""
    h, w = img.shape[:2]
    out = img.copy()
    ink = (25, 45, 150) if rng.random() < 0.6 else (30, 30, 35)
    thickness = max(1, round(rng.uniform(2.0, 3.5) * _scale(img)))
    for _ in range(max(1, round(rng.integers(2, 6) * strength))):
        kind = rng.choice(["scribble", "circle", "line", "tick"])
        x0, y0 = rng.uniform(0.05, 0.85) * w, rng.uniform(0.05, 0.9) * h
        size = rng.uniform(0.03, 0.12) * w
        t = np.linspace(0.0, 1.0, 400)
        if kind == "scribble":  # cursive: loops moving to the right, with a wandering height
            loops = rng.integers(4, 10)
            r = size / loops * rng.uniform(0.35, 0.6)
            x = x0 + size * t - r * np.sin(2 * np.pi * loops * t)
            y = y0 - 1.6 * r * np.cos(2 * np.pi * loops * t) * (1 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
        elif kind == "circle":
            a, b = size * rng.uniform(0.5, 1.0), size * rng.uniform(0.3, 0.6)
            phi = 2 * np.pi * (1.08 * t) + rng.uniform(0, 2 * np.pi)
            wobble = 1 + 0.05 * np.sin(2 * np.pi * rng.uniform(2, 4) * t)
            x, y = x0 + a * wobble * np.cos(phi), y0 + b * wobble * np.sin(phi)
        elif kind == "line":
            x = x0 + size * 1.5 * t
            y = y0 + size * rng.uniform(-0.1, 0.1) * t + 0.01 * size * np.sin(2 * np.pi * 3 * t)
        else:
            x = x0 + size * 0.5 * np.where(t < 0.3, t, 0.3 + (t - 0.3) * 1.8)
            y = y0 + size * 0.5 * np.where(t < 0.3, t, 0.3 - (t - 0.3) * 1.4)
        pts = np.round(np.column_stack([x, y]) * 8).astype(np.int32)
        cv2.polylines(out, [pts], False, ink, thickness, cv2.LINE_AA, 3)
    return out, np.eye(3)


_OPS: dict[str, _Op] = {
    "rotation": _rotation,
    "perspective": _perspective,
    "blur": _blur,
    "noise": _noise,
    "jpeg": _jpeg,
    "crease": _crease,
    "lighting": _lighting,
    "handwriting": _handwriting,
}
#: every name `augment` accepts; "photo" is perspective + lighting + blur + noise + jpeg
AUGMENTATIONS: tuple[str, ...] = (*_OPS, "photo")
