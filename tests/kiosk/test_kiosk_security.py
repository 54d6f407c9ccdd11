"""The kiosk's lock-down, checked against the real server (and a real browser where a page is needed).

Token required on every route; nothing but the kiosk page is served with it; the browser cannot run code in the
kernel; no source or traceback reaches the page; security headers on every response; bound to 127.0.0.1 only;
the token and the generated configuration are private files; no request leaves 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
import stat
import uuid
from pathlib import Path

import pytest

from workbench.kiosk import launcher
from workbench.kiosk.launcher import KioskServer, load_or_create_token, voila_config
from workbench.kiosk.probe import RequestLog, kernel_id

# a page that disappears without its unload request: its kernel is shut down after this many seconds
DISCONNECTED_TIMEOUT_S = 15
KIOSK_ENV = {"WORKBENCH_KIOSK_DISCONNECTED_TIMEOUT_S": str(DISCONNECTED_TIMEOUT_S)}

# routes Jupyter or Voila serve in other modes, files next to the notebook, and path traversal attempts
PROBES = ["", "api/contents", "api/contents/kiosk.ipynb", "api/sessions", "api/kernels", "api/kernelspecs",
          "api/terminals", "api/config/notebook", "tree", "lab", "notebooks/kiosk.ipynb", "voila/tree",
          "voila/render/kiosk.ipynb", "voila/api/contents", "voila/files/kiosk.ipynb", "kiosk.ipynb",
          "voila/files/..%2Fworkbench%2Fconfig.py", "voila/files/..%2F..%2F..%2Fetc%2Fpasswd",
          "voila/files/%2E%2E/%2E%2E/etc/passwd", "voila/files/voila.json", "voila/files/share/kernels",
          "..%2F..%2Fetc%2Fpasswd", "voila/static/voila.js", "voila/templates/lab/static/index.css",
          "voila/labextensions/@jupyter-widgets/jupyterlab-manager/package.json", "voila/api/themes/x",
          "voila/query/" + str(uuid.uuid4()), "workbench/api/ready", "workbench/static/plotly-widget.js",
          "workbench/static/..%2F..%2Fconfig.py", "static/favicon.ico"]


def _data_leaked(body: bytes) -> list[str]:
    text = body.decode("utf-8", "replace")
    markers = ["root:x:0", '"cells"', "kiosk_app", "from workbench", "get_settings", '"content":', '"kernel_ids"',
               '"type": "directory"', "Traceback", "/work/", "kernel.json", "token"]
    return [m for m in markers if m in text]


# ====================================================================== files and configuration (no server)
def test_token_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "workbench" / "kiosk_token"
    token = load_or_create_token(path)
    assert len(token) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_token(path) == token
    path.chmod(0o644)  # someone loosened it: made private again, same token
    assert load_or_create_token(path) == token and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert launcher.token_path() == Path.home() / ".config" / "workbench" / "kiosk_token"


def test_generated_configuration_is_locked_down(tmp_path: Path) -> None:
    config = voila_config(host="127.0.0.1", port=1234, token="t" * 43)
    voila, conf = config["Voila"], config["VoilaConfiguration"]
    assert voila["ip"] == "127.0.0.1" and voila["token"] == "t" * 43 and voila["port_retries"] == 0
    assert conf["strip_sources"] is True and conf["show_tracebacks"] is False
    assert conf["file_allowlist"] == [] and conf["file_denylist"] == [".*"]
    assert conf["preheat_kernel"] is True and 1 <= conf["default_pool_size"] <= 2
    assert config["MappingKernelManager"]["cull_idle_timeout"] == 0  # culling breaks pre-started kernels
    assert conf["allow_template_override"] == "NO" and conf["allow_theme_override"] == "NO"
    server = KioskServer(port=1234, token="t" * 43)
    runtime = server.prepare_runtime()
    try:
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
        assert stat.S_IMODE((runtime / "voila.json").stat().st_mode) == 0o600
        spec = json.loads((runtime / "share" / "kernels" / "workbench-kiosk" / "kernel.json").read_text())
        import sys

        assert spec["argv"][0] == sys.executable
        command = server.command()
        assert command[-2] == str(launcher.KIOSK_NOTEBOOK)  # single-notebook mode, never a directory
        assert not (Path.cwd() / "voila.py").exists()
        env = server.environment()
        assert env["JUPYTER_PATH"].split(":")[0] == str(runtime / "share")
        assert env["JUPYTER_CONFIG_DIR"].startswith(str(runtime))
    finally:
        server.stop()
    assert not runtime.exists()


def test_kiosk_notebook_metadata() -> None:
    import nbformat

    nb = nbformat.read(launcher.KIOSK_NOTEBOOK, as_version=4)
    assert nb.metadata.kernelspec.name == launcher.KERNEL_NAME
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and "kiosk_app()" in code[0].source
    assert code[0].metadata.get("jupyter", {}).get("source_hidden") is True


# ====================================================================== the running server
def test_token_file_and_printed_address(kiosk) -> None:  # noqa: ANN001 - fixture types live in conftest
    assert stat.S_IMODE(kiosk.token_file.stat().st_mode) == 0o600
    assert kiosk.token_file.read_text().strip() == kiosk.token
    assert kiosk.url == f"http://127.0.0.1:{kiosk.port}/?token={kiosk.token}"
    # the runtime folder holding voila.json (the token) is private
    cmdline = Path(f"/proc/{kiosk.server_pid()}/cmdline").read_bytes().split(b"\0")
    runtime = Path(next(a for a in cmdline if a.startswith(b"--Voila.config_file_paths=")).split(b"=", 1)[1].decode())
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert stat.S_IMODE((runtime / "voila.json").stat().st_mode) == 0o600


def test_listens_on_loopback_only(kiosk) -> None:  # noqa: ANN001
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).is_file():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if int(port, 16) == kiosk.port and state == "0A":  # LISTEN
                listening.append(address)
    assert listening == ["0100007F"], listening  # 127.0.0.1 only (no 0.0.0.0, no ::)


def test_without_token_every_path_goes_to_login(kiosk) -> None:  # noqa: ANN001
    for path in PROBES + ["?token=wrong", "voila/api/shutdown/" + str(uuid.uuid4())]:
        status, headers, body = kiosk.request(path, token=False)
        location = headers.get("Location", "")
        assert status in (302, 403), (path, status)
        if status == 302:
            assert location.startswith("/login") or "/login?" in location, (path, location)
        assert not _data_leaked(body), (path, _data_leaked(body))
    status, _, _ = kiosk.request("voila/api/shutdown/" + str(uuid.uuid4()), token=False, method="POST", data=b"")
    assert status == 403
    status, _, body = kiosk.request("login", token=False)
    assert status == 200 and b"kiosk_app" not in body


def test_with_token_nothing_but_the_page(kiosk) -> None:  # noqa: ANN001
    for path in PROBES:
        if path in ("", "workbench/api/ready", "workbench/static/plotly-widget.js") or path.startswith((
                "voila/static/", "voila/templates/", "voila/labextensions/")):
            continue  # the page itself, the pool state, and the package assets (scripts, styles, fonts)
        status, headers, body = kiosk.request(path, follow=True)
        assert status in (400, 403, 404), (path, status, body[:200])  # 400: a websocket route asked over HTTP
        assert not _data_leaked(body), (path, _data_leaked(body))
    # the package assets the page needs are served with the token, and are only package files
    status, headers, _ = kiosk.request("voila/static/voila.js")
    assert status == 200 and "javascript" in headers.get("Content-Type", "")
    status, headers, body = kiosk.request("workbench/static/plotly-widget.js")  # plotly's widget code, as shipped
    assert status == 200 and "javascript" in headers.get("Content-Type", "") and b"as FigureModel" in body


def _assert_security_headers(headers: dict[str, str], where: str) -> None:
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, (where, csp)
    assert "http:" not in csp and "https:" not in csp and "*" not in csp, (where, csp)
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "no-referrer", where


def test_security_headers_on_every_kind_of_response(kiosk) -> None:  # noqa: ANN001
    for path, token in [("", False), ("voila/static/voila.js", True), ("voila/files/x", True),
                        ("workbench/api/ready", True), ("api/kernels/" + str(uuid.uuid4()), True),
                        ("voila/labextensions/@jupyter-widgets/jupyterlab-manager/package.json", True),
                        ("voila/templates/lab/static/index.css", True)]:
        _, headers, _ = kiosk.request(path, token=token)
        _assert_security_headers(headers, path)
    # the login page: the same, except "same-origin" referrers (its form must be posted with its origin)
    _, headers, _ = kiosk.request("login", token=False)
    _assert_security_headers({**headers, "Referrer-Policy": "no-referrer"}, "login")
    assert headers.get("Referrer-Policy") == "same-origin"


async def _kernel_socket_exchange(ws_url: str, token: str, probe_file: Path) -> list[str]:
    """Send a crafted execute_request (write ``probe_file``) and a kernel_info_request on the kernel websocket;
    return the message types received within a few seconds."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    def message(msg_type: str, content: dict) -> str:
        header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "x", "session": uuid.uuid4().hex,
                  "date": "2026-01-01T00:00:00Z", "version": "5.3"}
        return json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content,
                           "channel": "shell", "buffers": []})

    connection = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    code = f"open({str(probe_file)!r}, 'w').write('pwned')"
    connection.write_message(message("execute_request", {"code": code, "silent": False, "store_history": False,
                                                         "user_expressions": {}, "allow_stdin": False,
                                                         "stop_on_error": True}))
    connection.write_message(message("kernel_info_request", {}))
    received: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 6
    while loop.time() < deadline:
        try:
            raw = await asyncio.wait_for(connection.read_message(), timeout=max(0.1, deadline - loop.time()))
        except asyncio.TimeoutError:
            break
        if raw is None:
            break
        if isinstance(raw, str):
            received.append(json.loads(raw)["header"]["msg_type"])
    connection.close()
    return received


