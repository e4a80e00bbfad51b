"""The readiness verdict: a table of DR-set situations and what `judge()` says of each (pure, no Vault)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.vaultops.dr.plugins.filter.dr_readiness import dr_readiness
from ansible_collections.vaultops.dr.plugins.module_utils._readiness import (
    OP_TOKEN_ATTEMPT,
    PROMOTE,
    ROOT_ATTEMPT,
    UPDATE_PRIMARY,
    judge,
    parse_time,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
HB = "2027-01-15T07:59:58.123456789Z"  # 2 s before NOW (Go writes nanoseconds)
ADDR = {h: "https://%s:8201" % h for h in "abc"}


def ok(body):
    return {"status": 200, "json": body}


def err(status, *errors):
    return {"status": status, "json": {"errors": list(errors)}, "msg": "Status code was %s" % status}


def primary_raw(wal=200, secondaries=("b", "c"), hb=HB, skew="0", conn="connected"):
    return {"mode": "primary", "state": "running", "cluster_id": "cid", "known_secondaries": list(secondaries),
            "last_wal": wal, "last_dr_wal": wal, "merkle_root": "m", "corrupted_merkle_tree": False,
            "secondaries": [{"node_id": s, "connection_status": conn, "last_heartbeat": hb, "clock_skew_ms": skew}
                            for s in secondaries]}


def secondary_raw(wal=200, of="a", state="stream-wals", conn="ready", primary_conn="connected", hb=HB, skew="0"):
    return {"mode": "secondary", "state": state, "connection_state": conn, "cluster_id": "cid",
            "known_primary_cluster_addrs": [ADDR[of]], "primary_cluster_addr": ADDR[of], "last_remote_wal": wal,
            "merkle_root": "m", "corrupted_merkle_tree": False,
            "primaries": [{"cluster_address": ADDR[of], "connection_status": primary_conn, "last_heartbeat": hb,
                           "clock_skew_ms": skew}]}


def dr(raw, version="1.15.2+ent", healthy=None):
    if raw is None:
        return {"failed": True, "msg": "dr_status read of sys/replication/dr/status on https://b: connection refused"}
    if healthy is None:
        healthy = raw["mode"] == "primary" or (raw.get("state") == "stream-wals"
                                               and raw["primaries"][0]["connection_status"] == "connected")
    return {"mode": raw["mode"], "healthy": healthy, "version": version, "status": {"raw": raw}}


def host(raw, name, version="1.15.2+ent", perf="disabled", is_self=True, attempt=False, healthy=None):
    mode = raw["mode"] if raw else None
    return {
        "dr": dr(raw, version, healthy),
        "addr": "https://%s:8200" % name,
        "cluster_addr": ADDR[name],
        "replication": ok({"data": {"dr": raw or {}, "performance": {"mode": perf}}}),
        "leader": ok({"ha_enabled": True, "is_self": is_self, "leader_address": "https://%s-active:8200" % name}),
        "attempt": dict(ok({"started": attempt, "progress": 1 if attempt else 0, "required": 3}),
                        path=OP_TOKEN_ATTEMPT if mode == "secondary" else ROOT_ATTEMPT),
    }


def healthy_set():
    return {"a": host(primary_raw(), "a"), "b": host(secondary_raw(), "b"), "c": host(secondary_raw(), "c")}


def token(ttl=7 * 86400, kind="batch", caps=("update",), lookup=None, capabilities=None):
    return {
        "host": "a",
        "lookup": lookup or ok({"data": {"type": kind, "ttl": ttl, "policies": ["vaultops-dr-op"],
                                         "expire_time": "2027-01-22T08:00:00Z"}}),
        "capabilities": capabilities or ok({"data": {PROMOTE: list(caps), UPDATE_PRIMARY: list(caps)}}),
    }


def with_(clusters, name, **changes):
    out = copy.deepcopy(clusters)
    out[name].update(changes)
    return out


def codes(result, level="reason"):
    return sorted({f["code"] for f in result["findings"] if f["level"] == level})


def run(clusters, **kw):
    kw.setdefault("now", NOW)
    return judge(clusters, **kw)


# -- the table ---------------------------------------------------------------------------------
S = healthy_set()
SITUATIONS = [
    # (id, clusters, judge kwargs, reason codes, warning codes)
    ("healthy, token fine", S, {"token": token()}, [], []),
    ("healthy, no token given", S, {}, [], []),
    ("secondary unreachable (stopped)",
     with_(with_(S, "b", dr=dr(None), replication={"status": -1, "msg": "refused"},
                 leader={"status": -1, "msg": "refused"}, attempt=None),
           "a", dr=dr(dict(primary_raw(), secondaries=[
               {"node_id": "b", "connection_status": "disconnected", "last_heartbeat": "2027-01-15T07:55:00Z"},
               {"node_id": "c", "connection_status": "connected", "last_heartbeat": HB}]))),
     {}, ["disconnected", "heartbeat_stale", "unreachable"], []),
    ("cut link: secondary idle, disconnected, behind, stale heartbeat",
     with_(with_(S, "b", dr=dr(secondary_raw(wal=80, state="idle", conn="transient_failure",
                                             primary_conn="disconnected", hb="2027-01-15T07:58:00Z"))),
           "a", dr=dr(primary_raw(secondaries=("b", "c"), hb=HB) | {"secondaries": [
               {"node_id": "b", "connection_status": "disconnected", "last_heartbeat": "2027-01-15T07:58:00Z"},
               {"node_id": "c", "connection_status": "connected", "last_heartbeat": HB}]})),
     {}, ["disconnected", "heartbeat_stale", "unhealthy", "wal_lag"], []),
    ("lag within the bound", with_(S, "c", dr=dr(secondary_raw(wal=150))), {}, [], []),
    ("lag just above the bound", with_(S, "c", dr=dr(secondary_raw(wal=99))), {}, ["wal_lag"], []),
    ("clock skew", with_(S, "a", dr=dr(primary_raw(skew="-1500"))), {}, ["clock_skew"], []),
    ("corrupted merkle tree on a secondary",
     with_(S, "c", dr=dr(secondary_raw() | {"corrupted_merkle_tree": True})), {}, ["corrupted_merkle_tree"], []),
    ("secondary older", with_(S, "b", dr=dr(secondary_raw(), version="1.14.9+ent")), {}, ["version_older"], []),
    ("secondary newer (mid-upgrade)", with_(S, "c", dr=dr(secondary_raw(), version="1.16.0+ent")), {}, [],
     ["version_newer"]),
    ("performance primary", with_(S, "a", replication=ok({"data": {"performance": {"mode": "primary"}}})), {}, [],
     ["performance_secondaries"]),
    ("standby behind the load balancer", with_(S, "b", leader=ok({"ha_enabled": True, "is_self": False})), {},
     ["standby_node"], []),
    ("open attempt on a secondary",
     with_(S, "c", attempt=dict(ok({"started": True, "progress": 1, "required": 3}), path=OP_TOKEN_ATTEMPT)), {},
     ["generation_attempt_open"], []),
    ("open generate-root attempt on the primary",
     with_(S, "a", attempt=dict(ok({"started": True, "progress": 0, "required": 3}), path=ROOT_ATTEMPT)), {},
     ["generation_attempt_open"], []),
    ("primary knows a secondary not in the inventory",
     with_(S, "a", dr=dr(primary_raw(secondaries=("b", "c", "old-dc")))), {}, ["unknown_secondary"], []),
    ("inventory host the primary does not know",
     with_(S, "a", dr=dr(primary_raw(secondaries=("b",)))), {}, ["forgotten_secondary"], []),
    ("secondary follows another primary", with_(S, "c", dr=dr(secondary_raw(of="b"))), {}, ["follows_other"], []),
    ("two primaries", with_(S, "b", dr=dr(primary_raw(secondaries=()))), {}, ["several_primaries"], []),
    ("no primary", with_(with_(S, "a", dr=dr(secondary_raw(of="b"))), "b", dr=dr(secondary_raw(of="c"))), {},
     ["no_primary"], []),
    ("DR disabled on a host", with_(S, "c", dr=dr({"mode": "disabled"}, healthy=False)), {},
     ["not_secondary"], []),
    ("token near expiry", S, {"token": token(ttl=3600)}, ["token_ttl_low"], []),
    ("token exactly at the bound", S, {"token": token(ttl=86400)}, ["token_ttl_low"], []),
    ("token a service token", S, {"token": token(kind="service", ttl=0)}, ["token_not_batch", "token_ttl_low"], []),
    ("token invalid", S, {"token": token(lookup=err(403, "bad token"))}, ["token_invalid"], []),
    ("token policy no longer grants promote", S, {"token": token(caps=("deny",))}, ["token_policy"], []),
    ("token lookup permission denied", S, {"token": token(lookup=err(403, "permission denied"))},
     ["token_unchecked"], []),
]


@pytest.mark.parametrize("clusters,kwargs,reasons,warnings", [s[1:] for s in SITUATIONS], ids=[s[0] for s in SITUATIONS])
def test_situation(clusters, kwargs, reasons, warnings):
    result = run(clusters, **kwargs)
    assert codes(result) == reasons, result["reasons"]
    assert codes(result, "warning") == warnings, result["warnings"]
    assert result["verdict"] == ("not ready" if reasons else "ready")
    assert result["ready"] is (not reasons)
    assert set(result["clusters"]) == set(clusters)
    for view in result["clusters"].values():
        assert {"mode", "version", "wal_lag", "heartbeat_age", "active_node", "generation_attempt", "ready"} <= set(view)
    assert result["summary"][0].startswith("DR readiness: %s" % result["verdict"])
    for message in result["reasons"]:
        assert "NOT READY: " + message in result["summary"]


# -- notes: what the server cannot answer is not a verdict -------------------------------------
def test_endpoints_not_served_are_notes_not_reasons():
    clusters = copy.deepcopy(S)
    for name in clusters:
        clusters[name]["replication"] = err(404, "unsupported path")
        clusters[name]["leader"] = err(404, "unsupported path")
    clusters["a"]["attempt"] = dict(err(405, "unsupported operation"), path=ROOT_ATTEMPT)
    clusters["b"]["dr"]["version"] = None
    result = run(clusters, token=token(capabilities=err(404, "unsupported path")))
    assert result["ready"], result["reasons"]
    assert {"performance_unknown", "leader_unknown", "attempt_unknown", "version_unknown",
            "token_capabilities_unknown"} <= set(codes(result, "note"))
    assert result["clusters"]["a"]["performance_mode"] is None and result["clusters"]["a"]["active_node"] is None


def test_no_token_given_is_a_note():
    result = run(S)
    assert codes(result, "note") == ["token_not_given"] and result["token"] == {"checked": False}


def test_single_node_without_ha_counts_as_active():
    result = run(with_(S, "a", leader=ok({"ha_enabled": False, "is_self": False})))
    assert result["ready"] and result["clusters"]["a"]["active_node"] is True


def test_the_report_per_cluster_and_for_the_token():
    result = run(with_(S, "c", dr=dr(secondary_raw(wal=190), version="1.16.0+ent")), token=token(ttl=100000))
    assert result["primary"] == "a" and result["checked_at"] == "2027-01-15T08:00:00Z"
    c = result["clusters"]["c"]
    assert c["wal_lag"] == 10 and c["heartbeat_age"] == pytest.approx(1.9, abs=0.1) and c["clock_skew_ms"] == 0
    assert c["mode"] == "secondary" and c["performance_mode"] == "disabled" and c["active_node"] is True
    assert c["generation_attempt"] is False and c["ready"] and c["version"] == "1.16.0+ent"
    assert result["clusters"]["a"]["known_secondaries"] == ["b", "c"]
    assert result["token"] == {"checked": True, "valid": True, "looked_up_on": "a", "type": "batch", "ttl": 100000,
                               "ttl_human": "27h46m40s", "expire_time": "2027-01-22T08:00:00Z",
                               "policies": ["vaultops-dr-op"], "grants": {"promote": True, "update-primary": True}}
    assert result["topology"][0].startswith("a  [primary, running")
    assert result["bounds"] == {"max_wal_lag": 100, "max_clock_skew_ms": 1000, "max_heartbeat_age": 60,
                                "min_token_ttl": "24h"}


def test_reasons_name_the_cluster_and_the_bound():
    result = run(with_(S, "b", dr=dr(secondary_raw(wal=10))), max_wal_lag=5)
    (reason,) = result["reasons"]
    assert "b is 190 WAL entries behind" in reason and "readiness_max_wal_lag 5" in reason
    assert result["clusters"]["b"]["reasons"] == [reason] and result["clusters"]["c"]["ready"]


def test_token_reasons_never_hold_the_token():
    secret = "hvb.SECRET-TOKEN-VALUE"
    lookup = err(403, "bad token")
    lookup["json"]["data"] = {"id": secret}  # even when an answer echoes it, the report does not carry it
    result = run(S, token=token(lookup=lookup))
    assert secret not in repr(result)


def test_heartbeat_age_is_measured_from_when_each_cluster_was_read():
    clusters = with_(S, "a", dr=dr(primary_raw(hb="2027-01-15T07:59:30Z")))  # 30 s before NOW
    assert codes(run(clusters, max_heartbeat_age=10)) == ["heartbeat_stale"]
    read_earlier = with_(clusters, "a", read_at=str(NOW - 25))  # the primary was read 25 s before the judgement
    result = run(read_earlier, max_heartbeat_age=10)
    assert result["ready"], result["reasons"]
    assert result["clusters"]["b"]["heartbeat_age"] == pytest.approx(5, abs=0.1)


def test_one_reason_for_a_stale_heartbeat_seen_from_both_ends():
    stale = "2027-01-15T07:58:00Z"
    clusters = with_(with_(S, "b", dr=dr(secondary_raw(hb=stale))), "a", dr=dr(primary_raw(hb=stale)))
    (reason,) = [f["message"] for f in run(clusters)["findings"] if f["code"] == "heartbeat_stale" and f["cluster"] == "b"]
    assert reason == "b's last heartbeat as the primary and b report it is 2m old, above readiness_max_heartbeat_age 60s."


def test_heartbeat_bound_is_configurable():
    old = "2027-01-15T07:59:50Z"  # 10 s
    clusters = with_(S, "a", dr=dr(primary_raw(hb=old)))
    assert run(clusters)["ready"]
    assert codes(run(clusters, max_heartbeat_age=5)) == ["heartbeat_stale"]


@pytest.mark.parametrize("text,expected", [
    ("2027-01-15T08:00:00Z", NOW),
    ("2027-01-15T03:00:00-05:00", NOW),
    ("2027-01-15T08:00:00.5+00:00", NOW + 0.5),
    ("2027-01-15T08:00:00.123456789Z", NOW + 0.123456789),
    ("0001-01-01T00:00:00Z", None),
    ("yesterday", None),
    (None, None),
])
def test_parse_time(text, expected):
    got = parse_time(text)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_filter_wraps_bad_input():
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError):
        dr_readiness({}, now=NOW)
    with pytest.raises(AnsibleFilterError):
        dr_readiness(S, min_token_ttl="soon", now=NOW)
    assert dr_readiness(S, token={}, max_wal_lag="100", now=str(NOW))["ready"]
    assert dr_readiness(S, token="None", now=NOW)["token"] == {"checked": False}  # ansible-core 2.16 renders none so


def redirect(location="https://elsewhere.example:8200/v1/auth/token/lookup"):
    return {"status": 307, "json": None, "location": location,
            "msg": "Status code was 307 and not [200]: HTTP Error 307: Temporary Redirect"}


def test_a_redirect_is_named_with_its_location_not_followed():
    """The uri reads follow no redirect (issue 20): a 3xx is judged as an answer that names where it pointed."""
    result = run(with_(S, "c", attempt=dict(redirect("http://10.0.0.9:8200/v1/x"), path=OP_TOKEN_ATTEMPT)),
                 token=token(lookup=redirect()))
    (reason,) = result["reasons"]
    assert codes(result) == ["token_unchecked"]
    assert "auth/token/lookup answered HTTP 307 (a redirect to https://elsewhere.example:8200/v1/auth/token/lookup, " \
           "not followed: a request with a token goes to vault_addr only; point vault_addr at the active node" in reason
    assert "vault_token needs update" not in reason  # not a permission problem
    (note,) = [f["message"] for f in result["findings"] if f["code"] == "attempt_unknown"]
    assert "HTTP 307 (a redirect to http://10.0.0.9:8200/v1/x, not followed" in note
