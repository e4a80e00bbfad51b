"""Replication source (the primary's end of the replication channel, on the cluster address): heartbeats,
raft snapshots, and the bootstrap material (unseal keys, service token) for a forced restore."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .crypto import sha256
from .messages import ApiError

if TYPE_CHECKING:
    from .core import Gateway


class ReplicationSource:
    def __init__(self, gw: Gateway):
        self.gw = gw
        self.store = gw.store

    def authenticate(self, headers: Mapping[str, str]) -> str:
        """The secondary id a request comes from, checked against its credential (403 if revoked or unknown)."""
        sid = headers.get("X-Drlab-Secondary-Id", "")
        cred = headers.get("X-Drlab-Credential", "")
        with self.store.locked() as state:
            if state["mode"] != "primary":
                raise ApiError(409, "this cluster is not a DR primary")
            info = state["known_secondaries"].get(sid)
            if not info or not cred or not secrets.compare_digest(info["credential_sha256"], sha256(cred)):
                raise ApiError(403, "secondary is not known to this primary (revoked or never issued)")
        return sid

    def heartbeat(self, headers: Mapping[str, str], body: dict[str, Any]) -> dict[str, Any]:
        sid = self.authenticate(headers)
        idx = self.gw.bao.committed_index()
        with self.store.locked() as state:
            info = state["known_secondaries"].get(sid)
            if info is not None:
                info["last_heartbeat"] = time.time()
                info["api_address"] = body.get("api_address", "")
                info["cluster_address"] = body.get("cluster_address", "")
                # heartbeats are frequent: persist only the first contact
                if not info.get("persisted_contact"):
                    info["persisted_contact"] = True
                    self.store.save()
            return {"cluster_id": state["cluster_id"], "index": idx}

    def snapshot(self, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """(raft index, raft snapshot) of the primary's OpenBao. The index is the *applied* index read before the
        snapshot is taken, so the snapshot holds at least the data up to it: a secondary never claims an index
        whose data it lacks (the committed index can be ahead of what the FSM, and so the snapshot, holds)."""
        self.authenticate(headers)
        idx = self.gw.bao.applied_index()
        r = self.gw.bao.api.req("GET", "sys/storage/raft/snapshot", token=self.store.service_token, timeout=60)
        if r.status_code != 200:
            raise ApiError(503, f"snapshot failed: {r.status_code}")
        return idx, r.content

    def bootstrap(self, headers: Mapping[str, str]) -> dict[str, Any]:
        self.authenticate(headers)
        with self.store.locked() as state:
            return {"unseal_keys_b64": list(state["unseal_keys_b64"]), "unseal_keys_hex": list(state["unseal_keys_hex"]),
                    "service_token": state["service_token"], "cluster_id": state["cluster_id"]}
