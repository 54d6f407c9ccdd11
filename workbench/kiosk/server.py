"""The kiosk's Voila process: ``python -m workbench.kiosk.server NOTEBOOK`` (started by `workbench.kiosk.launcher`).

Voila 0.5.13 with these changes, made when the handlers are registered:

* every route needs the login (token or its cookie), not only the notebook and kernel routes. Voila's own
  static, template and file routes (`/voila/static`, `/voila/templates`, `/voila/files`) and the request-info
  websocket (`/voila/query`) are plain tornado handlers that answer anyone; here each one gets Jupyter's handler
  as a base, so it asks the identity provider first (redirect to `/login` for GET, 403 otherwise) and sends the
  security headers of ``tornado_settings["headers"]`` like every other page. Only `/login` stays open.
* the page sets Voila's missing ``_xsrf`` cookie, so the shutdown request a page sends when it is closed is
  accepted (without it, with a token, every closed page left its kernel running);
* a kernel no page has been connected to for ``KioskVoila.disconnected_kernel_timeout`` seconds (default 600)
  is shut down (a page that went without saying so); pre-started kernels are never touched;
* a plain, self-contained login page asking for the access token (Jupyter's needs stylesheets behind the login
  and offers to set a password);
* ``GET /workbench/static/plotly-widget.js`` (login required): plotly's widget code, which the kiosk's figures
  import instead of carrying it in their state (5 MB per figure);
* ``GET /workbench/api/ready`` (login required) says how many pre-started kernels have finished running the
  notebook, so the launcher can say "ready" when the first visitor will get a rendered page at once.

The configuration (token, host, port, lock-down, headers) comes from the ``voila.json`` the launcher writes in
its private runtime folder; the launcher sets ``Voila.config_file_paths`` to that folder only.
"""
from __future__ import annotations

import html
import inspect
import json
import sys
import time
from http.client import responses
from pathlib import Path
from urllib.parse import urlencode

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.escape import url_escape
from traitlets import Float
from voila.app import Voila
from voila.voila_identity_provider import VoilaLoginHandler
from voila.tornado.handler import TornadoVoilaHandler

from .launcher import PLOTLY_BUNDLE_PATH

_GATED: dict[type, type] = {}


async def _prepare_with_login(handler: JupyterHandler, parent_prepare: object) -> None:
    result = parent_prepare()
    if inspect.isawaitable(result):
        await result
    if handler._finished:
        return
    if handler.current_user is not None:
        if handler.request.method == "GET" and isinstance(handler, TornadoVoilaHandler):
            # the page's unload request (which shuts its kernel down) sends the `_xsrf` cookie's value; Voila never
            # sets that cookie, so with a login the request is refused and the kernel of a closed page lives on
            handler.xsrf_token  # noqa: B018 - the property sets the cookie
        return
    websocket = handler.request.headers.get("Upgrade", "").lower() == "websocket"
    if handler.request.method in ("GET", "HEAD") and not websocket:
        handler.redirect(handler.get_login_url() + "?" + urlencode({"next": handler.request.uri}))
        return
    raise web.HTTPError(403)


def _plain_error_page(self: JupyterHandler, status_code: int, **kwargs: object) -> None:
    """A short error page. (Jupyter Server's error template needs a ``static_path`` that Voila does not set, so
    the stock one fails and logs a traceback.)"""
    self.set_header("Content-Type", "text/html; charset=UTF-8")
    reason = html.escape(self._reason or responses.get(status_code, "Error"))
    self.finish(f"<!DOCTYPE html><html><head><title>{status_code}</title></head>"
                f"<body><h1>{status_code}: {reason}</h1></body></html>")


_SERVER_ERROR_PAGES = (JupyterHandler.write_error, web.RequestHandler.write_error)


