"""The studio's web server: Starlette routes served by uvicorn on 127.0.0.1.

Every request but the package's own static files needs the per-run token
(``?token=`` in the printed URL, then a ``SameSite=Strict`` cookie, or an
``X-Studio-Token`` header for scripts). The ``Host`` header must name the
address the studio listens on (no DNS rebinding), and a write (PUT, POST,
DELETE) with an ``Origin`` must come from the studio's own origin. Bad
requests get a 4xx JSON ``{"error": "..."}`` and change nothing.

Endpoints handle their work in ``def`` functions, which Starlette runs in a
thread pool: file writes and OpenCV decoding never block the event loop.
"""

import csv
import io
import json
import os
import re
import secrets
import socket
import threading
import time
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tfxai.errors import TfxaiError
from tfxai.studio.editing import FrameLabelsEditor, MapsFolder
from tfxai.studio.frames import FrameCache
from tfxai.studio.workspace import RequestError, Workspace, folder_kind

__all__ = ["Studio", "StudioServer", "build_app"]

STATIC = os.path.join(os.path.dirname(__file__), "static")
PAGES = {"/": "index.html", "/label": "label.html", "/review": "review.html", "/attention": "attention.html",
         "/explain": "explain.html"}
INCLUDE = re.compile(r"<!--#include (_[\w-]+\.html)-->\n?")  # a shared piece of markup, static/_<name>.html
COOKIE = "tfxai_studio_token"
WRITE_METHODS = ("PUT", "POST", "DELETE", "PATCH")
MAX_JSON = 1 << 20  # 1 MB of boxes is far more than a frame holds
MAX_MAP = 16 << 20  # a 4096x4096 map


class Studio:
    """What one studio run serves: a :class:`Workspace`, a token and a frame cache.

    Parameters
    ----------
    roots : list of str
        The folders served (label folders, attention-map folders, reports, or folders holding them).
    videos : dict, optional
        ``{label folder: video}`` overriding the video named in ``meta.json``.
    token : str, optional
        The per-run secret (a random one by default).
    frames : FrameCache, optional
        Where frames come from (default: an LRU of 64 in front of the disk cache of every frame).
    """

    def __init__(self, roots, videos=None, token=None, frames=None):
        self.workspace = Workspace(roots, videos)
        self.token = token or secrets.token_urlsafe(18)
        self.frames = frames if frames is not None else FrameCache()
        self.allowed_hosts = set()

    def allow(self, host, port):
        """Accept ``Host: host:port`` (and the localhost spellings when listening on loopback)."""
        names = {host}
        if host in ("127.0.0.1", "localhost", "::1"):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        if host in ("0.0.0.0", "::"):
            names |= {"127.0.0.1", "localhost", socket.gethostname()}
        self.allowed_hosts |= {f"{name}:{port}" for name in names}

    def url(self, host, port, page="/"):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{port}{page}?token={self.token}"


# === Security ===


class _Guard:
    """ASGI middleware: Host check, token check (cookie after the first page), same-origin writes, JSON errors."""

    def __init__(self, app, studio):
        self.app, self.studio = app, studio

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            return await _error(*refusal)(scope, receive, send)
        if request.query_params.get("token") and request.method == "GET" and request.url.path in PAGES:
            # first load from the printed URL: keep the token in a cookie and drop it from the address bar
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(COOKIE, self.studio.token, httponly=True, samesite="strict")
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    def _refusal(self, request):
        studio = self.studio
        host = request.headers.get("host", "")
        if studio.allowed_hosts and host not in studio.allowed_hosts:
            return 421, f"Host {host!r} is not this studio: open the URL it printed"
        if request.url.path.startswith("/static/"):
            return None
        given = (request.query_params.get("token") or request.headers.get("x-studio-token")
                 or request.cookies.get(COOKIE) or "")
        if not secrets.compare_digest(given.encode(), studio.token.encode()):
            return 403, "missing or wrong token: open the URL printed by 'tfxai studio' (it ends in ?token=...)"
        if request.method in WRITE_METHODS:
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] not in studio.allowed_hosts:
                return 403, f"cross-origin write from {origin} refused"
            if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return 403, "cross-site write refused"
        return None


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def _handles_errors(function):
    def endpoint(request):
        try:
            return function(request)
        except RequestError as error:
            return _error(error.status, error.message)
        except TfxaiError as error:
            return _error(400, str(error))

    endpoint.__name__ = function.__name__
    return endpoint


