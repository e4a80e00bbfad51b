"""Activation tokens: what a primary puts in one, and how a secondary unwraps (or decrypts) it."""

from __future__ import annotations

import os
from typing import Any

import requests

from .crypto import ACTIVATION_PK_PREFIX, jwt_claims_unverified, open_sealed_token
from .messages import ApiError

PAYLOAD_TYPE = "drlab-dr-activation"
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"


def make_payload(cfg: dict[str, Any], state: dict[str, Any], sid: str, credential: str) -> dict[str, Any]:
    """The activation payload for secondary ``sid``: who the primary is, how to reach and trust it."""
    with open(cfg["ca_cert"]) as fh:
        ca_pem = fh.read()
    return {"type": PAYLOAD_TYPE, "secondary_id": sid, "credential": credential,
            "cluster_id": state["cluster_id"],
            "primary_cluster_addr": state.get("primary_cluster_addr") or cfg["cluster_addr"],
            "primary_api_addr": cfg["api_addr"], "cluster_ca_pem": ca_pem}


def _pem_certificates(text: str) -> list[str]:
    pems = []
    start = 0
    while True:
        i = text.find(_BEGIN, start)
        if i < 0:
            break
        j = text.find(_END, i)
        if j < 0:
            break
        pems.append(text[i:j + len(_END)])
        start = j
    return pems


def ca_path_bundle(ca_path: str, cdir: str) -> str:
    """Like Vault's ca_path: every PEM certificate in the directory is trusted (no c_rehash names needed).
    Returns the path of a bundle file written into ``cdir``."""
    if not os.path.isdir(ca_path):
        raise ApiError(400, f"error unwrapping secondary token: ca_path {ca_path!r} is not a directory")
    pems: list[str] = []
    for fn in sorted(os.listdir(ca_path)):
        full = os.path.join(ca_path, fn)
        if not os.path.isfile(full):
            continue
        try:
            with open(full, errors="replace") as fh:
                pems += _pem_certificates(fh.read())
        except OSError:
            continue
    if not pems:
        raise ApiError(400, f"error unwrapping secondary token: no PEM certificates found in ca_path {ca_path!r}")
    bundle = os.path.join(cdir, "ca-path-bundle.pem")
    with open(bundle, "w") as fh:
        fh.write("\n".join(pems) + "\n")
    return bundle


def fetch_activation(token: str, primary_api_addr: str, ca_file: str, ca_path: str, *, private_key_b64: str,
                     cdir: str) -> dict[str, Any]:
    """Unwrap (or decrypt) an activation token the way a Vault secondary does."""
    if token.startswith(ACTIVATION_PK_PREFIX):
        return open_sealed_token(private_key_b64, token)
    addr = primary_api_addr or str(jwt_claims_unverified(token).get("addr") or "")
    if not addr:
        raise ApiError(400, "unable to determine the primary's API address from the activation token; set primary_api_addr")
    verify: bool | str = True
    if ca_file:
        verify = ca_file
    elif ca_path:
        verify = ca_path_bundle(ca_path, cdir)
    try:
        r = requests.post(addr.rstrip("/") + "/v1/sys/wrapping/unwrap", headers={"X-Vault-Token": token}, verify=verify, timeout=15)
    except requests.RequestException as exc:
        raise ApiError(400, f"error unwrapping secondary token: {exc}") from exc
    if r.status_code != 200:
        try:
            errs = r.json().get("errors") or [r.text]
        except ValueError:
            errs = [r.text]
        raise ApiError(400, *[f"error unwrapping secondary token: {e}" for e in errs])
    data = (r.json() or {}).get("data") or {}
    if data.get("type") != PAYLOAD_TYPE:
        raise ApiError(400, "error unwrapping secondary token: the wrapped data is not a DR secondary activation token")
    return dict(data)