class KioskLoginHandler(VoilaLoginHandler):
    """The login page: one field for the kiosk's access token, in plain words, self-contained (no stylesheet to
    fetch before login, no Jupyter wording, no password-setting form)."""

    def _render(self, message: dict | None = None) -> None:
        error = ""
        if message and message.get("error"):
            error = "<p class='err'>That access token is not right. Please try again.</p>"
        next_url = html.escape(url_escape(self.get_argument("next", default=self.base_url)), quote=True)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        # with "no-referrer" the browser posts this form with "Origin: null", which Jupyter's origin check refuses
        # (404); "same-origin" still sends nothing to another site
        self.set_header("Referrer-Policy", "same-origin")
        self.write(f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>AI4Cardio Workbench - sign in</title>
<style>body{{font-family:system-ui,sans-serif;font-size:18px;max-width:640px;margin:12vh auto;padding:0 16px;color:#263238}}
h1{{font-size:26px}} input[type=password]{{font-size:18px;padding:8px;width:100%;box-sizing:border-box}}
button{{font-size:18px;padding:8px 22px;margin-top:12px}} .err{{color:#b71c1c}} .note{{color:#546e7a;font-size:16px}}</style>
</head><body><h1>AI4Cardio Workbench</h1>
<form method="post" action="{html.escape(self.get_login_url(), quote=True)}?next={next_url}">
{self.xsrf_form_html()}<label for="password">Access token</label><br>
<input type="password" id="password" name="password" autocomplete="off" autofocus><br>
<button type="submit">Open the kiosk</button></form>{error}
<p class="note">The address printed by <code>workbench kiosk</code> includes the token; it is also kept in
<code>~/.config/workbench/kiosk_token</code> on the computer running the kiosk.</p></body></html>""")


class LogoutHandler(JupyterHandler):
    """Forget the login cookie and go back to the login page (Jupyter Server's own logout page needs templates
    Voila does not ship)."""

    @allow_unauthenticated
    def get(self) -> None:
        self.identity_provider.clear_login_cookie(self)
        self.redirect(self.get_login_url())


def _login_required(cls: type) -> type:
    """A subclass of ``cls`` (with Jupyter's handler as a base when it has not) that refuses anonymous requests
    (redirect to the login page for a GET of a page, 403 otherwise), even for methods marked as open."""
    if cls not in _GATED:
        bases = (cls,) if issubclass(cls, JupyterHandler) else (cls, JupyterHandler)

        async def prepare(self: JupyterHandler, *args: object, **kwargs: object) -> None:
            await _prepare_with_login(self, lambda: super(gated, self).prepare(*args, **kwargs))

        namespace: dict[str, object] = {"__module__": __name__, "prepare": prepare}
        if not issubclass(cls, APIHandler) and getattr(cls, "write_error", None) in _SERVER_ERROR_PAGES:
            namespace["write_error"] = _plain_error_page
        gated = type(f"LoginRequired{cls.__name__}", bases, namespace)
        _GATED[cls] = gated
    return _GATED[cls]


class ReadyHandler(APIHandler):
    """Pool state: ``{"pool_size": N, "started": k, "rendered": r}`` (r = kernels that finished the notebook)."""

    @web.authenticated
    def get(self) -> None:
        manager = self.kernel_manager
        pools = getattr(manager, "_pools", {}) or {}
        started = rendered = 0
        for pool in pools.values():
            for item in pool:
                if not item.done() or item.cancelled() or item.exception() is not None:
                    continue
                started += 1
                task = item.result().get("task")
                if task is not None and task.done():
                    rendered += 1
        app = self.settings.get("voila")
        size = app.voila_configuration.default_pool_size if app is not None else 0
        self.finish(json.dumps({"pool_size": size, "started": started, "rendered": rendered}))


class PlotlyBundleHandler(JupyterHandler):
    """plotly's widget code, which the kiosk's figures import from here (see `workbench.ui.common`): 5 MB fetched
    once and kept by the browser, instead of travelling inside the state of every figure on every page."""

    _body: bytes | None = None

    def get(self) -> None:
        if PlotlyBundleHandler._body is None:
            PlotlyBundleHandler._body = plotly_bundle_path().read_bytes()
        self.set_header("Content-Type", "text/javascript; charset=UTF-8")
        self.set_header("Cache-Control", "private, max-age=86400")
        self.finish(PlotlyBundleHandler._body)


def plotly_bundle_path() -> Path:
    """The browser code of plotly's FigureWidget, as the installed plotly ships it."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"


class KioskVoila(Voila):
    """Voila with login on every route, the pool-state route, and the shutdown of abandoned kernels."""

    disconnected_kernel_timeout = Float(
        600.0, config=True,
        help="""Shut down a visitor's kernel once no page has been connected to it for this many seconds (0: never).
        A closed page shuts its kernel down at once; this catches pages that went without saying so (browser
        killed, machine asleep). Kernels waiting in the pre-started pool are never touched, and a kernel is only
        counted as abandoned after it has been handed out, so it does not cull a kernel whose page is loading
        (which Jupyter's idle culling does with pre-started kernels).""")

    def init_handlers(self) -> list:
        if self.disconnected_kernel_timeout > 0:
            from tornado.ioloop import PeriodicCallback

            self._disconnected_since: dict[str, float] = {}
            interval_s = min(30.0, max(1.0, self.disconnected_kernel_timeout / 4))
            self._reaper = PeriodicCallback(self._shut_down_abandoned_kernels, interval_s * 1000)
            self._reaper.start()
        if self.app.settings.get("allow_unauthenticated_access"):
            raise RuntimeError("the kiosk never allows unauthenticated access")
        open_classes = {spec[1] for spec in self.identity_provider.get_handlers()}  # /login, /logout
        handlers = [(url_path_join(self.server_url, r"/workbench/api/ready"), _login_required(ReadyHandler)),
                    (url_path_join(self.server_url, PLOTLY_BUNDLE_PATH), _login_required(PlotlyBundleHandler))]
        for spec in super().init_handlers():
            if isinstance(spec, tuple) and len(spec) >= 2 and isinstance(spec[1], type):
                if spec[1] not in open_classes:
                    spec = (spec[0], _login_required(spec[1]), *spec[2:])
                elif spec[0].rstrip("/").endswith("/logout"):
                    spec = (spec[0], LogoutHandler)
                elif spec[0].rstrip("/").endswith("/login"):
                    spec = (spec[0], KioskLoginHandler, *spec[2:])
            handlers.append(spec)
        return handlers


    def _pooled_kernel_ids(self) -> set[str]:
        ids = set()
        for pool in (getattr(self.kernel_manager, "_pools", None) or {}).values():
            for item in pool:
                if item.done() and not item.cancelled() and item.exception() is None:
                    ids.add(item.result().get("kernel_id"))
        return ids

    async def _shut_down_abandoned_kernels(self) -> None:
        manager = self.kernel_manager
        connections = getattr(manager, "_kernel_connections", {})
        pooled, now = self._pooled_kernel_ids(), time.monotonic()
        running = set(manager.list_kernel_ids())
        for kernel_id in list(self._disconnected_since):
            if kernel_id not in running:
                del self._disconnected_since[kernel_id]
        for kernel_id in running:
            if kernel_id in pooled or connections.get(kernel_id, 0) > 0:
                self._disconnected_since.pop(kernel_id, None)
                continue
            since = self._disconnected_since.setdefault(kernel_id, now)
            if now - since >= self.disconnected_kernel_timeout:
                self._disconnected_since.pop(kernel_id, None)
                self.log.warning("Shutting down kernel %s: no page connected for %.0f s", kernel_id, now - since)
                try:
                    await ensure_async(manager.shutdown_kernel(kernel_id))
                except Exception:  # noqa: BLE001 - already gone, or shutting down
                    self.log.info("kernel %s could not be shut down (already gone?)", kernel_id)


def main(argv: list[str] | None = None) -> None:
    KioskVoila.launch_instance(argv=argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
