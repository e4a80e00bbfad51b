"""Requests answered by OpenBao: passed through unchanged, or with the few rewrites the gateway makes
(``sys/health``'s DR fields and HTTP 472, the reported ``version``, activation JWTs on ``sys/wrapping/*``)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import requests

from .messages import WRAPPING_TOKEN_INVALID, ApiError, Reply, Request

if TYPE_CHECKING:
    from .core import Gateway

HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
                         "transfer-encoding", "upgrade", "host", "content-length"})


def forward_headers(req: Request) -> dict[str, str]:
    return {k: v for k, v in req.headers.items() if k.lower() not in HOP_HEADERS}


def _decoded_headers(r: requests.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in r.headers.items() if k.lower() != "content-encoding"]


def passthrough(gw: Gateway, req: Request) -> Reply:
    """The request as it came (method, target, headers, body) to OpenBao; its answer byte for byte."""
    try:
        r = gw.bao.api.session.request(req.method, gw.bao.api.addr + req.target, headers=forward_headers(req), data=req.body or None,
                                       allow_redirects=False, stream=True, timeout=120)
    except requests.RequestException as exc:
        raise ApiError(503, f"drlab gateway: OpenBao is not reachable ({exc.__class__.__name__})") from exc
    try:
        content = r.raw.read(decode_content=False)
    finally:
        r.close()
    return Reply(r.status_code, raw=content, headers=list(r.raw.headers.items()), ctype="")


def health(gw: Gateway, req: Request) -> Reply:
    """OpenBao's ``sys/health`` with the DR fields, the reported version, and 472 (``drsecondarycode``) on a DR secondary."""
    r = gw.bao.api.session.get(gw.bao.api.addr + "/v1/sys/health" + (f"?{req.query}" if req.query else ""), timeout=10)
    try:
        data: Any = r.json()
    except ValueError:
        return Reply(r.status_code, raw=r.content, headers=list(r.headers.items()))
    override = gw.version_override()
    if isinstance(data, dict) and "version" in data and override:
        data["version"] = override
    data["replication_dr_mode"] = gw.health_mode()
    data["replication_performance_mode"] = "disabled"
    status = r.status_code
    q = {k: v[-1] for k, v in parse_qs(req.query).items()}
    if gw.store.mode == "secondary" and status not in (501, 503):
        status = int(q.get("drsecondarycode", 472))
    return Reply(status, raw=json.dumps(data).encode() + b"\n")


def seal_status(gw: Gateway, req: Request) -> Reply:
    """OpenBao's ``sys/seal-status``, with ``version`` replaced when a reported version is set."""
    override = gw.version_override()
    if not override or req.method not in ("GET", "HEAD"):
        return passthrough(gw, req)
    r = gw.bao.api.session.get(gw.bao.api.addr + "/v1/sys/seal-status" + (f"?{req.query}" if req.query else ""), timeout=10)
    try:
        data: Any = r.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and "version" in data:
        data["version"] = override
        return Reply(r.status_code, raw=json.dumps(data).encode() + b"\n")
    return Reply(r.status_code, raw=r.content, headers=_decoded_headers(r))


def unwrap_translate(gw: Gateway, req: Request, params: dict[str, Any]) -> Reply:
    """``sys/wrapping/unwrap|lookup``: activation tokens are JWTs whose ``jti`` is a real OpenBao wrapping token."""
    hdr_tok = req.headers.get("X-Vault-Token") or ""
    body_tok = params.get("token") or ""
    headers = forward_headers(req)
    body = req.body
    changed = False
    for tok, where in ((hdr_tok, "header"), (body_tok, "body")):
        claims = gw.signer.verify(tok) if tok else None
        if claims is None:
            continue
        if claims.get("exp", 0) < time.time():
            raise ApiError(400, WRAPPING_TOKEN_INVALID)
        changed = True
        if where == "header":
            headers = {k: v for k, v in headers.items() if k.lower() != "x-vault-token"}
            headers["X-Vault-Token"] = claims["jti"]
        else:
            params = {**params, "token": claims["jti"]}
            body = json.dumps(params).encode()
    if not changed:
        return passthrough(gw, req)
    if req.vpath == "sys/wrapping/unwrap" and params.get("token") and headers.get("X-Vault-Token") == params.get("token"):
        params = {k: v for k, v in params.items() if k != "token"}
        body = json.dumps(params).encode() if params else b""
    r = gw.bao.api.session.request(req.method, gw.bao.api.addr + "/v1/" + req.vpath, headers=headers, data=body or None, timeout=30)
    return Reply(r.status_code, raw=r.content, headers=_decoded_headers(r))
