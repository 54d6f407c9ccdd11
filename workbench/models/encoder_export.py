"""Export a local SigLIP / MedSigLIP vision tower to ONNX with the attention maps the heatmaps need.

The workbench runs the encoder with onnxruntime only; torch and transformers are needed here, at export
time, and never at run time. The exported graph takes ``pixel_values`` (N, 3, H, W float32) and returns

* ``pooled`` (N, D): the attention-pooled image embedding (what SigLIP compares with text),
* ``last_hidden_state`` (N, P, D): the patch tokens after the final layer norm,
* ``attentions`` (N, layers, heads, P, P): every self-attention probability matrix, for attention rollout,
* ``map_attention`` (N, heads, P): the weights of the multihead-attention pooling (MAP) head over patches.

SigLIP has no CLS token: its image embedding is a learned probe attending over the patches, so the MAP
head's weights are the most direct "where did the model look" signal. They are computed in the wrapper with
the head's own projections (nn.MultiheadAttention with ``need_weights`` does not export reliably), and the
wrapper checks that its pooled output equals transformers' own before anything is written.
A JSON sidecar ``<name>.json`` next to the ``.onnx`` carries the preprocessing the runtime must repeat.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import InputError, ModelError

log = logging.getLogger(__name__)

Quantize = Literal["none", "int8", "int4"]
QUANTIZE_CHOICES: tuple[str, ...] = ("none", "int8", "int4")
OUTPUT_NAMES: tuple[str, ...] = ("pooled", "last_hidden_state", "attentions", "map_attention")
OPSET = 17
SIDECAR_FORMAT = "workbench-vision-encoder"
SIDECAR_VERSION = 1
#: PIL's resampling codes, as written in Hugging Face preprocessor_config.json files
RESAMPLE_NAMES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
_SIGLIP_TYPES = ("siglip", "siglip_vision_model")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
#: largest |ONNX - torch| accepted on the pooled embedding of the fp32 export (float32 reordering only)
_CHECK_ATOL = 1e-3


@dataclass
class ExportReport:
    """What `export_encoder` wrote, so the CLI can print it and the manifest entry can be filled in."""

    onnx_path: Path
    sidecar_path: Path
    sizes_bytes: dict[str, int]
    opset: int
    seconds: float
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    quantize: str
    source: str
    grid: tuple[int, int]
    layers: int
    heads: int
    #: largest |ONNX - torch| on the pooled embedding of a random input (fp32 graph, before quantisation)
    check_max_abs_diff: float
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [self.onnx_path, self.sidecar_path]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(onnx_path=str(self.onnx_path), sidecar_path=str(self.sidecar_path), paths=[str(p) for p in self.paths])
        return data


def sidecar_path_for(onnx_path: Path) -> Path:
    """``model.onnx`` -> ``model.json``: the preprocessing description the runtime reads."""
    return Path(onnx_path).with_suffix(".json")


def export_encoder(checkpoint_dir: Path | str, out_path: Path | str, *, quantize: Quantize = "none",
                   image_size: int | None = None) -> ExportReport:
    """Export the vision tower of a local SigLIP/MedSigLIP checkpoint to ``out_path`` (+ JSON sidecar).

    ``quantize``: "none" (fp32), "int8" (dynamic int8 weights, onnxruntime's MatMulInteger kernels) or
    "int4" (block-wise 4-bit MatMulNBits). ``image_size`` defaults to the checkpoint's own; another size
    (a multiple of the patch size) interpolates the position embeddings. Nothing is downloaded.
    """
    start = time.perf_counter()
    if quantize not in QUANTIZE_CHOICES:
        raise InputError(f"Unknown quantisation '{quantize}'.", hint=f"Use one of: {', '.join(QUANTIZE_CHOICES)}.")
    checkpoint_dir, out_path = Path(checkpoint_dir), Path(out_path)
    config = read_checkpoint_config(checkpoint_dir)
    vision = config["vision"]
    patch = int(vision.get("patch_size", 16))
    native = int(vision.get("image_size", 224))
    pre = read_preprocessing(checkpoint_dir, default_size=native)
    size = int(image_size or pre["image_size"])
    if size <= 0 or size % patch:
        raise InputError(f"The image size must be a positive multiple of the patch size {patch} (got {size}).")
    if out_path.suffix.lower() != ".onnx":
        raise InputError(f"The output file must end in .onnx (got {out_path.name}).")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    model = load_vision_model(checkpoint_dir)
    wrapper = export_wrapper(model, interpolate=size != native)
    notes: list[str] = []
    if size != native:
        notes.append(f"position embeddings interpolated from {native} to {size} px")
    with tempfile.TemporaryDirectory(dir=out_path.parent) as work:  # nothing half-written ever lands at out_path
        staged = fp32 = Path(work) / "fp32.onnx"
        check = _export_fp32(wrapper, model, fp32, size)
        if quantize != "none":
            staged = Path(work) / f"{quantize}.onnx"
            (quantize_int8 if quantize == "int8" else quantize_int4)(fp32, staged)
        _smoke_run(staged, size)
        _move_model(staged, out_path)

    grid = (size // patch, size // patch)
    sidecar = {
        "format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "source": checkpoint_dir.resolve().name,
        "source_model_type": config["model_type"], "quantization": quantize, "opset": OPSET,
        "image_size": size, "mean": list(pre["mean"]), "std": list(pre["std"]), "rescale_factor": pre["rescale_factor"],
        "resample": pre["resample"], "patch_size": patch, "grid": list(grid), "layers": int(vision["num_hidden_layers"]),
        "heads": int(vision["num_attention_heads"]), "hidden_size": int(vision["hidden_size"]),
        "outputs": list(OUTPUT_NAMES), "exported_with": _versions(),
    }
    side = sidecar_path_for(out_path)
    side.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    sizes = {p.name: p.stat().st_size for p in (out_path, side)}
    extra = out_path.with_name(out_path.name + ".data")
    if extra.is_file():
        sizes[extra.name] = extra.stat().st_size
    return ExportReport(out_path, side, sizes, OPSET, round(time.perf_counter() - start, 2), size, pre["mean"], pre["std"],
                        quantize, sidecar["source"], grid, sidecar["layers"], sidecar["heads"], check, notes)


# ====================================================================== checkpoint reading
def read_checkpoint_config(checkpoint_dir: Path | str) -> dict[str, Any]:
    """The checkpoint's config.json, checked to be SigLIP; returns {"model_type", "vision": vision config dict}."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        raise ModelError(f"The checkpoint folder {folder} does not exist.",
                         hint="Give the folder holding config.json and the weights of a SigLIP or MedSigLIP checkpoint.")
    path = folder / "config.json"
    if not path.is_file():
        raise ModelError(f"{folder} has no config.json, so it is not a Hugging Face checkpoint.",
                         hint="Copy the whole checkpoint folder (config.json, preprocessor_config.json, weights).")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} cannot be read ({exc}).", hint="Copy the checkpoint again.") from exc
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in _SIGLIP_TYPES:
        raise ModelError(f"{folder.name} is a '{model_type}' checkpoint, not SigLIP or MedSigLIP.",
                         hint="Only SigLIP-family vision encoders (e.g. MedSigLIP-448) can be exported.")
    vision = config.get("vision_config") if model_type == "siglip" else config
    if not isinstance(vision, dict):
        raise ModelError(f"{path} has no vision_config: this SigLIP checkpoint has no image tower.")
    vision = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "image_size": 224,
              "patch_size": 16, "vision_use_head": True, **vision}  # transformers' SiglipVisionConfig defaults
    if not vision["vision_use_head"]:
        raise ModelError(f"{folder.name} has no attention-pooling head, so it has no image embedding or pooling map.")
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise ModelError(f"{folder} has a config.json but no weights file.",
                         hint="Copy model.safetensors (or its shards) into the same folder.")
    return {"model_type": model_type, "vision": vision}