def _json(data, status=200):
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def _int(request, name, low=0):
    text = request.query_params.get(name)
    if text is None:
        raise RequestError(400, f"missing {name}=<integer>")
    try:
        value = int(text)
    except ValueError:
        raise RequestError(400, f"{name}={text!r} is not an integer") from None
    if value < low:
        raise RequestError(400, f"{name}={value} must be at least {low}")
    return value


# === Routes ===


def render_page(name):
    """The page ``static/<name>`` with each ``<!--#include _<piece>.html-->`` replaced by that shared piece."""

    def piece(match):
        with open(os.path.join(STATIC, match.group(1)), encoding="utf-8") as file:
            return file.read()

    with open(os.path.join(STATIC, name), encoding="utf-8") as file:
        return INCLUDE.sub(piece, file.read())


def build_app(studio):
    """The Starlette application of ``studio`` (routes below, wrapped in the security guard)."""
    workspace = studio.workspace

    def page(request):
        return HTMLResponse(render_page(PAGES[request.url.path]), headers={"Cache-Control": "no-store"})

    def static(request):
        name = request.path_params["name"]
        if "/" in name or name.startswith(".") or not os.path.isfile(os.path.join(STATIC, name)):
            raise RequestError(404, f"no static file {name!r}")
        return FileResponse(os.path.join(STATIC, name))

    def items(request):
        return _json({"items": workspace.items(), "roots": [os.path.basename(r) or r for r in workspace.roots]})

    # --- labels ---

    def _labels(request):
        item = request.query_params.get("item")
        folder = workspace.item_folder(item, "labels")
        return folder, FrameLabelsEditor(folder)

    def _video_info(folder, editor):
        path = workspace.video_of(folder, editor.store.meta)
        return path, studio.frames.info(path)

    def labels(request):
        folder, editor = _labels(request)
        _, info = _video_info(folder, editor)
        return _json({"classes": editor.store.classes, "video": info, "frames": editor.summary(),
                      "name": os.path.basename(folder)})

    def frame_labels(request):
        folder, editor = _labels(request)
        frame = _int(request, "frame")
        _, info = _video_info(folder, editor)
        if frame >= info["frame_count"]:
            raise RequestError(404, f"frame {frame} is outside the video (frames 0 to {info['frame_count'] - 1})")
        if request.method == "GET":
            return _json(editor.read(frame))
        body = _read_json(request)
        if not isinstance(body, dict) or "version" not in body or not isinstance(body["version"], str):
            raise RequestError(400, 'send {"boxes": [...], "reviewed": bool, "version": "<version read>"}')
        return _json(editor.write(frame, body.get("boxes", []), body.get("reviewed", False), body["version"],
                                  size=(info["width"], info["height"])))

    def frame_image(request):
        item = request.query_params.get("item")
        frame = _int(request, "frame")
        file = request.query_params.get("file")
        if file:  # a movie inside a video-explanation folder
            workspace.item_folder(item)
            path = workspace.resolve(item, file)
            if not os.path.isfile(path):
                raise RequestError(404, f"no file {file!r} in {item}")
        else:
            folder, editor = _labels(request)
            path, _ = _video_info(folder, editor)
        return Response(studio.frames.jpeg(path, frame), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    def video_info(request):
        item = request.query_params.get("item")
        workspace.item_folder(item)
        path = workspace.resolve(item, request.query_params.get("file") or "")
        if not os.path.isfile(path):
            raise RequestError(404, "no such video file")
        return _json(studio.frames.info(path))

    # --- attention maps ---

    def _maps(request):
        return MapsFolder(workspace.item_folder(request.query_params.get("item"), "maps"))

    def maps(request):
        return _json(_maps(request).listing())

    def edited_map(request):
        folder = _maps(request)
        name = request.query_params.get("name", "")
        version = request.query_params.get("version")
        if version is None:
            raise RequestError(400, "missing version=<version read> ('' when there is no edited map yet)")
        if request.method == "DELETE":
            return _json(folder.remove(name, version))
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_MAP:
            raise RequestError(413, "map too large")
        body = _read_body(request, MAX_MAP)
        return _json(folder.write(name, body, version))

    # --- explanations and files ---

    def report(request):
        item = request.query_params.get("item")
        folder = workspace.item_folder(item)
        kind = folder_kind(folder)
        if kind == "report":
            return _json({"kind": kind, **_report_summary(folder)})
        if kind == "video":
            with open(os.path.join(folder, "summary.json"), encoding="utf-8") as handle:
                summary = json.load(handle)
            files = sorted(name for name in os.listdir(folder) if name.startswith("clip"))
            return _json({"kind": kind, "summary": summary, "files": files})
        raise RequestError(404, f"{item} is not a report or video explanation")

    def files(request):
        item = request.query_params.get("item")
        workspace.item_folder(item)
        path = workspace.resolve(item, request.query_params.get("path", ""))
        if not os.path.isfile(path):
            raise RequestError(404, "no such file")
        # a served page runs in a sandbox (an opaque origin): it cannot use the studio's cookie to write
        return FileResponse(path, headers={"Cache-Control": "no-store", "Content-Security-Policy": "sandbox",
                                           "X-Content-Type-Options": "nosniff"})

    routes = [Route(path, _handles_errors(page)) for path in PAGES] + [
        Route("/static/{name}", _handles_errors(static)),
        Route("/api/items", _handles_errors(items)),
        Route("/api/labels", _handles_errors(labels)),
        Route("/api/labels/frame", _handles_errors(frame_labels), methods=["GET", "PUT"]),
        Route("/api/frame.jpg", _handles_errors(frame_image)),
        Route("/api/video", _handles_errors(video_info)),
        Route("/api/maps", _handles_errors(maps)),
        Route("/api/maps/edited", _handles_errors(edited_map), methods=["PUT", "DELETE"]),
        Route("/api/report", _handles_errors(report)),
        Route("/files", _handles_errors(files)),
    ]

    async def not_found(request, exc):
        return _error(exc.status_code, exc.detail or "not found")

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found},
                    middleware=[Middleware(_Guard, studio=studio)])
    return _BodyReader(app)


