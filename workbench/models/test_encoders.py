"""Random-weight SigLIP checkpoints and their ONNX exports, built once and cached under data/cache/models.

Real MedSigLIP weights cannot ship with the tests, so these have SigLIP's exact architecture with a fixed
seed: the export, the runtime, the quantisers and the heatmap maths are exercised for real, but the maps
mean nothing medically. `base_sized_siglip_checkpoint` is SigLIP-base at 448 px, for the speed benchmark.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..config import get_settings
from ..errors import ModelError
from .encoder_export import Quantize, export_encoder

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "image_size": 224, "patch_size": 16}
BASE_448 = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
            "image_size": 448, "patch_size": 16}
SEED = 0


def cache_dir() -> Path:
    return get_settings().data_dir / "cache" / "models"


def tiny_siglip_checkpoint(cache: Path | None = None) -> Path:
    """A full SiglipModel checkpoint (tiny text tower too, like MedSigLIP's layout) with a preprocessor config."""
    return _checkpoint((cache or cache_dir()) / "siglip-tiny-random", TINY, full=True)


def base_sized_siglip_checkpoint(cache: Path | None = None) -> Path:
    """A vision-only SigLIP-base-sized checkpoint (768 wide, 12 layers, 12 heads, patch 16, 448 px), random weights."""
    return _checkpoint((cache or cache_dir()) / "siglip-base448-random", BASE_448, full=False)


def tiny_siglip_onnx(quantize: Quantize = "none", cache: Path | None = None) -> Path:
    """The tiny checkpoint exported by `export_encoder` itself (fp32, int8 or int4), cached with its sidecar."""
    folder = cache or cache_dir()
    return _exported(tiny_siglip_checkpoint(folder), folder / f"siglip-tiny-random-{quantize}.onnx", quantize)


def base_sized_siglip_onnx(quantize: Quantize = "none", cache: Path | None = None) -> Path:
    folder = cache or cache_dir()
    return _exported(base_sized_siglip_checkpoint(folder), folder / f"siglip-base448-random-{quantize}.onnx", quantize)


def _exported(checkpoint: Path, target: Path, quantize: Quantize) -> Path:
    if target.is_file() and target.with_suffix(".json").is_file():
        return target
    export_encoder(checkpoint, target, quantize=quantize)
    return target


def _checkpoint(target: Path, vision: dict, *, full: bool) -> Path:
    if (target / "config.json").is_file():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
        from transformers import SiglipConfig, SiglipModel, SiglipVisionConfig, SiglipVisionModel
    except ImportError as exc:
        raise ModelError("Building the test encoder needs torch and transformers (the 'test' extra).") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    transformers.logging.disable_progress_bar()
    if full:
        text = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                "num_attention_heads": 2, "max_position_embeddings": 16, "pad_token_id": 1, "bos_token_id": 2, "eos_token_id": 3}
        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    else:
        model = SiglipVisionModel(SiglipVisionConfig(**vision))
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        model.save_pretrained(work, safe_serialization=True)
        size = vision["image_size"]
        (Path(work) / "preprocessor_config.json").write_text(json.dumps({
            "image_processor_type": "SiglipImageProcessor", "do_resize": True, "size": {"height": size, "width": size},
            "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}, indent=2))
        shutil.move(work, target)
        Path(work).mkdir()  # TemporaryDirectory removes it on exit
    return target