def read_preprocessing(checkpoint_dir: Path, *, default_size: int) -> dict[str, Any]:
    """Mean, std, rescale factor, resample and size from preprocessor_config.json (SigLIP defaults if absent)."""
    path = Path(checkpoint_dir) / "preprocessor_config.json"
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path} cannot be read ({exc}).") from exc
    size = raw.get("size") or {}
    if isinstance(size, dict):
        height, width = size.get("height"), size.get("width")
        if height and width and height != width:
            raise ModelError(f"{path} asks for a {width}x{height} input; only square inputs are supported.")
        value = height or size.get("shortest_edge") or default_size
    else:
        value = size or default_size
    resample = raw.get("resample", 3)  # SiglipImageProcessor default: bicubic
    resample = RESAMPLE_NAMES.get(resample, resample) if isinstance(resample, int) else str(resample).lower()
    if resample not in RESAMPLE_NAMES.values():
        raise ModelError(f"{path}: unknown resampling filter {raw.get('resample')!r}.")
    normalise = raw.get("do_normalize", True)
    mean = tuple(float(v) for v in (raw.get("image_mean") or [0.5] * 3)) if normalise else (0.0, 0.0, 0.0)
    std = tuple(float(v) for v in (raw.get("image_std") or [0.5] * 3)) if normalise else (1.0, 1.0, 1.0)
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ModelError(f"{path}: image_mean and image_std must be three numbers each (std > 0).")
    rescale = float(raw.get("rescale_factor", 1 / 255)) if raw.get("do_rescale", True) else 1.0
    return {"image_size": int(value), "mean": mean, "std": std, "resample": resample, "rescale_factor": rescale}


