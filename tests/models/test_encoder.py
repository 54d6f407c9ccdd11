"""The SigLIP vision-encoder export and its onnxruntime runtime, on a tiny random-weight SigLIP the tests build
and export with the workbench's own tool (cached under data/cache/models). Random weights: the numbers prove
the export, preprocessing and quantisation are faithful, not that the maps mean anything medically."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from tests.helpers import assert_refused
from workbench.errors import InputError, ModelError
from workbench.explain.heatmap import heatmap_for
from workbench.models.encoder import VisionEncoder
from workbench.models.encoder_export import export_encoder, read_checkpoint_config
from workbench.models.test_encoders import tiny_siglip_checkpoint, tiny_siglip_onnx


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, Path]:
    return {q: tiny_siglip_onnx(q) for q in ("none", "int8", "int4")}


@pytest.fixture(scope="session")
def encoder(tiny_models) -> VisionEncoder:
    return VisionEncoder.load(tiny_models["none"], threads=2)


@pytest.fixture(scope="module")
def scan(ecg_data) -> np.ndarray:
    from workbench.ecg.image.loading import load_image

    return load_image(ecg_data.parent / "images" / "scans" / "ecg00001.png").image


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


# ---------------------------------------------------------------------- export
def test_export_writes_model_sidecar_and_report(tmp_path):
    report = export_encoder(tiny_siglip_checkpoint(), tmp_path / "enc.onnx")
    assert report.onnx_path.is_file() and report.sidecar_path == tmp_path / "enc.json"
    assert set(report.sizes_bytes) == {"enc.onnx", "enc.json"} and report.sizes_bytes["enc.onnx"] > 100_000
    assert report.check_max_abs_diff < 1e-4 and report.opset == 17 and report.seconds > 0
    side = json.loads(report.sidecar_path.read_text())
    assert side["image_size"] == 224 and side["mean"] == [0.5] * 3 and side["std"] == [0.5] * 3
    assert side["resample"] == "bicubic" and side["grid"] == [14, 14] and (side["layers"], side["heads"]) == (2, 4)
    assert side["source"] == "siglip-tiny-random" and side["quantization"] == "none"
    graph = onnx.load(str(report.onnx_path)).graph
    assert [o.name for o in graph.output] == ["pooled", "last_hidden_state", "attentions", "map_attention"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch axis


def test_export_at_another_size_interpolates_positions(tmp_path):
    report = export_encoder(tiny_siglip_checkpoint(), tmp_path / "enc160.onnx", image_size=160)
    assert report.grid == (10, 10) and report.notes and report.check_max_abs_diff < 1e-4
    out = VisionEncoder.load(report.onnx_path).run(np.zeros((50, 80, 3), np.uint8))
    assert out.attentions.shape == (2, 4, 100, 100)


def test_quantised_files_are_smaller_and_use_integer_kernels(tiny_models):
    ops = {q: {n.op_type for n in onnx.load(str(p)).graph.node} for q, p in tiny_models.items()}
    assert "MatMulInteger" in ops["int8"] and "MatMulNBits" in ops["int4"]
    sizes = {q: p.stat().st_size for q, p in tiny_models.items()}
    assert sizes["int4"] < sizes["int8"] < sizes["none"]
    assert json.loads(tiny_models["int4"].with_suffix(".json").read_text())["quantization"] == "int4"


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "absent", ["does not exist"]),
    (lambda d: d, ["no config.json"]),
    (lambda d: (d / "config.json").write_text('{"model_type": "bert"}') and d, ["'bert'", "not SigLIP"]),
    (lambda d: (d / "config.json").write_text("{not json") and d, ["cannot be read"]),
    (lambda d: (d / "config.json").write_text('{"model_type": "siglip_vision_model"}') and d, ["no weights"]),
])
def test_bad_checkpoints_are_model_errors(tmp_path, make, words):
    folder = make(tmp_path)
    with pytest.raises(ModelError) as info:
        export_encoder(folder, tmp_path / "out.onnx")
    assert all(w.lower() in str(info.value).lower() for w in words), str(info.value)
    assert not (tmp_path / "out.onnx").exists()


def test_bad_export_options_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="Unknown quantisation"):
        export_encoder(tiny_siglip_checkpoint(), tmp_path / "a.onnx", quantize="int2")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="multiple of the patch size 16"):
        export_encoder(tiny_siglip_checkpoint(), tmp_path / "a.onnx", image_size=200)
    assert read_checkpoint_config(tiny_siglip_checkpoint())["model_type"] == "siglip"  # full SiglipModel checkpoint


# ---------------------------------------------------------------------- runtime
def test_output_shapes_and_probabilities(encoder):
    out = encoder.run(np.random.default_rng(1).integers(0, 256, (300, 500, 3), dtype=np.uint8))
    assert out.pooled.shape == (64,) and out.last_hidden_state.shape == (196, 64)
    assert out.attentions.shape == (2, 4, 196, 196) and out.map_attention.shape == (4, 196)
    assert out.grid == (14, 14) and out.image_size == (300, 500) and out.provider == "CPUExecutionProvider"
    np.testing.assert_allclose(out.attentions.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.map_attention.sum(-1), 1.0, atol=1e-5)
    assert encoder.describe()["grid"] == [14, 14]


def test_preprocessing_is_exact(encoder):
    same_size = np.random.default_rng(2).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    x = encoder.preprocess(same_size)
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], same_size.transpose(2, 0, 1) / 127.5 - 1.0, atol=1e-6)
    assert x.min() >= -1.0 and x.max() <= 1.0
    # a small flat image: any interpolation keeps the colour, so the values are known by hand
    flat = np.zeros((3, 5, 3), np.uint8)
    flat[...] = (0, 51, 255)
    y = encoder.preprocess(Image.fromarray(flat))
    for channel, expected in enumerate((-1.0, 51 / 127.5 - 1.0, 1.0)):
        np.testing.assert_allclose(y[0, channel], expected, atol=1e-5)


def test_preprocessing_matches_the_checkpoint_processor(encoder):
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    config = json.loads((tiny_siglip_checkpoint() / "preprocessor_config.json").read_text())
    processor = SiglipImageProcessorPil(size=config["size"], resample=config["resample"], image_mean=config["image_mean"],
                                        image_std=config["image_std"])
    image = np.random.default_rng(3).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    expected = processor(images=image, return_tensors="np")["pixel_values"]
    np.testing.assert_allclose(encoder.preprocess(image), expected, atol=1e-5)


@pytest.mark.parametrize("image, message", [
    (np.zeros((10, 10, 3), np.float32), "8-bit"),
    (np.zeros((10, 10, 2), np.uint8), "RGB image"),
    ("not an image", "Expected an image"),
])
def test_bad_images_are_input_errors(encoder, image, message):
    with pytest.raises(InputError, match=message):
        encoder.run(image)


def test_runs_are_deterministic(encoder, scan):
    first, second = encoder.run(scan), encoder.run(scan)
    for name in ("pooled", "last_hidden_state", "attentions", "map_attention"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name


def test_onnx_matches_transformers(encoder, scan):
    """Same pixels through transformers' own SigLIP (eager attention) and through the exported graph."""
    import torch

    from workbench.models.encoder_export import load_vision_model

    model = load_vision_model(tiny_siglip_checkpoint())
    pixels = encoder.preprocess(scan)
    with torch.no_grad():
        ref = model(torch.from_numpy(pixels), output_attentions=True)
        last = ref.last_hidden_state
        # the pooling head's own nn.MultiheadAttention, per-head weights: an independent check of the exported map
        probe = model.head.probe.expand(1, -1, -1)
        _, weights = model.head.attention(probe, last, last, need_weights=True, average_attn_weights=False)
    out = encoder.run(scan)
    np.testing.assert_allclose(out.pooled, ref.pooler_output[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(out.last_hidden_state, last[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(out.attentions, torch.stack(ref.attentions, 1)[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(out.map_attention, weights[0, :, 0].numpy(), atol=1e-5)


@pytest.mark.parametrize("method", ["map", "rollout"])
def test_quantised_heatmaps_follow_fp32(tiny_models, encoder, scan, method):
    reference = heatmap_for(encoder.run(scan), method).grid
    for quant in ("int8", "int4"):
        out = VisionEncoder.load(tiny_models[quant], threads=2).run(scan)
        assert np.isfinite(out.pooled).all() and out.attentions.shape == (2, 4, 196, 196)
        assert _pearson(heatmap_for(out, method).grid, reference) >= 0.9, quant


# ---------------------------------------------------------------------- bad model files
def _with_sidecar(tmp_path: Path, name: str, payload: bytes, source: Path) -> Path:
    path = tmp_path / name
    path.write_bytes(payload)
    shutil.copy(source.with_suffix(".json"), path.with_suffix(".json"))
    return path


def test_corrupt_file_is_a_model_error(tmp_path, tiny_models):
    path = _with_sidecar(tmp_path, "enc.onnx", np.random.default_rng(4).bytes(4096), tiny_models["none"])
    err = assert_refused(VisionEncoder.load, ModelError, path, "not a readable ONNX model", "again")
    assert "damaged" in err.message


def test_truncated_file_is_a_model_error(tmp_path, tiny_models):
    data = tiny_models["none"].read_bytes()
    path = _with_sidecar(tmp_path, "enc.onnx", data[: len(data) // 2], tiny_models["none"])
    assert_refused(VisionEncoder.load, ModelError, path, "not a readable ONNX model")


def test_another_onnx_model_is_a_model_error(tmp_path, tiny_models):
    graph = helper.make_graph([helper.make_node("Identity", ["pixel_values"], ["y"])], "other",
                              [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 224, 224])])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    shutil.copy(tiny_models["none"].with_suffix(".json"), path.with_suffix(".json"))
    assert_refused(VisionEncoder.load, ModelError, path, "not a workbench vision encoder", "pooled", "attentions")


def test_missing_or_bad_sidecar_is_a_model_error(tmp_path, tiny_models):
    path = tmp_path / "enc.onnx"
    shutil.copy(tiny_models["none"], path)
    assert_refused(VisionEncoder.load, ModelError, path, "no preprocessing file", "enc.json")
    path.with_suffix(".json").write_text("{broken")
    assert_refused(VisionEncoder.load, ModelError, path, "cannot be read", names=("enc.json",))
    side = json.loads(tiny_models["none"].with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**side, "image_size": 448, "grid": [28, 28]}))
    assert_refused(VisionEncoder.load, ModelError, path, "different exports")
    path.with_suffix(".json").write_text(json.dumps({k: v for k, v in side.items() if k != "mean"}))
    assert_refused(VisionEncoder.load, ModelError, path, "lacks mean", names=("enc.json",))


def test_missing_file_and_manifest(tmp_path, tiny_models):
    assert_refused(VisionEncoder.load, ModelError, tmp_path / "absent.onnx", "does not exist")
    (tmp_path / "models.toml").write_text('[[model]]\nname = "tiny"\nrole = "vision_encoder"\nfile = "tiny.onnx"\n')
    with pytest.raises(ModelError, match="put tiny.onnx in"):
        VisionEncoder.from_manifest(tmp_path)
    shutil.copy(tiny_models["int8"], tmp_path / "tiny.onnx")
    shutil.copy(tiny_models["int8"].with_suffix(".json"), tmp_path / "tiny.json")
    loaded = VisionEncoder.from_manifest(tmp_path)
    assert loaded.describe()["quantization"] == "int8" and loaded.run(np.zeros((20, 30, 3), np.uint8)).grid == (14, 14)
    assert VisionEncoder.from_manifest(tmp_path, name="tiny").path == tmp_path / "tiny.onnx"
    with pytest.raises(ModelError, match="name 'other'"):
        VisionEncoder.from_manifest(tmp_path, name="other")


def test_shared_encoder_is_opened_once_and_again_when_the_file_is_replaced(tmp_path, tiny_models, monkeypatch):
    import os

    from workbench.config import get_settings
    from workbench.models.encoder import shared_encoder

    (tmp_path / "models.toml").write_text('[[model]]\nname = "tiny"\nrole = "vision_encoder"\nfile = "tiny.onnx"\n')
    shutil.copy(tiny_models["int8"], tmp_path / "tiny.onnx")
    shutil.copy(tiny_models["int8"].with_suffix(".json"), tmp_path / "tiny.json")
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path))
    get_settings.cache_clear()
    first = shared_encoder()
    assert shared_encoder() is first and shared_encoder("tiny") is not None
    assert first.describe()["quantization"] == "int8"
    shutil.copy(tiny_models["none"], tmp_path / "tiny.onnx")  # the clinic installs another file under the same name
    shutil.copy(tiny_models["none"].with_suffix(".json"), tmp_path / "tiny.json")
    stat = (tmp_path / "tiny.onnx").stat()
    os.utime(tmp_path / "tiny.onnx", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    again = shared_encoder()
    assert again is not first and again.describe()["quantization"] == "none"
    (tmp_path / "tiny.onnx").write_bytes(b"")  # a broken copy is refused, never served from memory
    with pytest.raises(ModelError):
        shared_encoder()
