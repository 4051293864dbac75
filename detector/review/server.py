"""``ccount review serve``: the review page on a local starlette + uvicorn server.

Routes (every one behind the token and Host checks):

- ``GET /`` the page (``static/index.html`` with the token in a meta tag);
- ``GET /static/<name>`` the page's own JS/CSS (a fixed list of names, no path lookup);
- ``GET /chip/<unit_id>.png`` a unit's chip, found through the round by id;
- ``GET /api/state`` units in review order, progress, where to resume;
- ``GET /api/unit/<unit_id>`` one unit with its candidates in chip pixels;
- ``POST /api/action`` one action (accept, reject, kind, move, add, delete, complete,
  reopen, undo) through :meth:`Round.apply`/:meth:`Round.undo`: journalled and written
  before the response.

Security: a random token (``secrets.token_urlsafe``) is needed on every request: as the
``token`` query parameter (the printed URL), the ``X-CCount-Token`` header (the page's
fetches) or, for GET only, the cookie the first page load sets (``ccount_token_<port>``,
``SameSite=Strict``, ``HttpOnly``); without it 401. The Host header must name the bound
address and port (``localhost:<port>`` too when bound to a loopback address), else 400: a
page on another site whose name was rebound to this address (DNS rebinding) cannot talk to
it. Nothing from a request becomes a file path: chips are looked up by unit id in the
round. A non-loopback host needs ``allow_remote`` and prints a warning; a wildcard host
(0.0.0.0, ::) is refused, as no Host header could name it.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import TextIO

from ..errors import ConfigError, ReviewError
from .round import Round
from .view import state_view, unit_view

__all__ = ["TOKEN_HEADER", "build_app", "is_loopback", "serve"]

TOKEN_HEADER = "x-ccount-token"
COOKIE = "ccount_token"
MAX_BODY = 64 * 1024
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
ACTION_KEYS = ("action", "unit", "cand", "kind", "chip_corners", "seconds")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_names(host: str, port: int) -> set[str]:
    """The Host header values a request to ``host:port`` may carry."""
    h = f"[{host}]" if ":" in host else host
    names = {f"{h}:{port}"}
    if is_loopback(host):
        names.add(f"localhost:{port}")
    return {n.lower() for n in names}


def _static(name: str) -> bytes:
    return (resources.files("detector.review") / "static" / name).read_bytes()


def build_app(rnd: Round, *, token: str, hosts: set[str], cookie: str = COOKIE):
    """The starlette app serving ``rnd``. ``token``: the secret every request must carry;
    ``hosts``: the accepted Host header values (``host:port``, lower case); ``cookie``: the
    cookie's name (browsers share cookies between ports: one name per port)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    lock = threading.Lock()  # one request at a time touches the round's in-memory state
    live = _Live(rnd)
    index = _static("index.html").decode("utf-8")

    def page(request: Request) -> Response:
        html = index.replace("{{TOKEN}}", token).replace("{{ROUND}}", _attr(rnd.path.name))
        resp = Response(html, media_type="text/html; charset=utf-8")
        resp.set_cookie(cookie, token, httponly=True, samesite="strict", path="/")
        return resp

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        return Response(_static(name), media_type=STATIC[name])

    def chip(request: Request) -> Response:
        unit_id = request.path_params["unit_id"]
        with lock:
            rnd = live.get()
            if unit_id not in rnd.chips:
                return PlainTextResponse("no such unit", status_code=404)
            data = rnd.chip_png(unit_id).read_bytes()
        return Response(data, media_type="image/png")

    def state(request: Request) -> Response:
        with lock:
            return JSONResponse(state_view(live.get()))

    def unit(request: Request) -> Response:
        unit_id = request.path_params["unit_id"]
        with lock:
            rnd = live.get()
            if unit_id not in rnd.units:
                return JSONResponse({"error": f"no unit {unit_id}"}, status_code=404)
            return JSONResponse(unit_view(rnd, unit_id))

    async def action(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        try:
            data = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(data, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_apply, data)

    def _apply(data: dict) -> Response:
        act = {k: data[k] for k in ACTION_KEYS if k in data}
        act["by"] = "browser"
        with lock:
            rnd = live.get()
            try:
                if act.get("action") == "undo":
                    result = rnd.undo(by="browser", seconds=act.get("seconds"))
                else:
                    result = rnd.apply(act)
            except ReviewError as e:
                return JSONResponse({"error": " ".join(str(e).split())}, status_code=400)
            finally:
                live.wrote()
            unit_id = result.unit_id
            cand_id = getattr(result, "cand_id", None)
            if act.get("action") == "delete" or (
                cand_id is not None and cand_id not in rnd.candidates
            ):
                cand_id = None
            return JSONResponse(
                {
                    "unit_id": unit_id,
                    "cand_id": cand_id,
                    "view": unit_view(rnd, unit_id),
                    "state": state_view(rnd),
                }
            )

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/static/{name:str}", static, methods=["GET"]),
        Route("/chip/{unit_id:int}.png", chip, methods=["GET"]),
        Route("/api/state", state, methods=["GET"]),
        Route("/api/unit/{unit_id:int}", unit, methods=["GET"]),
        Route("/api/action", action, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    return _Guard(app, token=token, hosts=hosts, cookie=cookie)


class _Live:
    """The open round, opened again when another process (``ccount review import``, a
    second server) changed its journal or queue since this server last saw them."""

    def __init__(self, rnd: Round):
        self.rnd = rnd
        self.seen = self._stamp()

    def _stamp(self) -> tuple:
        out = []
        for path in (self.rnd.journal_path, self.rnd.queue_path):
            try:
                st = path.stat()
            except OSError:
                return ()
            out += [st.st_ino, st.st_size, st.st_mtime_ns]
        return tuple(out)

    def get(self) -> Round:
        stamp = self._stamp()
        if stamp != self.seen:
            try:
                self.rnd = Round.open(self.rnd.path)
            except ReviewError:
                return self.rnd  # mid-change by another writer: the last good state
            self.seen = stamp
        return self.rnd

    def wrote(self) -> None:
        """After this server's own write: the round in memory is current."""
        self.seen = self._stamp()


def _attr(text: str) -> str:
    """``text`` safe inside an HTML attribute or text node."""
    import html

    return html.escape(text, quote=True)


class _Guard:
    """ASGI middleware: the Host check (400), then the token check (401), then security
    headers on every response."""

    def __init__(self, app, *, token: str, hosts: set[str], cookie: str):
        self.app, self.token, self.hosts, self.cookie = app, token.encode(), hosts, cookie

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        host = headers.get("host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            return await _plain(send, 400, "invalid Host header")
        if not self._authorised(scope, headers):
            return await _plain(send, 401, "token required: open the URL that ccount printed")

        async def send_secure(message):
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        return await self.app(scope, receive, send_secure)

    def _authorised(self, scope, headers: dict[str, bytes]) -> bool:
        from urllib.parse import parse_qs

        offered = [headers.get(TOKEN_HEADER, b"")]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        offered += [v.encode() for v in query.get("token", [])]
        if scope["method"] in ("GET", "HEAD"):
            from starlette.requests import cookie_parser

            jar = cookie_parser(headers.get("cookie", b"").decode("latin-1"))
            if self.cookie in jar:
                offered.append(jar[self.cookie].encode())
        return any(o and secrets.compare_digest(o, self.token) for o in offered)


async def _plain(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(64)
    except OSError as e:
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({e})") from e
    return sock


def serve(
    round_path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_remote: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> None:
    """Serve the review page of the round at ``round_path`` until interrupted. Prints the
    page's URL (token included) on a line of its own that starts with ``http://``."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected 0..65535 (0 = any free port)")
    if host in ("", "0.0.0.0", "::"):
        raise ConfigError(
            f"--host {host or repr(host)}: give the one address the reviewer's browser will "
            "use (requests must name it in their Host header), not a wildcard"
        )
    if not is_loopback(host):
        if not allow_remote:
            raise ConfigError(
                f"--host {host}: not a loopback address; anyone who can reach it and learns "
                "the token can edit the round. Pass --allow-remote to serve it anyway"
            )
        print(
            f"warning: serving on {host}, reachable from other machines; share the URL "
            "only over a trusted network",
            file=err,
            flush=True,
        )
    rnd = Round.open(Path(round_path))
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    app = build_app(rnd, token=token, hosts=_host_names(host, bound), cookie=f"{COOKIE}_{bound}")
    shown = f"[{host}]" if ":" in host else host
    print(f"review page of {rnd.path} (Ctrl-C to stop):", file=out)
    print(f"http://{shown}:{bound}/?token={token}", file=out, flush=True)

    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if server.should_exit:  # stopped by Ctrl-C/SIGTERM: uvicorn re-raises the signal after
        # shutting down, but asyncio's own SIGINT handler can swallow it when the main task
        # has already finished (seen under load): exit as interrupted either way
        raise KeyboardInterrupt