def load_vision_model(checkpoint_dir: Path) -> Any:
    """The SigLIP vision tower (fp32, eager attention so the attention probabilities are real), offline only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
        from transformers import SiglipVisionModel
    except ImportError as exc:
        raise ModelError("Exporting the encoder needs torch and transformers (the 'test' extra).",
                         hint="Export on a machine where they are installed; the workbench itself needs only onnxruntime.") from exc
    verbosity, bars = transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()  # the load report and progress bars are noise on a CLI
    transformers.logging.disable_progress_bar()
    try:
        model, info = SiglipVisionModel.from_pretrained(str(checkpoint_dir), local_files_only=True, attn_implementation="eager",
                                                        dtype=torch.float32, output_loading_info=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"The checkpoint in {checkpoint_dir} could not be loaded ({exc}).",
                         hint="Check that the folder holds a complete SigLIP checkpoint.") from exc
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.logging.enable_progress_bar()
    missing = [k for k in info.get("missing_keys", []) if "position_ids" not in k]
    if missing:
        raise ModelError(f"The checkpoint in {checkpoint_dir} lacks {len(missing)} vision weights (e.g. {missing[0]}).",
                         hint="The weights file is incomplete or belongs to another model.")
    return model.eval()


# ====================================================================== the exported graph
def _wrapper_class() -> type:
    import torch

    class SiglipVisionExport(torch.nn.Module):
        """The vision tower plus the MAP head rewritten with explicit weights (same maths as transformers)."""

        def __init__(self, vision: Any, interpolate: bool = False) -> None:
            super().__init__()
            self.vision = vision
            self.interpolate = interpolate
            head = vision.head
            mha = head.attention
            self.heads = mha.num_heads
            self.head_dim = mha.embed_dim // mha.num_heads
            if getattr(mha, "in_proj_weight", None) is None:
                raise ModelError("This checkpoint's pooling head has separate key/value sizes, which is not supported.")

        def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.vision(pixel_values, interpolate_pos_encoding=self.interpolate, output_attentions=True, return_dict=True)
            last = out.last_hidden_state
            if not out.attentions or out.attentions[0] is None:
                raise ModelError("The model gave no attention probabilities (it was not loaded with eager attention).")
            attentions = torch.stack(tuple(out.attentions), dim=1)  # (N, layers, heads, P, P)
            pooled, weights = self.map_head(last)
            return pooled, last, attentions, weights

        def map_head(self, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """SiglipMultiheadAttentionPoolingHead.forward with its attention weights kept: (pooled, (N, heads, P))."""
            head = self.vision.head
            mha = head.attention
            embed = mha.embed_dim
            n, p = last.shape[0], last.shape[1]
            w, b = mha.in_proj_weight, mha.in_proj_bias
            q = torch.nn.functional.linear(head.probe, w[:embed], b[:embed])  # (1, 1, D)
            k = torch.nn.functional.linear(last, w[embed:2 * embed], b[embed:2 * embed])
            v = torch.nn.functional.linear(last, w[2 * embed:], b[2 * embed:])
            q = q.reshape(1, 1, self.heads, self.head_dim).transpose(1, 2)  # (1, H, 1, d)
            k = k.reshape(n, p, self.heads, self.head_dim).transpose(1, 2)  # (N, H, P, d)
            v = v.reshape(n, p, self.heads, self.head_dim).transpose(1, 2)
            scores = torch.matmul(q * self.head_dim ** -0.5, k.transpose(-1, -2))  # (N, H, 1, P)
            weights = torch.softmax(scores, dim=-1)
            attended = torch.matmul(weights, v).transpose(1, 2).reshape(n, 1, embed)
            hidden = mha.out_proj(attended)
            hidden = hidden + head.mlp(head.layernorm(hidden))
            return hidden[:, 0], weights[:, :, 0, :]

    return SiglipVisionExport


def export_wrapper(vision: Any, interpolate: bool = False) -> Any:
    """The export module around a loaded SiglipVisionModel (its class is made here: torch loads only to export)."""
    return _wrapper_class()(vision, interpolate)


def _export_fp32(wrapper: Any, model: Any, path: Path, size: int) -> float:
    """Trace the wrapper to ONNX (TorchScript exporter: the dynamo one needs onnxscript, not installed) and
    check it against transformers' own forward; returns the largest pooled difference."""
    import warnings

    import torch

    generator = torch.Generator().manual_seed(0)
    sample = torch.rand(2, 3, size, size, generator=generator) * 2 - 1
    with torch.no_grad():
        reference = model(sample, interpolate_pos_encoding=wrapper.interpolate).pooler_output
        pooled = wrapper(sample)[0]
    if not torch.allclose(pooled, reference, atol=1e-5, rtol=1e-4):
        raise ModelError("The export wrapper's pooling head does not reproduce transformers' output; not exporting.",
                         hint="This transformers version changed SigLIP's pooling head; update encoder_export.py.")
    dynamic = {"pixel_values": {0: "batch"}, **{name: {0: "batch"} for name in OUTPUT_NAMES}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (sample[:1],), str(path), dynamo=False, input_names=["pixel_values"],
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["pooled"], {"pixel_values": sample.numpy()})[0]
    diff = float(np.abs(got - reference.numpy()).max())
    if not diff <= _CHECK_ATOL:
        raise ModelError(f"The exported graph differs from the checkpoint (largest difference {diff:.2g}); not writing it.")
    return diff