def test_page_has_no_source_and_kernel_ignores_code(kiosk, browser, tmp_path: Path, artifacts: Path) -> None:  # noqa: ANN001
    log = RequestLog().attach(browser)
    page = log.watch(browser.new_page())
    response = page.goto(kiosk.url, wait_until="load", timeout=90000)
    _assert_security_headers({k.title(): v for k, v in response.all_headers().items()}, "page")
    page.locator("#rendered_cells").wait_for(state="visible", timeout=90000)
    page.wait_for_timeout(1000)
    html = page.content()
    for marker in ("kiosk_app(", "from workbench", "display(", "Traceback", "ModuleNotFoundError", "ipykernel",
                   "/work/", str(Path.home())):
        assert marker not in html, marker
    assert not page.locator(".jp-InputArea, .jp-OutputArea-output pre.traceback").count()
    page.screenshot(path=str(artifacts / "security_page.png"))

    kid = kernel_id(page)
    assert kid, "no kernel id in the page"
    probe_file = tmp_path / "executed.txt"
    ws_url = f"ws://127.0.0.1:{kiosk.port}/api/kernels/{kid}/channels"
    received = _in_thread(_kernel_socket_exchange(ws_url, kiosk.token, probe_file))
    assert "kernel_info_reply" in received, received  # the channel works ...
    assert "execute_reply" not in received and "execute_input" not in received, received
    page.wait_for_timeout(1500)
    assert not probe_file.exists(), "the crafted execute_request ran code in the kernel"
    # ... and the kernel websocket needs the token
    with pytest.raises(Exception):
        _in_thread(_anonymous_socket(ws_url))
    assert not log.external, log.external
    assert log.hosts() <= {"127.0.0.1"}, log.hosts()
    assert not log.csp_violations(), log.csp_violations()


