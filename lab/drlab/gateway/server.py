"""HTTP serving: the TLS servers of the API and cluster addresses, the request handler, and the route
tables (built once per gateway)."""

from __future__ import annotations

import http.server
import io
import json
import secrets
import socket
import socketserver
import ssl
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests

from . import passthrough as pt
from .messages import PATH_DISABLED, PERMISSION_DENIED, UNSUPPORTED_OPERATION, UNSUPPORTED_PATH, ApiError, Reply, Request, envelope, vault_path

if TYPE_CHECKING:
    from .core import Gateway

# paths a DR secondary still answers itself or passes to OpenBao
SECONDARY_ALLOWED = frozenset({"sys/health", "sys/seal-status", "sys/leader", "sys/init", "sys/unseal"})
REPLICATION_PREFIX = "sys/replication/"
# HAProxy's own 503 page (the shape a load balancer answers with when it gave up on the backend)
LB_ERROR_PAGE = (b"<html><body><h1>%d Service Unavailable</h1>\nNo server is available to handle this request.\n"
                 b"</body></html>\n")

Params = dict[str, Any]
Handle = Callable[[Request, Params], Reply]


@dataclass(frozen=True)
class Route:
    """A ``sys/replication/*`` endpoint: the methods it serves, what other methods get (404 or 405), and
    whether a DR secondary refuses it (the primary endpoints)."""

    methods: frozenset[str]
    handle: Handle
    other_methods: int = 405
    primary_endpoint: bool = False


def request_params(body: bytes, query: str) -> Params:
    """Request parameters of the endpoints the gateway answers itself: JSON body, else the query string."""
    params: Params = {}
    if body:
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "failed to parse JSON input") from exc
        params = parsed if isinstance(parsed, dict) else {}
    if not params and query:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
    return params


