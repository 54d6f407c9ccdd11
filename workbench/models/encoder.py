"""The SigLIP / MedSigLIP vision encoder at run time: onnxruntime only (no torch), preprocessing from the sidecar.

    >>> encoder = VisionEncoder.from_manifest()          # role "vision_encoder" in models/models.toml
    >>> out = encoder.run(rgb_image)                      # pooled embedding + attention maps
    >>> out.map_attention.shape                           # (heads, patches)

The ``.onnx`` file is made by `workbench.models.encoder_export.export_encoder`; the ``.json`` next to it says
how images must be resized and normalised, so the runtime repeats exactly what the checkpoint was trained with.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..config import get_settings
from ..errors import InputError, ModelError
from .encoder_export import OUTPUT_NAMES, RESAMPLE_NAMES, SIDECAR_FORMAT, sidecar_path_for

log = logging.getLogger(__name__)

ImageLike = np.ndarray | Image.Image
_PIL_FILTERS = {"nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR,
                "bicubic": Image.Resampling.BICUBIC, "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING}
_SIDECAR_KEYS = ("image_size", "mean", "std", "resample", "patch_size", "grid", "layers", "heads")


@dataclass
class EncoderOutput:
    """One image through the encoder (batch axis removed). ``grid`` is (rows, cols) of patches, row-major in P."""

    pooled: np.ndarray  # (D,)
    last_hidden_state: np.ndarray  # (P, D)
    attentions: np.ndarray  # (layers, heads, P, P), each row a probability distribution
    map_attention: np.ndarray  # (heads, P), the pooling head's weights over patches
    grid: tuple[int, int]
    provider: str
    image_size: tuple[int, int]  # (height, width) of the image given, before resizing
    seconds: float  # onnxruntime call only


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes ``pixel_values`` (from the sidecar JSON)."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resample: str = "bicubic"
    rescale_factor: float = 1 / 255


class VisionEncoder:
    """An exported SigLIP vision tower in an onnxruntime session, with its preprocessing."""

    def __init__(self, session: Any, sidecar: dict[str, Any], path: Path) -> None:
        self.session = session
        self.sidecar = sidecar
        self.path = path
        self.preprocessing = Preprocessing(int(sidecar["image_size"]), tuple(sidecar["mean"]), tuple(sidecar["std"]),
                                           sidecar["resample"], float(sidecar.get("rescale_factor", 1 / 255)))
        self.grid: tuple[int, int] = (int(sidecar["grid"][0]), int(sidecar["grid"][1]))
        self.provider: str = session.get_providers()[0]

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path, providers: Sequence[str] | None = None, *, threads: int | None = None) -> VisionEncoder:
        """Open ``path`` (.onnx + its .json sidecar); CUDA when onnxruntime has it, else CPU with the configured threads."""
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"The vision encoder file {path} does not exist.",
                             hint="Export it with `workbench models export-encoder` or copy it into the models folder.")
        sidecar = read_sidecar(path)
        if path.stat().st_size == 0:
            raise ModelError(f"{path.name} is empty (an interrupted copy?).", hint="Copy or export the file again.")
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or get_settings().n_threads
        options.log_severity_level = 3  # onnxruntime's own warnings are not for the clinician
        try:
            session = ort.InferenceSession(str(path), options, providers=list(providers))
        except Exception as exc:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
            raise ModelError(f"{path.name} is not a readable ONNX model: it may be damaged, incomplete or another kind of file.",
                             hint=f"Copy or export it again. (onnxruntime said: {str(exc).splitlines()[0][:200]})") from exc
        _check_graph(session, sidecar, path)
        return cls(session, sidecar, path)

    @classmethod
    def from_manifest(cls, models_dir: Path | None = None, providers: Sequence[str] | None = None, *,
                      name: str | None = None) -> VisionEncoder:
        """The verified "vision_encoder" file of models/models.toml (size and SHA-256 checked before loading)."""
        from .manifest import require

        return cls.load(require("vision_encoder", models_dir, name=name).path, providers)

    # ------------------------------------------------------------------ inference
    def preprocess(self, image: ImageLike) -> np.ndarray:
        """RGB image -> (1, 3, S, S) float32: resize to S x S with the checkpoint's filter (the whole image,
        stretched, as SigLIP's processor does: no crop, no padding), scale to 0..1, normalise with mean/std."""
        pre = self.preprocessing
        picture = as_pil_rgb(image)
        resized = picture.resize((pre.image_size, pre.image_size), resample=_PIL_FILTERS[pre.resample], reducing_gap=None)
        pixels = np.asarray(resized, dtype=np.float32) * np.float32(pre.rescale_factor)
        pixels = (pixels - np.asarray(pre.mean, np.float32)) / np.asarray(pre.std, np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])

    def run(self, image: ImageLike) -> EncoderOutput:
        """Embedding and attention maps of one RGB image."""
        picture = as_pil_rgb(image)
        pixel_values = self.preprocess(picture)
        start = time.perf_counter()
        pooled, last, attentions, weights = self.session.run(list(OUTPUT_NAMES), {"pixel_values": pixel_values})
        seconds = time.perf_counter() - start
        return EncoderOutput(pooled[0], last[0], attentions[0], weights[0], self.grid, self.provider,
                             (picture.height, picture.width), seconds)

    def describe(self) -> dict[str, Any]:
        """What is loaded, for `workbench models` and the UI."""
        keys = ("source", "quantization", "image_size", "patch_size", "grid", "layers", "heads", "hidden_size")
        return {"path": str(self.path), "provider": self.provider, **{k: self.sidecar.get(k) for k in keys}}


