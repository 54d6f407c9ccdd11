"""Fixtures of the kiosk tests: a real kiosk (``workbench kiosk`` in a subprocess, private HOME, settings and
database, the installed test models) and a real Chromium driven by playwright.

Chromium: ``/usr/bin/chromium``. When it is missing and this runs as root on a machine with apt, the setup tries
``apt-get install -y chromium`` once (after ``apt-get update`` if the first try fails); otherwise the browser tests
are skipped, naming what is missing. playwright's own browser download is never used.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workbench.kiosk.launcher import child_pids, free_port
from workbench.kiosk.probe import CHROMIUM, encoder_only_models

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts" / "kiosk"
READY_LINE = re.compile(r"Workbench kiosk ready: (http://\S+)")
_APT_TRIED: dict[str, str] = {}


def _try_install_chromium() -> str:
    """apt-get install chromium (root + apt only); returns why it could not, or ''."""
    if "result" in _APT_TRIED:
        return _APT_TRIED["result"]
    apt = shutil.which("apt-get")
    if apt is None:
        reason = "apt-get is not available to install it"
    elif os.geteuid() != 0:
        reason = "not root, so it cannot be installed with apt-get"
    else:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        reason = "apt-get install -y chromium failed"
        for commands in ([[apt, "install", "-y", "chromium"]],
                         [[apt, "update"], [apt, "install", "-y", "chromium"]]):
            try:
                if all(subprocess.run(c, env=env, capture_output=True, timeout=600).returncode == 0 for c in commands):
                    reason = ""
                    break
            except (OSError, subprocess.TimeoutExpired):
                continue
        if not reason and not CHROMIUM.is_file():
            reason = f"apt-get installed chromium but not at {CHROMIUM}"
    _APT_TRIED["result"] = reason
    return reason


@pytest.fixture(scope="session")
def chromium() -> Path:
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    if not CHROMIUM.is_file():
        reason = _try_install_chromium()
        if reason:
            pytest.skip(f"chromium is missing at {CHROMIUM} ({reason})")
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright_session(chromium: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# ====================================================================== the kiosk server
@dataclass
class Kiosk:
    """A running ``workbench kiosk`` (the CLI process; Voila is its child, the kernels Voila's children)."""

    process: subprocess.Popen
    home: Path
    port: int
    url: str = ""  # printed by the command: base address with ?token=
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]

    @property
    def token_file(self) -> Path:
        return self.home / ".config" / "workbench" / "kiosk_token"

    def server_pid(self) -> int | None:
        children = child_pids(self.process.pid)
        return children[0] if children else None

    def kernel_pids(self) -> list[int]:
        server = self.server_pid()
        return [p for p in child_pids(server) if _is_kernel(p)] if server else []

    def request(self, path: str, *, token: bool = True, method: str = "GET", follow: bool = False,
                headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request; redirects are not followed unless ``follow``."""
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"token {self.token}"
        request = urllib.request.Request(self.base_url + path.lstrip("/"), method=method, headers=all_headers, data=data)
        opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def pool_state(self) -> dict:
        import json

        status, _, body = self.request("workbench/api/ready")
        assert status == 200, status
        return json.loads(body)

    def wait_pool(self, timeout_s: float = 180.0) -> dict:
        """Wait until every pre-started kernel has run the notebook."""
        deadline = time.monotonic() + timeout_s
        state: dict = {}
        while time.monotonic() < deadline:
            state = self.pool_state()
            if state["rendered"] >= state["pool_size"]:
                return state
            time.sleep(0.3)
        raise AssertionError(f"kernel pool not ready after {timeout_s} s: {state}")

    def wait_kernels(self, count: int, timeout_s: float = 60.0) -> list[int]:
        """Wait until exactly ``count`` kernel processes run; returns their pids."""
        deadline = time.monotonic() + timeout_s
        pids = self.kernel_pids()
        while time.monotonic() < deadline:
            pids = self.kernel_pids()
            if len(pids) == count:
                return pids
            time.sleep(0.5)
        raise AssertionError(f"expected {count} kernels, found {len(pids)}: {pids}")

    def log(self) -> str:
        return "".join(self.output)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _is_kernel(pid: int) -> bool:
    try:
        return b"ipykernel_launcher" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def start_kiosk(tmp: Path, models_dir: Path | None, *, ready_timeout_s: float = 240.0,
                extra_env: dict[str, str] | None = None) -> Kiosk:
    """``workbench kiosk --no-browser --port N`` with HOME, settings file, database and data folder under ``tmp``."""
    home = tmp / "home"
    settings = home / ".config" / "workbench"
    settings.mkdir(parents=True)
    (settings / "workbench.toml").write_text(
        f'db_path = "{tmp / "db" / "cases.sqlite"}"\ndata_dir = "{tmp / "data"}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_") or k == "WORKBENCH_SHARED_DATA"}
    env.pop("JUPYTER_PATH", None)
    env.update(HOME=str(home), PYTHONUNBUFFERED="1")
    if models_dir is not None:
        env["WORKBENCH_MODELS_DIR"] = str(models_dir)
    env.update(extra_env or {})
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "workbench.cli", "kiosk", "--no-browser", "--port", str(port)],
                               cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kiosk = Kiosk(process=process, home=home, port=port)
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            kiosk.output.append(line)
            match = READY_LINE.search(line)
            if match:
                kiosk.url = match.group(1)
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + ready_timeout_s
    while not ready.wait(0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_kiosk(kiosk)
            raise AssertionError(f"the kiosk did not start:\n{kiosk.log()[-4000:]}")
    kiosk.wait_pool()
    return kiosk


def stop_kiosk(kiosk: Kiosk) -> None:
    """SIGTERM to the command (it stops Voila and the kernels); anything left is killed."""
    server = kiosk.server_pid()
    leftovers = ([server] if server else []) + kiosk.kernel_pids()
    if kiosk.process.poll() is None:
        kiosk.process.send_signal(signal.SIGTERM)
        try:
            kiosk.process.wait(30)
        except subprocess.TimeoutExpired:
            kiosk.process.kill()
            kiosk.process.wait(10)
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="session")
def kiosk_models(installed_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed test models minus the VLM (see `encoder_only_models`): the heatmap is drawn."""
    return encoder_only_models(installed_models, tmp_path_factory.mktemp("kiosk-models"))


@pytest.fixture(scope="module")
def kiosk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kiosk_models: Path) -> Iterator[Kiosk]:
    """A kiosk for the tests of one module (started by the real command, stopped after them); a module's
    ``KIOSK_ENV`` dict adds environment variables."""
    server = start_kiosk(tmp_path_factory.mktemp("kiosk"), kiosk_models,
                         extra_env=getattr(request.module, "KIOSK_ENV", None))
    try:
        yield server
    finally:
        stop_kiosk(server)


@pytest.fixture()
def browser(playwright_session: object, tmp_path: Path) -> Iterator[object]:
    """A fresh Chromium context (1366x768, private profile) per test."""
    from workbench.kiosk.probe import launch_browser

    context = launch_browser(playwright_session, tmp_path / "profile")
    try:
        yield context
    finally:
        context.close()