def _move_model(src: Path, dst: Path) -> None:
    """Write ``src`` to ``dst`` as one file (a >2 GB model keeps its weights in ``dst.data``)."""
    import onnx

    model = onnx.load(str(src))
    large = model.ByteSize() > 2_000_000_000
    onnx.save_model(model, str(dst), save_as_external_data=large, all_tensors_to_one_file=True,
                    location=dst.name + ".data" if large else None)


# ====================================================================== quantisation
def quantize_int8(src: Path, dst: Path, *, per_channel: bool = True, reduce_range: bool = False,
                  op_types: tuple[str, ...] = ("MatMul", "Gemm"), preprocess: bool = False) -> None:
    """Dynamic int8: weights stored as int8, activations quantised per call (no calibration data needed).

    Only MatMul/Gemm with constant weights are quantised: the attention products (both inputs are
    activations) and softmax stay fp32, so the attention maps keep their precision. The options are the
    ones benchmarks/encoder_speed.py compares; the defaults are what it found best on CPU.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with _quiet_root_logger(), tempfile.TemporaryDirectory(dir=Path(dst).parent) as work:
        source = src
        if preprocess:
            source = Path(work) / "pre.onnx"
            quant_pre_process(str(src), str(source))
        quantize_dynamic(str(source), str(dst), op_types_to_quantize=list(op_types), per_channel=per_channel,
                         reduce_range=reduce_range, weight_type=QuantType.QInt8, extra_options={"MatMulConstBOnly": True})


def quantize_int4(src: Path, dst: Path, *, block_size: int = 32, accuracy_level: int | None = 4,
                  symmetric: bool = True) -> None:
    """Block-wise 4-bit weights: every MatMul with a constant 2-D weight becomes com.microsoft.MatMulNBits.

    onnxruntime's own MatMulNBitsQuantizer needs the onnx_ir package, which the workbench does not install,
    so this does the same with the C++ packing routine it calls (``quantize_matmul_4bits``): one scale
    (and, if asymmetric, one 4-bit zero point) per ``block_size`` weights of a column. ``accuracy_level``
    4 lets the CPU kernel quantise the activations to int8 and use integer dot products.
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits

    if block_size < 16 or block_size & (block_size - 1):
        raise InputError(f"The int4 block size must be a power of two of at least 16 (got {block_size}).")
    model = onnx.load(str(src))
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    nodes, done, used = [], {}, set()
    for node in graph.node:
        tensor = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if tensor is None or len(tensor.dims) != 2:
            nodes.append(node)
            used.update(node.input)
            continue
        if tensor.name not in done:
            done[tensor.name] = _pack_int4(numpy_helper.to_array(tensor).astype(np.float32), tensor.name, block_size,
                                           symmetric, quantize_matmul_4bits)
            graph.initializer.extend(done[tensor.name][0])
        packed, k, n = done[tensor.name]
        attributes = {"K": k, "N": n, "bits": 4, "block_size": block_size}
        if accuracy_level:
            attributes["accuracy_level"] = accuracy_level
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], *(t.name for t in packed)], list(node.output),
                                      name=(node.name or tensor.name) + "_Q4", domain="com.microsoft", **attributes))
        used.update(t.name for t in packed)
        used.add(node.input[0])
    del graph.node[:]
    graph.node.extend(nodes)
    used.update(o.name for o in graph.output)
    for subgraph_input in (a.g for n in nodes for a in n.attribute if a.type == onnx.AttributeProto.GRAPH):
        used.update(i for inner in subgraph_input.node for i in inner.input)
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save_model(model, str(dst))


