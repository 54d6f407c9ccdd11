"""The kiosk's Voila process: ``python -m workbench.kiosk.server NOTEBOOK`` (started by `workbench.kiosk.launcher`).

Voila 0.5.13 with two changes, both made when the handlers are registered:

* every route needs the login (token or its cookie), not only the notebook and kernel routes. Voila's own
  static, template and file routes (`/voila/static`, `/voila/templates`, `/voila/files`) and the request-info
  websocket (`/voila/query`) are plain tornado handlers that answer anyone; here each one gets Jupyter's handler
  as a base, so it asks the identity provider first (redirect to `/login` for GET, 403 otherwise) and sends the
  security headers of ``tornado_settings["headers"]`` like every other page. Only `/login` stays open.
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
from http.client import responses
from urllib.parse import urlencode

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from voila.app import Voila

_GATED: dict[type, type] = {}


async def _prepare_with_login(handler: JupyterHandler, parent_prepare: object) -> None:
    result = parent_prepare()
    if inspect.isawaitable(result):
        await result
    if handler._finished or handler.current_user is not None:
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


class KioskVoila(Voila):
    """Voila with login on every route and the pool-state route."""

    def init_handlers(self) -> list:
        if self.app.settings.get("allow_unauthenticated_access"):
            raise RuntimeError("the kiosk never allows unauthenticated access")
        open_classes = {spec[1] for spec in self.identity_provider.get_handlers()}  # /login, /logout
        handlers = [(url_path_join(self.server_url, r"/workbench/api/ready"), _login_required(ReadyHandler))]
        for spec in super().init_handlers():
            if isinstance(spec, tuple) and len(spec) >= 2 and isinstance(spec[1], type):
                if spec[1] not in open_classes:
                    spec = (spec[0], _login_required(spec[1]), *spec[2:])
                elif spec[0].rstrip("/").endswith("/logout"):
                    spec = (spec[0], LogoutHandler)
            handlers.append(spec)
        return handlers


def main(argv: list[str] | None = None) -> None:
    KioskVoila.launch_instance(argv=argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