class Routes:
    """Every route of both addresses; built once when the gateway starts serving."""

    def __init__(self, gw: Gateway):
        self.gw = gw
        ops = gw.ops
        reads = frozenset({"GET", "HEAD"})
        writes = frozenset({"POST", "PUT"})

        def op(fn: Callable[[str, Params], Reply]) -> Handle:
            return lambda req, params: fn(req.token, params)

        self.replication: dict[str, Route] = {
            "status": Route(reads, lambda req, params: Reply(200, envelope({"dr": gw.dr_status(), "performance": {"mode": "disabled"}})), 404),
            "dr/status": Route(reads, lambda req, params: Reply(200, envelope(gw.dr_status())), 404),
            "performance/status": Route(reads, lambda req, params: Reply(200, envelope({"mode": "disabled"})), 404),
            "dr/secondary/generate-operation-token/attempt": Route(
                frozenset({"GET", "PUT", "POST", "DELETE"}), lambda req, params: gw.generation.attempt(req.method, req.token, req.body)),
            "dr/secondary/generate-operation-token/update": Route(writes, lambda req, params: gw.generation.update(req.token, req.body)),
            "dr/primary/enable": Route(writes, op(ops.primary_enable), primary_endpoint=True),
            "dr/primary/demote": Route(writes, op(ops.primary_demote), primary_endpoint=True),
            "dr/primary/disable": Route(writes, op(ops.primary_disable), primary_endpoint=True),
            "dr/primary/secondary-token": Route(writes, op(ops.secondary_token), primary_endpoint=True),
            "dr/primary/revoke-secondary": Route(writes, op(ops.revoke_secondary), primary_endpoint=True),
            "dr/secondary/generate-public-key": Route(writes, op(ops.generate_public_key)),
            "dr/secondary/enable": Route(writes, op(ops.secondary_enable)),
            "dr/secondary/promote": Route(writes, op(ops.promote)),
            "dr/secondary/disable": Route(writes, op(ops.secondary_disable)),
            "dr/secondary/update-primary": Route(writes, op(ops.update_primary)),
            "dr/secondary/reindex": Route(writes, op(ops.reindex)),
            "dr/secondary/operation-token/delete": Route(writes, op(ops.token_delete)),
        }
        # API paths the gateway answers (or rewrites) before the DR-secondary check; sys/raw only in recovery mode
        self.api_before_mode_check: dict[str, Callable[[Request], Reply]] = {
            "sys/health": lambda req: pt.health(gw, req),
            "sys/seal-status": lambda req: pt.seal_status(gw, req),
        }
        self.api_after_mode_check: dict[str, Callable[[Request], Reply]] = {
            "sys/wrapping/unwrap": self._unwrap,
            "sys/wrapping/lookup": self._unwrap,
        }
        src = gw.source
        self.cluster: dict[tuple[str, str], Callable[[Request], Reply]] = {
            ("POST", "/drlab/repl/heartbeat"): lambda req: Reply(200, src.heartbeat(req.headers, json.loads(req.body or b"{}"))),
            ("GET", "/drlab/repl/snapshot"): self._snapshot,
            ("POST", "/drlab/repl/bootstrap"): lambda req: Reply(200, src.bootstrap(req.headers)),
        }

    # ------------------------------------------------------------ API address
    def control(self, req: Request) -> Reply:
        secret = self.gw.settings.secret
        if not secret or not secrets.compare_digest(req.headers.get("X-Drlab-Secret", ""), secret):
            raise ApiError(403, PERMISSION_DENIED)
        return Reply(200, self.gw.control.handle(json.loads(req.body or b"{}")))

    def api(self, req: Request) -> Reply:
        """A client request on the API address (after latency and faults)."""
        if not req.path.startswith("/v1/") or self.gw.bao.recovery:
            return pt.passthrough(self.gw, req)
        vpath = req.vpath
        early = self.api_before_mode_check.get(vpath)
        if early is not None:
            return early(req)
        if vpath.startswith(REPLICATION_PREFIX):
            return self._replication(req, request_params(req.body, req.query))
        if vpath.startswith("sys/raw"):
            raise ApiError(404, UNSUPPORTED_PATH)  # as in Vault with raw_storage_endpoint off
        if self.gw.store.mode == "secondary" and vpath not in SECONDARY_ALLOWED:
            raise ApiError(400, PATH_DISABLED)
        late = self.api_after_mode_check.get(vpath)
        if late is not None:
            return late(req)
        return pt.passthrough(self.gw, req)

    def _replication(self, req: Request, params: Params) -> Reply:
        route = self.replication.get(req.vpath[len(REPLICATION_PREFIX):])
        if route is None:
            raise ApiError(404, UNSUPPORTED_PATH)
        if req.method not in route.methods:
            raise ApiError(route.other_methods, UNSUPPORTED_PATH if route.other_methods == 404 else UNSUPPORTED_OPERATION)
        if route.primary_endpoint and self.gw.store.mode == "secondary":
            raise ApiError(400, PATH_DISABLED)
        return route.handle(req, params)

    def _unwrap(self, req: Request) -> Reply:
        try:
            params = request_params(req.body, req.query)
        except ApiError:
            return pt.passthrough(self.gw, req)
        return pt.unwrap_translate(self.gw, req, params)

    # ------------------------------------------------------------ cluster address
    def _snapshot(self, req: Request) -> Reply:
        idx, snap = self.gw.source.snapshot(req.headers)
        return Reply(200, raw=snap, headers=[("X-Drlab-Index", str(idx))], ctype="application/octet-stream")

    def repl(self, req: Request) -> Reply:
        fn = self.cluster.get((req.method, req.path))
        if fn is None:
            raise ApiError(404, UNSUPPORTED_PATH)
        return fn(req)


class TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr: tuple[str, int], ctx: ssl.SSLContext, gw: Gateway, routes: Routes, kind: str):
        self.ctx = ctx
        self.gw = gw
        self.routes = routes
        self.kind = kind  # "api" or "cluster"
        super().__init__(addr, Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def make_ctx(cfg: dict[str, Any]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg["tls_cert"], cfg["tls_key"])
    return ctx


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drlab-gateway"
    sys_version = ""
    server: TLSServer
    answered_status: int | None = None  # the HTTP status sent (or, for a dropped answer, that would have been)
    drop_answer = False  # a drop_answer fault matched: process, then close without answering

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name; quiet, keep errors only
        return

    def setup(self) -> None:
        try:
            self.request.settimeout(120)
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
            pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.answered_status = code
        super().send_response(code, message)

    # ------------------------------------------------------------ plumbing
    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def send_raw(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None, ctype: str = "application/json") -> None:
        self.send_response(status)
        sent_type = False
        for k, v in (headers or []):
            if k.lower() in pt.HOP_HEADERS:
                continue
            if k.lower() == "content-type":
                sent_type = True
            self.send_header(k, v)
        if body and not sent_type and ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_reply(self, reply: Reply) -> None:
        if reply.raw is not None:
            self.send_raw(reply.status, reply.raw, reply.headers, ctype=reply.ctype)
        elif reply.status == 204 or reply.obj is None:
            self.send_raw(reply.status if reply.status != 200 else 204, b"")
        else:
            self.send_raw(reply.status, json.dumps(reply.obj).encode() + b"\n", reply.headers)

    def _request(self, body: bytes) -> Request:
        parts = urlsplit(self.path)
        token = self.headers.get("X-Vault-Token") or ""
        auth = self.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        return Request(method=self.command, target=self.path, path=parts.path, vpath=vault_path(parts.path), query=parts.query,
                       headers=self.headers, body=body, token=token)

    def do_GET(self) -> None:
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_LIST = do_HEAD = do_PATCH = do_GET

    # ------------------------------------------------------------ dispatch
    def dispatch(self) -> None:
        t0 = time.time()
        self.answered_status = None
        self.drop_answer = False
        req = self._request(self._body())
        logged = self.server.kind == "api" and not req.path.startswith("/drlab/")
        key = self.server.gw.request_log.begin({"method": req.method, "path": req.vpath, "time": t0}) if logged else 0
        try:
            self._answer(req)
        finally:
            if logged:
                self.server.gw.request_log.end(key)
            if logged:
                self.server.gw.request_log.add({"method": req.method, "path": req.vpath, "query": req.query, "status": self.answered_status,
                                                "time": t0, "duration": round(time.time() - t0, 3), "answered": not self.drop_answer})
            if self.drop_answer:
                # the request was processed; the client gets no HTTP response at all, only a closed connection
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _answer(self, req: Request) -> None:
        try:
            reply = self._cluster(req) if self.server.kind == "cluster" else self._api(req)
            if reply is not None:
                self.send_reply(reply)
        except ApiError as exc:
            self.send_reply(Reply(exc.status, {"errors": exc.errors}))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except requests.RequestException as exc:
            self.send_reply(Reply(503, {"errors": [f"drlab gateway: OpenBao is not reachable: {exc.__class__.__name__}"]}))
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.send_reply(Reply(500, {"errors": [f"drlab gateway internal error: {exc}"]}))

    def _cluster(self, req: Request) -> Reply | None:
        if self.server.gw.faults.is_cut(self.headers.get("X-Drlab-From", "")):
            self.close_connection = True
            self.connection.close()
            return None
        return self.server.routes.repl(req)

    def _api(self, req: Request) -> Reply:
        gw, routes = self.server.gw, self.server.routes
        if req.path == "/drlab/control":
            return routes.control(req)
        delay = gw.faults.delay_for(req.vpath, req.method)
        if delay > 0:
            time.sleep(delay)  # before processing: a client that gave up meanwhile still gets its request processed
        fault = gw.faults.take(req.method, req.vpath)
        if fault and fault.get("drop_answer"):
            self.drop_answer = True
            self.wfile = io.BytesIO()  # process fully, discard the answer (see dispatch)
        elif fault and fault.get("redirect"):
            # what a hostile or misconfigured proxy does: send the client elsewhere, nothing processed here
            return Reply(fault["status"], None, raw=b"", headers=[("Location", fault["redirect"] + req.target)])
        elif fault and fault.get("after_acting"):
            # a load balancer that gave up on the backend after it acted: Vault's answer is replaced by the
            # proxy's own page, which has no Vault errors body
            try:
                routes.api(req)
            except ApiError:
                pass  # refused or accepted, the client sees only the proxy's page
            return Reply(fault["status"], None, raw=LB_ERROR_PAGE % fault["status"], ctype="text/html")
        elif fault:
            return Reply(fault["status"], {"errors": [fault["message"]]})
        return routes.api(req)
