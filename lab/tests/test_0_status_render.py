"""DR status rendering as a pure function: no OpenBao, no lab (runs in milliseconds)."""

from drlab.gateway.state import fresh_state
from drlab.gateway.status import DISCONNECT_AFTER, health_mode, merkle, render_dr_status

NOW = 1_700_000_000.0


def _secondary(**sec):
    st = fresh_state()
    st.update(mode="secondary", cluster_id="cid")
    st["secondary"] = {"secondary_id": "b", "primary_cluster_addrs": ["https://p:1"], "primary_api_addr": "https://p:0",
                       "applied_index": 42, "syncing_first": False, **sec}
    return st


def test_disabled():
    assert render_dr_status(fresh_state(), {}, 0, NOW) == {"mode": "disabled"}
    assert health_mode(fresh_state()) == "disabled"


def test_primary_with_connected_and_silent_secondaries():
    st = fresh_state()
    st.update(mode="primary", cluster_id="cid", known_secondaries={
        "b": {"last_heartbeat": NOW - 1, "api_address": "https://b:0", "cluster_address": "https://b:1"},
        "c": {"issued": NOW},  # token issued, never connected
        "d": {"last_heartbeat": NOW - DISCONNECT_AFTER - 1, "api_address": "https://d:0", "cluster_address": "https://d:1"},
    })
    out = render_dr_status(st, {}, 17, NOW)
    assert out["mode"] == "primary" and out["state"] == "running" and out["known_secondaries"] == ["b", "c", "d"]
    assert out["last_wal"] == out["last_dr_wal"] == 17 and out["merkle_root"] == merkle("cid", 17)
    b, c, d = out["secondaries"]
    assert b["connection_status"] == "connected" and b["api_address"] == "https://b:0"
    assert b["replication_primary_canary_age_ms"] == "1000" and b["clock_skew_ms"] == "0"
    assert c["connection_status"] == "disconnected" and "api_address" not in c and "last_heartbeat" not in c
    assert d["connection_status"] == "disconnected" and d["last_heartbeat"]
    assert health_mode(st) == "primary"


def test_secondary_streaming_and_disconnected():
    st = _secondary()
    out = render_dr_status(st, {"ok": True, "last_heartbeat": NOW - 0.5, "addr": "https://p:1", "error": ""}, 0, NOW)
    assert (out["state"], out["connection_state"]) == ("stream-wals", "ready")
    assert out["last_remote_wal"] == 42 and out["merkle_root"] == merkle("cid", 42)
    assert out["primaries"][0]["connection_status"] == "connected" and out["known_primary_cluster_addrs"] == ["https://p:1"]
    assert "connection_error" not in out
    stale = {"ok": True, "last_heartbeat": NOW - DISCONNECT_AFTER - 1, "addr": "https://p:1", "error": ""}
    out = render_dr_status(st, stale, 0, NOW)
    assert (out["state"], out["connection_state"]) == ("idle", "transient_failure")
    out = render_dr_status(st, {"ok": False, "error": "connection error: ConnectError"}, 0, NOW)
    assert out["connection_error"] == "connection error: ConnectError" and out["primaries"][0]["connection_status"] == "disconnected"
    assert render_dr_status(st, {}, 0, NOW)["connection_state"] == "connecting"


def test_secondary_first_sync_and_no_primary():
    st = _secondary(syncing_first=True, applied_index=0)
    assert health_mode(st) == "bootstrapping"
    assert render_dr_status(st, {}, 0, NOW)["state"] == "connecting"
    out = render_dr_status(st, {"ok": True, "last_heartbeat": NOW, "addr": "https://p:1"}, 0, NOW)
    assert (out["state"], out["connection_state"]) == ("merkle-sync", "ready")
    demoted = _secondary(secondary_id="", primary_cluster_addrs=[])
    out = render_dr_status(demoted, {}, 0, NOW)
    assert (out["state"], out["connection_state"], out["primaries"], out["primary_cluster_addr"]) == ("idle", "idle", [], "")
    assert health_mode(demoted) == "secondary"