def _in_thread(coroutine: object) -> object:
    """Run a coroutine on its own event loop in another thread (playwright's sync API owns this thread's loop)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


async def _anonymous_socket(ws_url: str) -> None:
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(ws_url)
    connection.close()


def test_kernel_of_a_vanished_page_is_shut_down(kiosk, browser) -> None:  # noqa: ANN001
    """A page gone without its unload request (browser killed): the kernel is shut down once nothing has been
    connected to it for the timeout; the pre-started kernels are left alone."""
    import time

    page = browser.new_page()
    page.goto(kiosk.url, wait_until="load", timeout=90000)
    page.locator("#rendered_cells").wait_for(state="visible", timeout=90000)
    kid = kernel_id(page)
    page.wait_for_timeout(DISCONNECTED_TIMEOUT_S * 1000 + 3000)  # connected the whole time: not touched
    assert kiosk.request(f"api/kernels/{kid}")[0] == 200
    page.close(run_before_unload=False)  # no beforeunload: no shutdown request
    time.sleep(2)
    assert kiosk.request(f"api/kernels/{kid}")[0] == 200  # not at once ...
    deadline = time.monotonic() + DISCONNECTED_TIMEOUT_S * 3 + 20
    while kiosk.request(f"api/kernels/{kid}")[0] == 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert kiosk.request(f"api/kernels/{kid}")[0] == 404, "the kernel of a vanished page was never shut down"
    state = kiosk.wait_pool(120)  # ... and the pool is intact
    assert state["rendered"] == state["pool_size"]


def test_login_page_asks_for_the_token(kiosk, browser, artifacts: Path) -> None:  # noqa: ANN001
    """Without the token the browser lands on a plain login page (nothing fetched before login, no password
    setting); a wrong token is refused, the right one opens the kiosk."""
    log = RequestLog().attach(browser)
    page = log.watch(browser.new_page())
    page.goto(kiosk.base_url, wait_until="load")
    assert "/login" in page.url
    text = page.locator("body").inner_text()
    assert "Access token" in text and "password" not in text.lower().replace("type=password", "")
    assert not page.locator("input[name=new_password]").count()
    page.screenshot(path=str(artifacts / "kiosk_login.png"))
    page.fill("#password", "wrong-token")
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert "not right" in page.locator("body").inner_text()
    page.fill("#password", kiosk.token)
    page.click("button[type=submit]")
    page.locator("#rendered_cells").wait_for(state="visible", timeout=90000)
    assert "/login" not in page.url
    assert not log.external and not log.csp_violations(), (log.external, log.csp_violations())
    page.close(run_before_unload=True)
