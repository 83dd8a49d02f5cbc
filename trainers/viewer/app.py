"""The viewer's web app: one static page (vanilla JS, no build step, nothing from the
network) and JSON endpoints over the index. Served on 127.0.0.1 only (``serve``)."""

from __future__ import annotations

import math
import socket
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from trainers.viewer.index import Index, Query

STATIC = Path(__file__).with_name("static")
FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
PAGE_LIMIT = 500
# The page loads nothing from elsewhere and runs no inline script: model text that slipped into
# markup could not execute.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class BadRequest(ValueError):
    pass


def _float(params, name: str) -> float | None:
    value = params.get(name, "")
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise BadRequest(f"{name} must be finite")
    return number


def _int(params, name: str, default: int | None = None) -> int | None:
    value = params.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {value!r}") from None


def query_of(params) -> Query:
    kept = params.get("kept", "")
    if kept not in ("", "kept", "rejected"):
        raise BadRequest("kept must be kept or rejected")
    return Query(
        source=_int(params, "source"),
        env=params.get("env", ""),
        outcome=params.get("outcome", ""),
        kept=kept,
        component=params.get("component", ""),
        cmin=_float(params, "cmin"),
        cmax=_float(params, "cmax"),
        rmin=_float(params, "rmin"),
        rmax=_float(params, "rmax"),
        step=_int(params, "step"),
        task_id=params.get("task_id", ""),
        q=params.get("q", "")[:200],
        sort=params.get("sort", "id") or "id",
        descending=params.get("order", "") == "desc",
    )


def create_app(index: Index) -> Starlette:
    def respond(call) -> Response:
        try:
            return JSONResponse(call(), headers=SECURITY_HEADERS)
        except (BadRequest, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=SECURITY_HEADERS)
        except KeyError as exc:
            return JSONResponse(
                {"error": f"not found: {exc.args[0]}"}, status_code=404, headers=SECURITY_HEADERS
            )

    async def page(request: Request) -> Response:
        name = request.path_params.get("name", "index.html")
        if name not in FILES:
            return JSONResponse({"error": "not found"}, status_code=404)
        return FileResponse(STATIC / name, media_type=FILES[name], headers=SECURITY_HEADERS)

    async def info(request: Request) -> Response:
        return respond(index.info)

    async def samples(request: Request) -> Response:
        def call() -> dict[str, Any]:
            params = request.query_params
            offset = max(0, _int(params, "offset", 0))
            limit = min(PAGE_LIMIT, max(1, _int(params, "limit", 50)))
            return index.page(query_of(params), offset, limit)

        return respond(call)

    async def sample(request: Request) -> Response:
        return respond(lambda: index.record(int(request.path_params["row"])))

    async def run(request: Request) -> Response:
        return respond(lambda: index.run(int(request.path_params["source"])))

    async def compare(request: Request) -> Response:
        params = request.query_params
        return respond(
            lambda: index.compare(
                _int(params, "a", 0), _int(params, "b", 1), _float(params, "threshold") or 1.0
            )
        )

    return Starlette(
        routes=[
            Route("/", page),
            Route("/static/{name}", page),
            Route("/api/info", info),
            Route("/api/samples", samples),
            Route("/api/sample/{row:int}", sample),
            Route("/api/run/{source:int}", run),
            Route("/api/compare", compare),
        ]
    )


class ViewerServer:
    """uvicorn on 127.0.0.1 in a background thread (``port`` 0: any free port)."""

    def __init__(self, index: Index, port: int = 0):
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(index), log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> ViewerServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the viewer's web server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()

    def wait(self) -> None:
        """Serve until Ctrl-C (or SIGTERM raising SystemExit), then stop."""
        import time

        try:
            while self.thread.is_alive():
                time.sleep(0.5)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.stop()

    def __enter__(self) -> ViewerServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
