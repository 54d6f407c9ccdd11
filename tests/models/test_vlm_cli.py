"""`workbench vlm run` and `load_vlm` through the manifest, as a user runs them (real subprocess, real
llama.cpp, the installed test models)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.errors import ModelError
from workbench.models.vlm import load_vlm

pytestmark = pytest.mark.timeout(300)


def run(models: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_MODELS_DIR": str(models)}
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          timeout=240, env=env)


def test_load_vlm_verifies_and_records_hashes(installed_models: Path):
    runtime = load_vlm(models_dir=installed_models, n_ctx=1024)
    assert runtime.has_images
    assert set(runtime.models) == {"gemma3-270m-test", "tiny-gemma3-mmproj-test"}
    assert all(len(digest) == 64 for digest in runtime.models.values())


def test_load_vlm_refuses_a_tampered_file(installed_models: Path, tmp_path: Path):
    folder = tmp_path / "models"
    folder.mkdir()
    for item in installed_models.iterdir():
        (folder / item.name).symlink_to(item)
    manifest = (installed_models / "models.toml").read_text()
    mmproj = next(installed_models.glob("mmproj-*.gguf"))
    (folder / mmproj.name).unlink()
    (folder / mmproj.name).write_bytes(mmproj.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    (folder / "models.toml").unlink()
    (folder / "models.toml").write_text(manifest)
    with pytest.raises(ModelError, match="not the expected file"):
        load_vlm(models_dir=folder)


def test_vlm_run_json_on_a_real_scan(installed_models: Path, ecg_data: Path):
    scan = ecg_data.parent / "images" / "scans" / "ecg00001.png"
    out = run(installed_models, "vlm", "run", str(scan), "--json", "--max-tokens", "48")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) >= {"text", "findings", "timings", "backend", "models"}
    timings = answer["timings"]
    assert timings["prompt_tokens"] >= 256  # the image tokens were consumed
    assert 1 <= timings["completion_tokens"] <= 48
    assert timings["load_s"] > 0 and timings["ttft_s"] > 0 and timings["decode_tok_s"] > 0
    assert answer["backend"] == "cpu"
    assert answer["text"].lstrip().startswith("{")  # grammar-constrained answer (may be cut by max-tokens)


def test_vlm_run_streams_text_from_a_signal_file(installed_models: Path, ecg_data: Path):
    out = run(installed_models, "vlm", "run", str(ecg_data / "cinc2021" / "E07510.hea"), "--max-tokens", "8",
              "--prompt", "Describe the rhythm.")
    assert out.returncode == 0, out.stderr
    assert "prompt" in out.stdout and "tokens at" in out.stdout and "not a diagnosis" in out.stdout
    assert "clip_encode" not in out.stderr  # libmtmd's progress lines are routed to the silent logger


def test_vlm_run_without_an_installed_model_says_what_to_do(tmp_path: Path, ecg_data: Path):
    (tmp_path / "models.toml").write_text('[[model]]\nname = "m"\nrole = "vlm"\nfile = "m.gguf"\n')
    out = run(tmp_path, "vlm", "run", str(ecg_data / "cinc2021" / "E07510.hea"))
    assert out.returncode == 2
    assert "not installed: put m.gguf in" in out.stderr and "Traceback" not in out.stderr
