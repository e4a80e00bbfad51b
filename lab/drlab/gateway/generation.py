"""The generation proxy: ``generate-operation-token/{attempt,update}`` on a DR secondary run OpenBao's own
``sys/generate-root/*``; on completion the new root token's ID is found through ``sys/raw`` and remembered
(as its SHA-256) as a DR operation token, so it stays valid across snapshot restores."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

import requests

from .crypto import sha256
from .messages import Reply
from .state import require_secondary

if TYPE_CHECKING:
    from .core import Gateway


class GenerationProxy:
    def __init__(self, gw: Gateway):
        self.gw = gw
        self._lock = threading.Lock()
        self._before: set[str] | None = None  # OpenBao's token IDs when the running attempt started

    def _token_ids(self) -> set[str]:
        r = self.gw.bao.api.req("LIST", "sys/raw/sys/token/id/", token=self.gw.store.service_token)
        if r.status_code != 200:
            return set()
        return set(r.json().get("data", {}).get("keys", []))

    def _register_new_root_tokens(self, before: set[str]) -> None:
        api = self.gw.bao.api
        for key in sorted(self._token_ids() - before):
            r = api.req("GET", f"sys/raw/sys/token/id/{key}", token=self.gw.store.service_token)
            if r.status_code != 200:
                continue
            try:
                entry = json.loads(r.json()["data"]["value"])
            except (ValueError, KeyError):
                continue
            if entry.get("path") == "auth/token/root" and entry.get("id"):
                with self.gw.store.edit() as state:
                    state.setdefault("op_tokens", []).append(sha256(entry["id"]))

    def _set_before(self, value: set[str] | None) -> None:
        with self._lock:
            self._before = value

    def _prologue(self, token: str) -> None:
        with self.gw.store.locked() as state:
            require_secondary(state)
        self.gw.authz.check_op_gen_token(token)

    def attempt(self, method: str, token: str, raw_body: bytes) -> Reply:
        """GET (read), PUT/POST (start), DELETE (cancel) an attempt."""
        method = "PUT" if method == "POST" else method
        self._prologue(token)
        api = self.gw.bao.api
        if method == "GET":
            r = api.req("GET", "sys/generate-root/attempt")
            return Reply(r.status_code, raw=r.content)
        if method == "DELETE":
            with self.gw.bao.lock:
                r = api.req("DELETE", "sys/generate-root/attempt")
                self._set_before(None)
            return Reply(r.status_code, raw=r.content)
        with self.gw.bao.lock:  # waits for a restore in flight; restores skip while an attempt runs
            self._set_before(self._token_ids())
            r = api.req("PUT", "sys/generate-root/attempt", data=raw_body or b"{}", headers={"Content-Type": "application/json"})
        return Reply(r.status_code, raw=r.content)

    def update(self, token: str, raw_body: bytes) -> Reply:
        self._prologue(token)
        with self.gw.bao.lock:
            with self._lock:
                before = self._before
            if before is None:
                before = self._token_ids()
            r = self.gw.bao.api.req("PUT", "sys/generate-root/update", data=raw_body or b"{}",
                                    headers={"Content-Type": "application/json"})
            if r.status_code == 200 and r.json().get("complete"):
                self._register_new_root_tokens(before)
                self._set_before(None)
        return Reply(r.status_code, raw=r.content)

    def running(self) -> bool:
        """Whether a generate-root attempt is in progress (a snapshot restore would wipe it); True if unknown."""
        try:
            r = self.gw.bao.api.req("GET", "sys/generate-root/attempt", timeout=5)
            return r.status_code == 200 and bool(r.json().get("started"))
        except (requests.RequestException, ValueError):
            return True
