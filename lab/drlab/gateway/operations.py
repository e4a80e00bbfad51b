"""The DR operations the gateway answers itself (``sys/replication/dr/{primary,secondary}/*``): state changes of
the DR state; OpenBao underneath keeps running. Each takes the caller's token and the request parameters and
returns a Reply."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any

import requests

from ..util import parse_duration, rfc3339
from .activation import fetch_activation, make_payload
from .crypto import new_x25519_key_pair, seal_to_public_key, sha256
from .messages import (
    OP_TOKEN_MISSING,
    WARN_DEMOTE,
    WARN_DISABLE,
    WARN_PRIMARY_ENABLE,
    WARN_PROMOTE,
    WARN_SECONDARY_ENABLE,
    ApiError,
    Reply,
    envelope,
)
from .state import State, require_primary, require_secondary

if TYPE_CHECKING:
    from .core import Gateway

Params = dict[str, Any]
P = "sys/replication/dr/"


def _attached(state: State, payload: dict[str, Any], first_sync: bool) -> dict[str, Any]:
    """The ``secondary`` block after attaching to the primary an activation payload names.

    A new attachment (``attach_id``) has restored nothing from that primary yet: ``applied_index`` starts at 0
    unless it came from this very primary cluster address (so a re-attached cluster never reports its old index,
    for example a demoted primary its own, as received from the new primary), and ``resync`` keeps the status at
    ``merkle-sync`` until the first restore from it. Only a cluster without the DR set's data needs a forced
    restore (it carries the primary's keyring); one with the same cluster id already shares the keyring, so it
    tries a normal restore first (falling back to a forced one if OpenBao refuses it) and takes the primary's
    unseal keys and service token afterwards (``refresh_keys``)."""
    prev = state.get("secondary") or {}
    addr = payload["primary_cluster_addr"]
    keep = not first_sync and prev.get("applied_from") == addr
    return {"secondary_id": payload["secondary_id"], "credential": payload["credential"],
            "primary_cluster_addrs": [addr],
            "primary_api_addr": payload["primary_api_addr"], "cluster_ca_pem": payload["cluster_ca_pem"],
            "applied_index": prev.get("applied_index", 0) if keep else 0, "applied_from": addr if keep else "",
            "attach_id": uuid.uuid4().hex, "syncing_first": first_sync, "needs_force": first_sync,
            "resync": not first_sync, "refresh_keys": not first_sync}


class DrOperations:
    def __init__(self, gw: Gateway):
        self.gw = gw
        self.store = gw.store
        self.authz = gw.authz

    def _fetch_activation(self, params: Params) -> dict[str, Any]:
        return fetch_activation(str(params.get("token") or ""), params.get("primary_api_addr", ""), params.get("ca_file", ""),
                                params.get("ca_path", ""), private_key_b64=self.store.get("public_key_private", ""),
                                cdir=self.gw.cdir)

    def _check_secondary_op_token(self, params: Params, endpoint: str) -> None:
        """Secondary endpoints: a DR secondary, and a valid DR operation token (checked once an in-flight
        snapshot restore has finished)."""
        with self.store.locked() as state:
            require_secondary(state)
        with self.gw.bao.lock:
            self.authz.check_op_token(params.get("dr_operation_token"), P + endpoint)

    # ------------------------------------------------------------ primary
    def primary_enable(self, token: str, params: Params) -> Reply:
        self.authz.require_caps(token, P + "primary/enable")
        with self.store.edit() as state:
            if state["mode"] == "primary":
                raise ApiError(400, "this cluster is already a DR primary")
            if state["mode"] == "secondary":
                raise ApiError(400, "this cluster is a DR secondary; promote it instead of enabling it as a primary")
            state.update(mode="primary", cluster_id=str(uuid.uuid4()), primary_cluster_addr=params.get("primary_cluster_addr") or "",
                         known_secondaries={}, secondary=None, last_start=rfc3339())
        return Reply(200, envelope(None, [WARN_PRIMARY_ENABLE]))

    def primary_demote(self, token: str, params: Params) -> Reply:
        self.authz.require_caps(token, P + "primary/demote")
        index = self.gw.bao.committed_index()
        with self.store.edit() as state:
            require_primary(state)
            state.update(mode="secondary", known_secondaries={}, has_data=True, op_tokens=[],
                         secondary={"secondary_id": "", "primary_cluster_addrs": [], "primary_api_addr": "",
                                    "applied_index": index, "applied_from": "", "attach_id": uuid.uuid4().hex,
                                    "syncing_first": False, "needs_force": False, "resync": False, "refresh_keys": False})
            self.gw.contact.clear()
        return Reply(200, envelope(None, [WARN_DEMOTE]))

    def primary_disable(self, token: str, params: Params) -> Reply:
        self.authz.require_caps(token, P + "primary/disable")
        with self.store.edit() as state:
            require_primary(state)
            state.update(mode="disabled", cluster_id="", known_secondaries={})
        return Reply(200, envelope(None, [WARN_DISABLE]))

    def secondary_token(self, token: str, params: Params) -> Reply:
        self.authz.require_caps(token, P + "primary/secondary-token", need=("sudo",))
        sid = str(params.get("id") or "")
        if not sid:
            raise ApiError(400, "missing required 'id' parameter")
        try:
            ttl = parse_duration(params.get("ttl"), 1800)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        if ttl <= 0:
            raise ApiError(400, "ttl must be positive")
        cfg = self.gw.cfg
        with self.store.locked() as state:
            require_primary(state)
            if sid in state["known_secondaries"]:
                raise ApiError(400, f"a secondary with id {sid!r} already exists; revoke it first")
            credential = secrets.token_urlsafe(32)
            payload = make_payload(cfg, state, sid, credential)
            pub = params.get("secondary_public_key")
            if pub:
                sealed = seal_to_public_key(pub, payload)
                state["known_secondaries"][sid] = {"credential_sha256": sha256(credential), "issued": time.time()}
                self.store.save()
                return Reply(200, envelope({"token": sealed}))
            r = self.gw.bao.api.req("POST", "sys/wrapping/wrap", token=state["service_token"], json_body=payload,
                                    headers={"X-Vault-Wrap-TTL": str(ttl)})
            if r.status_code != 200:
                raise ApiError(500, f"unable to wrap activation token: {r.status_code} {r.text}")
            wi = r.json()["wrap_info"]
            now = int(time.time())
            jwt = self.gw.signer.sign({"accessor": wi.get("accessor", ""), "addr": cfg["api_addr"], "exp": now + ttl, "iat": now,
                                       "jti": wi["token"], "nbf": now - 5, "type": "wrapping"})
            state["known_secondaries"][sid] = {"credential_sha256": sha256(credential), "issued": time.time()}
            self.store.save()
        wrap_info = {"token": jwt, "accessor": wi.get("accessor", ""), "ttl": wi.get("ttl", ttl),
                     "creation_time": wi.get("creation_time", rfc3339()), "creation_path": P + "primary/secondary-token",
                     "wrapped_accessor": ""}
        return Reply(200, envelope(None, None, wrap_info))

    def revoke_secondary(self, token: str, params: Params) -> Reply:
        self.authz.require_caps(token, P + "primary/revoke-secondary")
        sid = str(params.get("id") or "")
        if not sid:
            raise ApiError(400, "missing required 'id' parameter")
        with self.store.edit() as state:
            require_primary(state)
            if sid not in state["known_secondaries"]:
                raise ApiError(400, f"no secondary with id {sid!r} is known")
            del state["known_secondaries"][sid]
        return Reply(204)

    # ------------------------------------------------------------ secondary
    def generate_public_key(self, token: str, params: Params) -> Reply:
        priv, pub = new_x25519_key_pair()
        with self.store.edit() as state:
            state["public_key_private"] = priv
        return Reply(200, envelope({"secondary_public_key": pub}))

    def secondary_enable(self, token: str, params: Params) -> Reply:
        self.authz.require_caps(token, P + "secondary/enable")
        if not params.get("token"):
            raise ApiError(400, "missing required 'token' parameter")
        with self.store.locked() as state:
            if state["mode"] == "primary":
                raise ApiError(400, "this cluster is a DR primary; disable or demote it before enabling it as a secondary")
            if state["mode"] == "secondary":
                raise ApiError(400, "this cluster is already a DR secondary")
        payload = self._fetch_activation(params)
        with self.store.edit() as state:
            state.update(mode="secondary", cluster_id=payload["cluster_id"], known_secondaries={}, op_tokens=[], has_data=False,
                         last_start=rfc3339())
            state["secondary"] = _attached(state, payload, first_sync=True)
            self.gw.contact.clear()
        self.gw.follower.wake()
        return Reply(200, envelope(None, [WARN_SECONDARY_ENABLE]))

    def promote(self, token: str, params: Params) -> Reply:
        self._check_secondary_op_token(params, "secondary/promote")
        with self.gw.bao.lock, self.store.edit() as state:
            require_secondary(state)
            sec = state.get("secondary") or {}
            if sec.get("syncing_first") or not state.get("has_data"):
                raise ApiError(400, "cannot promote: this secondary has not completed its initial sync with a primary")
            state.update(mode="primary", known_secondaries={}, secondary=None, primary_cluster_addr=params.get("primary_cluster_addr") or "",
                         op_tokens=[], last_start=rfc3339())
            self.gw.contact.clear()
        return Reply(200, envelope(None, [WARN_PROMOTE]))

    def secondary_disable(self, token: str, params: Params) -> Reply:
        self._check_secondary_op_token(params, "secondary/disable")
        with self.gw.bao.lock, self.store.edit() as state:
            require_secondary(state)
            state.update(mode="disabled", cluster_id="", secondary=None, op_tokens=[])
            self.gw.contact.clear()
        return Reply(200, envelope(None, [WARN_DISABLE]))

    def update_primary(self, token: str, params: Params) -> Reply:
        self._check_secondary_op_token(params, "secondary/update-primary")
        addrs = params.get("update_primary_addrs")
        if addrs:
            if params.get("token"):
                raise ApiError(400, "'token' and 'update_primary_addrs' cannot be used together")
            if isinstance(addrs, str):
                addrs = [a.strip() for a in addrs.split(",") if a.strip()]
            with self.store.edit() as state:
                sec = state.get("secondary") or {}
                if not sec.get("secondary_id"):
                    raise ApiError(400, "update_primary_addrs cannot be used on a cluster that has no known primary "
                                        "(for example a newly demoted primary); use an activation token")
                sec["primary_cluster_addrs"] = list(addrs)
                sec["attach_id"] = uuid.uuid4().hex  # a restore still running from the old addresses does not count
                if sec.get("applied_from") not in sec["primary_cluster_addrs"]:
                    # the index came from another address: it says nothing about what the new one holds
                    sec.update(applied_index=0, applied_from="", resync=True, refresh_keys=True)
                state["secondary"] = sec
                self.gw.contact.clear()
            self.gw.follower.wake()
            return Reply(204)
        if "token" not in params:
            raise ApiError(400, "missing required 'token' parameter")
        if (params.get("token") or "") == "":
            with self.store.edit() as state:
                sec = state.get("secondary") or {}
                sec.update({"secondary_id": "", "credential": "", "primary_cluster_addrs": [], "primary_api_addr": "", "syncing_first": False,
                            "attach_id": uuid.uuid4().hex})
                state["secondary"] = sec
                self.gw.contact.clear()
            return Reply(204)
        payload = self._fetch_activation(params)
        with self.store.edit() as state:
            if state["cluster_id"] and payload["cluster_id"] != state["cluster_id"]:
                raise ApiError(400, f"the primary's cluster id {payload['cluster_id']} does not match this secondary's "
                                    f"{state['cluster_id']}; re-enable the secondary (which wipes it) instead")
            state["secondary"] = _attached(state, payload, first_sync=not state.get("has_data"))
            self.gw.contact.clear()
        self.gw.follower.wake()
        return Reply(204)

    def reindex(self, token: str, params: Params) -> Reply:
        self._check_secondary_op_token(params, "secondary/reindex")
        with self.store.locked() as state:
            sec = state.get("secondary") or {}
            if sec:
                sec["applied_index"] = -1  # forces a full resync on the next heartbeat
                self.store.save()
        self.gw.follower.wake()
        return Reply(200, envelope({"reindex": "started"}))

    def token_delete(self, token: str, params: Params) -> Reply:
        with self.store.locked() as state:
            require_secondary(state)
        tok = params.get("dr_operation_token")
        if not tok:
            raise ApiError(400, OP_TOKEN_MISSING)
        h = sha256(tok)
        api = self.gw.bao.api
        with self.gw.bao.lock:
            if h not in self.store.get("op_tokens", []):
                # any other token with update on this path is accepted, and revoked as an OpenBao token
                self.authz.check_op_token(tok, P + "secondary/operation-token/delete")
                r = api.req("POST", "auth/token/revoke", token=self.store.service_token, json_body={"token": tok})
                if r.status_code >= 400:
                    errs = r.json().get("errors", []) if r.headers.get("Content-Type", "").startswith("application/json") else []
                    raise ApiError(400, *(errs or [f"unable to revoke the token: {r.status_code}"]))
                return Reply(204)
            with self.store.edit() as state:
                state["op_tokens"].remove(h)
            try:  # also revoke it in OpenBao if it still exists there (until the next restore it does)
                api.req("POST", "auth/token/revoke", token=self.store.service_token, json_body={"token": tok})
            except requests.RequestException:
                pass
        return Reply(204)