def _pack_int4(weight: np.ndarray, name: str, block_size: int, symmetric: bool, pack: Any) -> tuple[list, int, int]:
    """(initializers [packed, scales(, zero points)], K, N) of a (K, N) weight in MatMulNBits layout."""
    from onnx import numpy_helper

    k, n = weight.shape
    blocks = -(-k // block_size)
    padded = np.ascontiguousarray(np.pad(weight, ((0, blocks * block_size - k), (0, 0))))
    packed = np.zeros((n, blocks, block_size // 2), np.uint8)
    zero_points = np.zeros((n, (blocks + 1) // 2), np.uint8)
    scales = np.zeros((n, blocks), np.float32)
    pack(packed, padded, scales, zero_points, block_size, n, k, symmetric)
    tensors = [numpy_helper.from_array(packed, name + "_Q4"), numpy_helper.from_array(scales, name + "_scales")]
    if not symmetric:
        tensors.append(numpy_helper.from_array(zero_points, name + "_zero_points"))
    return tensors, k, n


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's quantiser logs advice through the root logger; keep it off the clinician's console."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _smoke_run(path: Path, size: int) -> None:
    """The written file loads in onnxruntime and gives finite outputs (a broken quantisation says so now)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = session.run(None, {"pixel_values": np.zeros((1, 3, size, size), np.float32)})
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"The exported model {path.name} does not run in onnxruntime ({exc}).") from exc
    if not all(np.isfinite(o).all() for o in outputs):
        raise ModelError(f"The exported model {path.name} gives non-finite outputs.")


def _versions() -> dict[str, str]:
    import onnxruntime
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "onnxruntime": onnxruntime.__version__}
