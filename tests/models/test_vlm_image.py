"""The image path end to end through llama.cpp's libmtmd: real Gemma 3 270M + a tiny projector the project
builds itself (random weights: the text is meaningless, the mechanics are what is tested)."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from workbench.errors import ModelError
from workbench.models.test_models import gemma3_270m, tiny_gemma3_mmproj
from workbench.models.vlm import Timings, VLMRuntime


@pytest.fixture(scope="module")
def runtime() -> VLMRuntime:
    return VLMRuntime(gemma3_270m(), mmproj_path=tiny_gemma3_mmproj(), n_ctx=1024, n_threads=2)


@pytest.fixture(scope="module")
def ecg_png(ecg_data) -> bytes:
    scan = ecg_data.parent / "images" / "scans" / "ecg00001.png"
    image = Image.open(scan).convert("RGB")
    image.thumbnail((448, 448))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_image_tokens_are_consumed_and_streamed(runtime, ecg_png):
    timings = Timings()
    pieces = list(runtime.stream_image(ecg_png, "Describe this ECG.", max_tokens=12, timings=timings))
    assert pieces and 1 <= timings.completion_tokens <= 12
    assert timings.prompt_tokens >= 256  # 256 image tokens from the projector, plus the text
    assert timings.ttft_s is not None and timings.decode_tok_s


def test_image_answer_follows_the_findings_schema(runtime, ecg_png):
    text = "".join(runtime.stream_image(ecg_png, "List the findings as JSON.", max_tokens=40, json_schema=True))
    assert text.lstrip().startswith('{ "findings": [')


def test_text_only_model_refuses_images(ecg_png):
    plain = VLMRuntime(gemma3_270m(), n_ctx=512, n_threads=2)
    with pytest.raises(ModelError, match="without its projector"):
        next(plain.stream_image(ecg_png, "Describe."))


def test_missing_projector_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="Projector file"):
        VLMRuntime(gemma3_270m(), mmproj_path=tmp_path / "absent.gguf")
