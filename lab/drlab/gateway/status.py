"""Rendering ``sys/replication/dr/status`` and ``sys/health``'s DR mode: pure functions of the DR state,
the secondary's last contact with its primary, the primary's raft index and the time (no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..util import rfc3339

DISCONNECT_AFTER = 5.0  # seconds without a heartbeat until a peer counts as disconnected


def merkle(cluster_id: str, index: int) -> str:
    """The lab's stand-in for a merkle root: equal on both sides only for the same cluster and index."""
    return hashlib.sha1(f"{cluster_id}:{index}".encode()).hexdigest()  # noqa: S324 - not security relevant


def health_mode(state: Mapping[str, Any]) -> str:
    """``replication_dr_mode`` of ``sys/health``."""
    mode = str(state["mode"])
    if mode == "secondary" and (state.get("secondary") or {}).get("syncing_first"):
        return "bootstrapping"
    return mode


def render_dr_status(state: Mapping[str, Any], contact: Mapping[str, Any], primary_index: int, now: float) -> dict[str, Any]:
    """The ``data`` of ``sys/replication/dr/status``.

    ``contact``: on a secondary, the last heartbeat exchange with the primary (``ok``, ``last_heartbeat``,
    ``error``, ``addr``); ``primary_index``: on a primary, OpenBao's raft committed index.
    """
    mode = state["mode"]
    if mode == "disabled":
        return {"mode": "disabled"}
    if mode == "primary":
        return _primary(state, primary_index, now)
    return _secondary(state, contact, now)


def _primary(st: Mapping[str, Any], idx: int, now: float) -> dict[str, Any]:
    secs = []
    for sid, info in sorted(st["known_secondaries"].items()):
        hb = info.get("last_heartbeat")
        entry = {"node_id": sid, "connection_status": "connected" if hb and now - hb < DISCONNECT_AFTER else "disconnected",
                 "clock_skew_ms": "0", "last_heartbeat_duration_ms": "0", "replication_primary_canary_age_ms": "0"}
        if hb:
            entry["last_heartbeat"] = rfc3339(hb)
            entry["api_address"] = info.get("api_address", "")
            entry["cluster_address"] = info.get("cluster_address", "")
            entry["replication_primary_canary_age_ms"] = str(int((now - hb) * 1000))
        secs.append(entry)
    return {"mode": "primary", "state": "running", "cluster_id": st["cluster_id"],
            "known_secondaries": sorted(st["known_secondaries"]), "secondaries": secs,
            "last_wal": idx, "last_dr_wal": idx, "last_reindex_epoch": "0", "merkle_root": merkle(st["cluster_id"], idx),
            "corrupted_merkle_tree": False, "primary_cluster_addr": st.get("primary_cluster_addr", ""),
            "ssct_generation_counter": 0, "last_start": st.get("last_start", "")}


def _secondary(st: Mapping[str, Any], contact: Mapping[str, Any], now: float) -> dict[str, Any]:
    sec = st.get("secondary") or {}
    addrs = sec.get("primary_cluster_addrs", [])
    hb = contact.get("last_heartbeat")
    connected = bool(hb and now - hb < DISCONNECT_AFTER and contact.get("ok"))
    applied = int(sec.get("applied_index", 0))
    if not addrs:
        state, cstate = "idle", "idle"
    elif sec.get("syncing_first") or sec.get("resync"):
        # no restore from this primary yet (first sync, or just re-attached with update-primary)
        state = "merkle-sync" if contact.get("ok") else "connecting"
        cstate = "ready" if connected else ("transient_failure" if contact.get("error") else "connecting")
    elif connected:
        state, cstate = "stream-wals", "ready"
    else:
        state = "idle"
        cstate = "transient_failure" if contact.get("error") or hb else "connecting"
    primaries = []
    if addrs:
        p = {"api_address": sec.get("primary_api_addr", ""), "cluster_address": contact.get("addr") or addrs[0],
             "connection_status": "connected" if connected else "disconnected", "clock_skew_ms": "0",
             "last_heartbeat_duration_ms": "0"}
        if hb:
            p["last_heartbeat"] = rfc3339(hb)
        primaries.append(p)
    out = {"mode": "secondary", "state": state, "connection_state": cstate, "cluster_id": st["cluster_id"],
           "known_primary_cluster_addrs": list(addrs), "last_remote_wal": applied,
           "merkle_root": merkle(st["cluster_id"], applied), "corrupted_merkle_tree": False,
           "last_reindex_epoch": "0", "primaries": primaries, "primary_cluster_addr": (contact.get("addr") or addrs[0]) if addrs else "",
           "secondary_id": sec.get("secondary_id", ""), "last_start": st.get("last_start", ""),
           "ssct_generation_counter": 0}
    if contact.get("error") and not connected:
        out["connection_error"] = contact["error"]
    return out