class _BodyReader:
    """Read request bodies before the (synchronous) endpoints run, so they never wait on the network in a worker thread."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_MAP:
                return await _error(413, "request body too large")(scope, receive, send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        scope.setdefault("state", {})["body"] = b"".join(chunks)

        async def replay():
            return {"type": "http.request", "body": scope["state"]["body"], "more_body": False}

        return await self.app(scope, replay, send)


def _read_body(request, limit):
    body = request.scope.get("state", {}).get("body", b"")
    if len(body) > limit:
        raise RequestError(413, "request body too large")
    return body


def _read_json(request):
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise RequestError(415, "send the body as application/json")
    try:
        return json.loads(_read_body(request, MAX_JSON) or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"the body is not JSON ({error})") from None


def _report_summary(folder):
    """Counts and rows of a ``tfxai explain`` report folder (predictions.csv, overlays/)."""
    with open(os.path.join(folder, "predictions.csv"), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    overlays = sorted(os.listdir(os.path.join(folder, "overlays"))) if os.path.isdir(os.path.join(folder, "overlays")) else []
    labelled = [row for row in rows if row.get("correct") not in (None, "")]
    correct = sum(row["correct"] == "1" for row in labelled)
    for index, row in enumerate(rows):
        row["overlay"] = f"overlays/{overlays[index]}" if index < len(overlays) else None
    return {"images": len(rows), "labelled": len(labelled),
            "accuracy": correct / len(labelled) if labelled else None, "rows": rows}


# === Running ===


class StudioServer:
    """A uvicorn server of ``studio`` on ``host:port`` (port 0: a free one); :meth:`start` runs it in a thread.

    The socket is bound in the constructor, so a port in use fails at once
    with :class:`TfxaiError`.
    """

    def __init__(self, studio, host="127.0.0.1", port=0, log_level="warning"):
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, int(port)))
        except OSError as error:
            self.socket.close()
            raise TfxaiError(f"cannot listen on {host}:{port} ({error.strerror}): choose another --port") from None
        self.host, self.port = host, self.socket.getsockname()[1]
        studio.allow(host, self.port)
        self.studio = studio
        self.url = studio.url(host, self.port)
        config = uvicorn.Config(build_app(studio), log_level=log_level, access_log=False, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread = None

    def run(self):
        """Serve until interrupted (Ctrl-C)."""
        self.server.run(sockets=[self.socket])

    def start(self, timeout=10.0):
        """Serve in a daemon thread; return once it accepts connections."""
        self._thread = threading.Thread(target=self.run, name="tfxai-studio", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise TfxaiError("the studio server did not start")
            time.sleep(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.studio.frames.close()