_SHARED: dict[tuple[str, str | None, str, int, int], VisionEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(name: str | None = None) -> VisionEncoder:
    """One open session per encoder file and process: creating a MedSigLIP session takes seconds, and
    onnxruntime sessions may be run from several threads at once. The file is verified on every call (the hash
    is cached by size and time), and a replaced file is opened anew."""
    from .manifest import require

    status = require("vision_encoder", name=name)
    stat = status.path.stat()
    key = (str(get_settings().models_dir), name, str(status.path), stat.st_size, stat.st_mtime_ns)
    with _SHARED_LOCK:
        if key not in _SHARED:
            for old in [k for k in _SHARED if k[:2] == key[:2]]:
                del _SHARED[old]
            _SHARED[key] = VisionEncoder.load(status.path)
        return _SHARED[key]


# ====================================================================== helpers
def read_sidecar(onnx_path: Path) -> dict[str, Any]:
    """The preprocessing JSON next to the model, validated; ModelError in plain words otherwise."""
    side = sidecar_path_for(onnx_path)
    redo = "Export the encoder again with `workbench models export-encoder`; it writes both files."
    if not side.is_file():
        raise ModelError(f"{Path(onnx_path).name} has no preprocessing file {side.name} next to it, so images cannot be "
                         "prepared the way the model expects.", hint=redo)
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"The preprocessing file {side.name} cannot be read ({exc}).", hint=redo) from exc
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise ModelError(f"{side.name} is not a workbench vision-encoder description.", hint=redo)
    missing = [k for k in _SIDECAR_KEYS if k not in data]
    if missing:
        raise ModelError(f"{side.name} lacks {', '.join(missing)}.", hint=redo)
    try:
        valid = (int(data["image_size"]) > 0 and len(data["mean"]) == 3 and len(data["std"]) == 3 and min(data["std"]) > 0
                 and len(data["grid"]) == 2 and data["resample"] in RESAMPLE_NAMES.values())
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ModelError(f"{side.name} has invalid values (image_size, mean, std, grid or resample).", hint=redo)
    return data


def _check_graph(session: Any, sidecar: dict[str, Any], path: Path) -> None:
    """The ONNX file is a workbench encoder (right input and outputs) and agrees with its sidecar."""
    outputs = {o.name for o in session.get_outputs()}
    inputs = session.get_inputs()
    missing = [n for n in OUTPUT_NAMES if n not in outputs]
    if missing or [i.name for i in inputs] != ["pixel_values"]:
        what = f"lacks the outputs {', '.join(missing)}" if missing else "does not take a single 'pixel_values' input"
        raise ModelError(f"{path.name} is an ONNX model but not a workbench vision encoder (it {what}).",
                         hint="Use a file made by `workbench models export-encoder`.")
    shape = inputs[0].shape
    size = int(sidecar["image_size"])
    if len(shape) != 4 or any(isinstance(d, int) and d != want for d, want in zip(shape[1:], (3, size, size))):
        raise ModelError(f"{path.name} expects input {shape}, but its preprocessing file says {size} x {size} px.",
                         hint="The .onnx and .json files come from different exports; export again.")


def as_pil_rgb(image: ImageLike) -> Image.Image:
    """An RGB PIL image from a PIL image or an (H, W[, 3|4]) uint8 array; InputError otherwise."""
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    if not isinstance(image, np.ndarray):
        raise InputError(f"Expected an image (array or PIL picture), got {type(image).__name__}.")
    if image.dtype != np.uint8:
        raise InputError(f"Expected 8-bit pixels (uint8), got {image.dtype}.", hint="Load the image with the workbench's image loader.")
    if image.ndim == 2:
        return Image.fromarray(image, "L").convert("RGB")
    if image.ndim == 3 and image.shape[2] in (3, 4) and min(image.shape[:2]) > 0:
        return Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")
    raise InputError(f"Expected an H x W x 3 RGB image, got an array of shape {image.shape}.")

