"""The llama.cpp runtime on a real GGUF (Gemma 3 270M from PyPI): loading, determinism, streaming,
cancellation, schema-constrained JSON, timings, and clear errors for bad files."""
from __future__ import annotations

import threading

import pytest

from workbench.errors import ModelError
from workbench.models.findings_schema import FINDINGS_SCHEMA
from workbench.models.test_models import gemma3_270m
from workbench.models.vlm import VLMRuntime, resolve_gpu_layers


@pytest.fixture(scope="module")
def runtime() -> VLMRuntime:
    return VLMRuntime(gemma3_270m(), n_ctx=1024, n_threads=2, gpu_layers="auto", model_hashes={"gemma-3-270m": "a5fd3b62"})


def test_loads_on_cpu_with_auto_gpu_layers(runtime):
    assert resolve_gpu_layers("auto") == 0  # this machine's build has no GPU backend
    assert runtime.backend == "cpu" and runtime.gpu_layers == 0
    assert runtime.load_s > 0


def test_deterministic_text_and_timings(runtime):
    first = runtime.generate("Name the twelve leads of an ECG.", max_tokens=24)
    second = runtime.generate("Name the twelve leads of an ECG.", max_tokens=24)
    assert first.text == second.text and first.text.strip()
    t = first.timings
    assert t.prompt_tokens > 5 and 1 <= t.completion_tokens <= 24
    assert t.ttft_s is not None and 0 < t.ttft_s < t.total_s
    assert t.decode_tok_s and t.decode_tok_s > 1
    assert first.models == {"gemma-3-270m": "a5fd3b62"} and first.backend == "cpu"


def test_streaming_and_cancellation(runtime):
    cancel = threading.Event()
    pieces = []
    for piece in runtime.stream("Describe a normal ECG in detail.", max_tokens=64, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    assert len(pieces) == 3  # nothing after the cancel
    stopped = runtime.generate("Describe a normal ECG.", max_tokens=64, cancel=cancel)
    assert stopped.cancelled and stopped.findings is None


def test_json_schema_is_enforced(runtime):
    result = runtime.generate("List the ECG findings as JSON.", max_tokens=160, json_schema=True)
    assert result.text.lstrip().startswith('{ "findings": [')  # the grammar forces the schema's shape from the first token
    if "parse_error" in result.extras:  # only a cut-off answer may fail to parse: the grammar allows nothing else
        assert result.timings.completion_tokens == 160
        return
    assert isinstance(result.findings, list)
    required = set(FINDINGS_SCHEMA["properties"]["findings"]["items"]["required"])
    for finding in result.findings:
        assert required <= set(finding)
        assert isinstance(finding["leads"], list) and isinstance(finding["confidence"], (int, float))


def test_missing_and_damaged_model_files(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        VLMRuntime(tmp_path / "absent.gguf")
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + b"\x00" * 1000)
    with pytest.raises(ModelError, match="could not be loaded"):
        VLMRuntime(damaged)
