"""The model manifest and file verification, on real files in a temporary models folder."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.errors import ConfigError, ModelError
from workbench.models.manifest import check, file_sha256, load_manifest, require

PROJECT_MANIFEST = Path(__file__).resolve().parents[2] / "models" / "models.toml"


def _folder(tmp_path: Path, entries: str) -> Path:
    (tmp_path / "models.toml").write_text(entries)
    return tmp_path


def _entry(name: str, role: str, file: str, sha: str = "", size: int = 0, optional: bool = False) -> str:
    return (f'[[model]]\nname = "{name}"\nrole = "{role}"\nfile = "{file}"\nsha256 = "{sha}"\n'
            f"size_bytes = {size}\noptional = {str(optional).lower()}\n\n")


def test_project_manifest_lists_the_three_roles():
    entries = load_manifest(PROJECT_MANIFEST.parent)
    assert {e.role for e in entries} == {"vlm", "mmproj", "vision_encoder"}
    assert all(e.licence and e.source for e in entries)


def test_verified_file_and_hash_cache(tmp_path):
    payload = b"GGUF" + bytes(range(256)) * 100
    sha = hashlib.sha256(payload).hexdigest()
    folder = _folder(tmp_path, _entry("m", "vlm", "m.gguf", sha, len(payload)))
    (folder / "m.gguf").write_bytes(payload)
    status = check(load_manifest(folder)[0], folder)
    assert status.ok and status.sha256 == sha and status.message == "verified"
    assert sha in (folder / ".sha256-cache.json").read_text()
    assert file_sha256(folder / "m.gguf") == sha
    assert require("vlm", folder).path == folder / "m.gguf"


def test_missing_truncated_and_wrong_files_say_what_to_do(tmp_path):
    payload = b"x" * 1000
    sha = hashlib.sha256(payload).hexdigest()
    folder = _folder(tmp_path, _entry("a", "vlm", "a.gguf", sha, 1000) + _entry("b", "mmproj", "b.gguf", sha, 1000)
                     + _entry("c", "vision_encoder", "c.onnx", sha, 0))
    (folder / "b.gguf").write_bytes(payload[:400])
    (folder / "c.onnx").write_bytes(b"y" * 1000)
    a, b, c = (check(e, folder) for e in load_manifest(folder))
    assert not a.installed and "put a.gguf in" in a.message
    assert b.installed and not b.ok and "truncated" in b.message and "400" in b.message
    assert c.installed and not c.ok and "not the expected file" in c.message
    with pytest.raises(ModelError, match="truncated"):
        require("mmproj", folder)
    with pytest.raises(ModelError, match="No model with role"):
        require("vlm", folder, name="other")


@pytest.mark.parametrize("content, message", [
    ("[[model]]\nname='x'\nrole='llm'\nfile='x'\n", "role 'llm'"),
    ("[[model]]\nname='x'\nrole='vlm'\nfile='x'\nsha256='abc'\n", "64 hexadecimal"),
    ("[[model]]\nname='x'\nrole='vlm'\nfile='x'\ncolour='red'\n", "unknown or missing fields"),
    ("[[model]]\nname='x'\nrole='vlm'\nfile='x'\n[[model]]\nname='x'\nrole='vlm'\nfile='y'\n", "repeat"),
    ("this is not toml [", "cannot be read"),
])
def test_bad_manifests_are_config_errors(tmp_path, content, message):
    with pytest.raises(ConfigError, match=message):
        load_manifest(_folder(tmp_path, content))


def test_cli_list_and_verify(tmp_path):
    folder = _folder(tmp_path, _entry("req", "vlm", "req.gguf") + _entry("opt", "mmproj", "opt.gguf", optional=True))
    env = {"WORKBENCH_MODELS_DIR": str(folder), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "workbench.cli", "models", *a], capture_output=True, text=True, env=env, timeout=60)
    listed = json.loads(run("list", "--json").stdout)
    assert [r["installed"] for r in listed] == [False, False]
    missing_required = run("verify")
    assert missing_required.returncode == 2 and "put req.gguf in" in missing_required.stdout
    (folder / "req.gguf").write_bytes(b"weights")
    ok = run("verify")
    assert ok.returncode == 0 and "sha256 = " in ok.stdout  # unpinned: the hash to pin is printed
