"""Authorisation of the DR endpoints, decided by the cluster's own OpenBao (capabilities, token lookups) and
the registry of DR operation tokens in the DR state."""

from __future__ import annotations

from collections.abc import Iterable

import requests

from .crypto import sha256
from .messages import OP_TOKEN_INVALID, OP_TOKEN_MISSING, PERMISSION_DENIED, ApiError
from .openbao import OpenBao
from .state import Settings, StateStore


class Authorizer:
    def __init__(self, bao: OpenBao, store: StateStore, settings: Settings):
        self.bao = bao
        self.store = store
        self.settings = settings

    def caps_self(self, token: str | None, path: str) -> list[str]:
        """The capabilities of the caller's own ``token`` on ``path`` (403 without a valid token)."""
        if not token:
            raise ApiError(403, PERMISSION_DENIED)
        r = self.bao.api.req("POST", "sys/capabilities-self", token=token, json_body={"paths": [path]})
        if r.status_code != 200:
            raise ApiError(403, PERMISSION_DENIED)
        body = r.json()
        return list(body.get(path) or body.get("capabilities") or [])

    def require_caps(self, token: str | None, path: str, need: Iterable[str] = ("update",)) -> None:
        caps = self.caps_self(token, path)
        if "root" in caps or any(n in caps for n in need):
            return
        raise ApiError(403, PERMISSION_DENIED)

    def check_op_token(self, tok: str | None, path: str) -> str:
        """A DR operation token: "op" for a remembered one, "token" for an OpenBao token with update on ``path``."""
        if not tok:
            raise ApiError(400, OP_TOKEN_MISSING)
        if sha256(tok) in self.store.get("op_tokens", []):
            return "op"
        try:
            r = self.bao.api.req("POST", "sys/capabilities", token=self.store.service_token, json_body={"token": tok, "paths": [path]})
        except requests.RequestException as exc:
            raise ApiError(503, f"unable to check DR operation token: {exc}") from exc
        if r.status_code == 200:
            caps = r.json().get(path) or r.json().get("capabilities") or []
            if "root" in caps or "update" in caps:
                return "token"
        elif r.status_code >= 500:
            raise ApiError(503, f"unable to check DR operation token now (OpenBao answered {r.status_code}); retry")
        raise ApiError(400, OP_TOKEN_INVALID)

    def check_op_gen_token(self, token: str | None) -> None:
        """generate-operation-token: a Vault token, when sent, must be valid on this cluster's OpenBao (on a DR
        secondary that is the primary's token store, so the primary's root token passes); one is required only
        when the lab emulates Vault 2.x (``op_generation_requires_token``), as Vault answers an authenticated path."""
        if not token:
            if self.settings.op_generation_requires_token:
                raise ApiError(403, PERMISSION_DENIED)
            return
        with self.bao.lock:  # an in-flight snapshot restore (which swaps the token store) finishes first
            r = self.bao.api.req("GET", "auth/token/lookup-self", token=token)
        if r.status_code >= 500:
            raise ApiError(503, f"unable to check the Vault token now (OpenBao answered {r.status_code}); retry")
        if r.status_code != 200:
            raise ApiError(403, PERMISSION_DENIED)
