"""Start the clinic kiosk: the Voila app ``voila_apps/kiosk.ipynb`` in single-notebook mode, locked down.

What `workbench kiosk` does:

* **token**: generated once with `secrets.token_urlsafe` and kept in ``~/.config/workbench/kiosk_token``
  (folder 0700, file 0600; outside the repository), reused on later starts. Every route needs it (as
  ``?token=`` once, then the login cookie) except ``/login``.
* **runtime folder**: a fresh private temporary folder (0700) per start holding ``voila.json`` (the whole
  configuration, token included, 0600), a kernelspec ``workbench-kiosk`` whose ``argv`` is this Python
  (``sys.executable``), and the Jupyter config/runtime folders. ``JUPYTER_PATH``, ``JUPYTER_CONFIG_DIR``,
  ``JUPYTER_RUNTIME_DIR`` and ``JUPYTER_DATA_DIR`` point there, and ``Voila.config_file_paths`` is that folder
  only, so no user-wide kernel, Jupyter setting or ``voila.json`` elsewhere changes the kiosk. Removed at exit.
* **Voila settings**: bound to 127.0.0.1 unless told otherwise; sources stripped, tracebacks hidden; no file is
  served (``file_allowlist=[]``, ``file_denylist=[".*"]``); template and theme cannot be changed by URL;
  pre-started kernels (``preheat_kernel``, pool of 2) and no idle-kernel culling (Voila 0.5.13 culls a pooled
  kernel right after handing it out when both are on); a kernel is shut down when its page is closed (Voila's
  page-unload request, which works with a login only because `workbench.kiosk.server` sets the ``_xsrf`` cookie it
  sends), and a kernel no page has been connected to for 10 minutes (``WORKBENCH_KIOSK_DISCONNECTED_TIMEOUT_S``)
  is shut down too (a browser killed without closing its page). Security headers on every response (see
  `SECURITY_HEADERS`).
* **process**: ``python -m workbench.kiosk.server`` (Voila with login on every route), in its own process group,
  working directory = the runtime folder.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, WorkbenchError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KIOSK_NOTEBOOK = PROJECT_ROOT / "voila_apps" / "kiosk.ipynb"
TEMPLATE_ROOT = Path(__file__).resolve().parent / "share"  # holds voila/templates/workbench-kiosk
TEMPLATE = "workbench-kiosk"
KERNEL_NAME = "workbench-kiosk"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866
DEFAULT_POOL_SIZE = 2
DEFAULT_DISCONNECTED_TIMEOUT_S = 600.0
PLOTLY_BUNDLE_PATH = "/workbench/static/plotly-widget.js"  # served by workbench.kiosk.server

# What the kiosk page needs: its own scripts and inline ones (Voila writes cell outputs and start-up code inline),
# blob: modules (anywidget loads widget code that way), inline styles (widgets and plotly set them), data: images
# and fonts, and websockets to itself. Nothing from another machine; it may not be framed.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class KioskError(WorkbenchError):
    title = "Kiosk problem"


# ====================================================================== token
def token_path() -> Path:
    """``~/.config/workbench/kiosk_token`` (next to the user's workbench.toml; never in the repository)."""
    return Path.home() / ".config" / "workbench" / "kiosk_token"


def load_or_create_token(path: Path | None = None) -> str:
    """The kiosk token: read from `token_path()`, or generated (``secrets.token_urlsafe(32)``) and stored 0600.

    A token file that others can read is made private again (0600) before it is used."""
    path = path or token_path()
    try:
        if path.is_file():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                path.chmod(0o600)
            token = path.read_text(encoding="utf-8").strip()
            if len(token) >= 16:
                return token
            path.unlink()  # empty or truncated: make a new one
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        return token
    except OSError as exc:
        raise KioskError(f"Cannot read or store the kiosk token at {path} ({exc.strerror or exc}).",
                         hint="Check that the folder is writable by you.") from exc


# ====================================================================== ports
def port_is_free(host: str, port: int) -> bool:
    """Whether the server could listen there (same SO_REUSEADDR as tornado: a port left in TIME_WAIT by the last
    run counts as free)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def child_pids(parent: int) -> list[int]:
    """Direct child processes of ``parent`` (read from /proc; empty where there is none)."""
    pids = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            pids.append(int(stat_file.parent.name))
    return sorted(pids)


# ====================================================================== runtime folder
def write_kernelspec(share: Path, python: str | None = None) -> Path:
    """``share/kernels/workbench-kiosk/kernel.json`` running ipykernel with ``python`` (default: this one)."""
    folder = share / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Workbench kiosk (Python)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder


def disconnected_timeout_s() -> float:
    """Seconds after which a kernel no page is connected to is shut down: ``WORKBENCH_KIOSK_DISCONNECTED_TIMEOUT_S``
    (default 600; 0 = never)."""
    raw = os.environ.get("WORKBENCH_KIOSK_DISCONNECTED_TIMEOUT_S", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_DISCONNECTED_TIMEOUT_S
    except ValueError as exc:
        raise ConfigError(f"WORKBENCH_KIOSK_DISCONNECTED_TIMEOUT_S must be a number of seconds, not {raw!r}.") from exc
    if value < 0:
        raise ConfigError("WORKBENCH_KIOSK_DISCONNECTED_TIMEOUT_S cannot be negative.")
    return value


def voila_config(*, host: str, port: int, token: str, pool_size: int = DEFAULT_POOL_SIZE,
                 headers: Mapping[str, str] | None = None, disconnected_timeout: float | None = None) -> dict:
    """The whole Voila configuration of the kiosk (written as ``voila.json``)."""
    return {
        "KioskVoila": {"disconnected_kernel_timeout": disconnected_timeout_s() if disconnected_timeout is None
                       else disconnected_timeout},
        "Voila": {
            "ip": host,
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "token": token,
            "base_url": "/",
            "tornado_settings": {"headers": dict(headers or SECURITY_HEADERS), "allow_unauthenticated_access": False},
            "log_level": "WARN",
        },
        "VoilaConfiguration": {
            "template": TEMPLATE,
            "theme": "light",
            "strip_sources": True,
            "show_tracebacks": False,
            "file_allowlist": [],
            "file_denylist": [".*"],
            "allow_template_override": "NO",
            "allow_theme_override": "NO",
            "http_header_envs": [],
            "preheat_kernel": True,
            "default_pool_size": pool_size,
            "progressive_rendering": False,
        },
        # idle culling stays off: with preheat_kernel it kills pooled kernels (closed pages shut their kernel)
        "MappingKernelManager": {"cull_idle_timeout": 0},
        # the token is the only credential: no password can be set from the login page
        "PasswordIdentityProvider": {"allow_password_change": False},
        # kernels talk to Voila over unix sockets in Voila's private connection folder, not local TCP ports
        "KernelManager": {"transport": "ipc"},
    }


@dataclass
class KioskServer:
    """One kiosk Voila process. `start()`, `wait_ready()`, `stop()` (or use it as a context manager)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str = ""
    notebook: Path = KIOSK_NOTEBOOK
    pool_size: int = DEFAULT_POOL_SIZE
    env: Mapping[str, str] | None = None  # extra environment for Voila and its kernels
    log_path: Path | None = None  # Voila's output; None = this process's stdout/stderr
    runtime_dir: Path | None = field(default=None, init=False)
    process: subprocess.Popen | None = field(default=None, init=False)

    # ---------------------------------------------------------------- addresses
    @property
    def base_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}/"

    @property
    def url(self) -> str:
        """The address to open: the kiosk page with the token."""
        return f"{self.base_url}?token={self.token}"

    # ---------------------------------------------------------------- life cycle
    def prepare_runtime(self) -> Path:
        """Create the private runtime folder with voila.json and the kernelspec; return it."""
        runtime = Path(tempfile.mkdtemp(prefix="workbench-kiosk-"))  # 0700
        share = runtime / "share"
        write_kernelspec(share)
        for sub in ("config", "runtime", "data"):
            (runtime / sub).mkdir(mode=0o700)
        config = voila_config(host=self.host, port=self.port, token=self.token, pool_size=self.pool_size)
        fd = os.open(runtime / "voila.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=1)
        self.runtime_dir = runtime
        return runtime

    def environment(self) -> dict[str, str]:
        from ..config import config_file
        from ..ui.common import PLOTLY_BUNDLE_URL_VARIABLE

        assert self.runtime_dir is not None
        env = dict(os.environ)
        env.update(self.env or {})
        # the kernels run in voila_apps/: keep the settings file that applies where the kiosk was started
        settings_file = config_file()
        if settings_file is not None and "WORKBENCH_CONFIG" not in env:
            env["WORKBENCH_CONFIG"] = str(settings_file.resolve())
        for name in ("JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "JUPYTER_PLATFORM_DIRS", "PYTHONSTARTUP"):
            env.pop(name, None)
        env["JUPYTER_PATH"] = os.pathsep.join([str(self.runtime_dir / "share"), str(TEMPLATE_ROOT)])
        env["JUPYTER_CONFIG_DIR"] = str(self.runtime_dir / "config")
        env["JUPYTER_RUNTIME_DIR"] = str(self.runtime_dir / "runtime")
        env["JUPYTER_DATA_DIR"] = str(self.runtime_dir / "data")
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(PROJECT_ROOT), env.get("PYTHONPATH", "")] if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env[PLOTLY_BUNDLE_URL_VARIABLE] = PLOTLY_BUNDLE_PATH  # the figures fetch plotly's code from the server
        return env

    def command(self) -> list[str]:
        assert self.runtime_dir is not None
        return [sys.executable, "-m", "workbench.kiosk.server", str(Path(self.notebook).resolve()),
                f"--Voila.config_file_paths={self.runtime_dir}"]

    def start(self) -> KioskServer:
        if not self.token:
            raise KioskError("The kiosk needs a token.")
        if not Path(self.notebook).is_file():
            raise KioskError(f"The kiosk notebook {self.notebook} is missing.")
        if not port_is_free(self.host, self.port):
            raise KioskError(f"Port {self.port} on {self.host} is already in use.",
                             hint="Choose another one with --port, or stop the program using it.")
        self.prepare_runtime()
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - closed in stop()
        try:
            self.process = subprocess.Popen(self.command(), cwd=self.runtime_dir, env=self.environment(),
                                            stdout=out, stderr=subprocess.STDOUT if out else None,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            if out is not None:
                out.close()
        return self

    def _request(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base_url + path.lstrip("/"), headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own local server
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def pool_state(self) -> dict | None:
        """``{"pool_size", "started", "rendered"}`` from the server, or None when it does not answer."""
        try:
            status, body = self._request("/workbench/api/ready", timeout=3.0)
        except (OSError, urllib.error.URLError):
            return None
        return json.loads(body) if status == 200 else None

    def wait_ready(self, timeout: float = 180.0, *, rendered: int | None = None,
                   on_wait: Callable[[dict | None], None] | None = None) -> dict:
        """Wait until the server answers and ``rendered`` pre-started kernels (default: 1) have run the notebook."""
        need = 1 if rendered is None else rendered
        deadline = time.monotonic() + timeout
        state: dict | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise KioskError(f"The kiosk server stopped at start (exit code {self.process.returncode}).",
                                 hint=self._log_hint())
            state = self.pool_state()
            if state is not None and state.get("rendered", 0) >= min(need, state.get("pool_size", need)):
                return state
            if on_wait is not None:
                on_wait(state)
            time.sleep(0.25)
        raise KioskError(f"The kiosk did not become ready within {timeout:.0f} s (state: {state}).", hint=self._log_hint())

    def _log_hint(self) -> str | None:
        if self.log_path and Path(self.log_path).is_file():
            tail = Path(self.log_path).read_text(errors="replace").strip().splitlines()[-8:]
            return "Last lines of its log:\n  " + "\n  ".join(tail)
        return None

    def kernel_pids(self) -> list[int]:
        """Process ids of the kernels this server started (its child processes; Linux /proc)."""
        if self.process is None:
            return []
        return child_pids(self.process.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Voila (SIGTERM, SIGKILL after ``timeout``) and any kernel it leaves behind (kernels run in their
        own sessions); remove the runtime folder."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            kernels = child_pids(process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
            for pid in kernels:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.runtime_dir = None

    def __enter__(self) -> KioskServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ====================================================================== the command
def _has_graphical_browser() -> bool:
    """A desktop to open a browser on (without one, Python's webbrowser would start a text browser such as lynx
    in this terminal)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_kiosk(port: int | None = None, host: str = DEFAULT_HOST, open_browser: bool = True,
              echo: Callable[[str], None] = print, pool_size: int = DEFAULT_POOL_SIZE) -> int:
    """`workbench kiosk`: start the kiosk, print its address (with the token), open a browser, serve until Ctrl-C."""
    from ..config import load_settings

    load_settings()  # a broken settings file is reported now, in plain words, not inside the page
    import importlib.util

    missing = [name for name in ("voila", "ipywidgets", "ipykernel") if importlib.util.find_spec(name) is None]
    if missing:
        raise KioskError(f"The kiosk needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                         "installed in this environment.", hint="Run `make run` (it installs everything) or "
                         "`pip install -e .` in the project's environment.")
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(f"Port {port} is not a valid port number (1-65535).")
    if port is None:
        port = DEFAULT_PORT if port_is_free(host, DEFAULT_PORT) else free_port(host)
    token = load_or_create_token()
    server = KioskServer(host=host, port=port, token=token, pool_size=pool_size)
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"Warning: listening on {host}: other machines that can reach it and know the token can use the kiosk.")
    echo(f"Starting the clinic kiosk on {server.base_url} (token in {token_path()}) ...")

    def _stop_on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(0)  # runs the `finally` below: Voila and its kernels are stopped too

    previous = {sig: signal.signal(sig, _stop_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    server.start()
    try:
        server.wait_ready(timeout=300)
        echo(f"Workbench kiosk ready: {server.url}")
        echo("Open that address in a browser on this computer. Stop with Ctrl-C.")
        if open_browser and _has_graphical_browser():
            import webbrowser

            with contextlib.suppress(Exception):
                webbrowser.open(server.url)
        assert server.process is not None
        return server.process.wait()
    except KeyboardInterrupt:
        echo("Stopping the kiosk ...")
        return 0
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
