"""The failover plan: every situation the failover role can start from, and what it decides."""

from __future__ import annotations

import pytest

from ansible_collections.vaultops.dr.plugins.module_utils._failover_plan import (
    PlanError,
    cluster_view,
    older,
    parse_version,
    plan,
    topology,
)

ADDR = {"a": "https://a:8201", "b": "https://b:8201", "c": "https://c:8201"}


def primary(wal=100, secondaries=("b", "c")):
    return {"mode": "primary", "state": "running", "last_wal": wal, "last_dr_wal": wal, "merkle_root": "m%d" % wal,
            "known_secondaries": list(secondaries),
            "secondaries": [{"node_id": s, "connection_status": "connected"} for s in secondaries]}


def secondary(of="a", wal=100, state="stream-wals", connected=True):
    return {"mode": "secondary", "state": state, "connection_state": "ready" if connected else "transient_failure",
            "known_primary_cluster_addrs": [ADDR[of]] if of else [], "primary_cluster_addr": ADDR[of] if of else "",
            "last_remote_wal": wal, "merkle_root": "m%d" % wal,
            "primaries": [{"cluster_address": ADDR[of], "connection_status": "connected" if connected else "disconnected"}]
            if of else []}


def demoted():
    return {"mode": "secondary", "state": "idle", "connection_state": "idle", "known_primary_cluster_addrs": [],
            "last_remote_wal": 0}


def view(raw, version="1.15.0", answered=True, healthy=None):
    if not answered:
        return {"answered": False, "error": "connection refused", "mode": "unreachable", "raw": {}, "cluster_addr": ""}
    is_healthy = healthy if healthy is not None else raw.get("state") in ("running", "stream-wals")
    return {"answered": True, "mode": raw["mode"], "healthy": is_healthy, "raw": raw, "version": version}


def lab(**entries):
    out = {}
    for host, entry in entries.items():
        entry = dict(entry)
        entry["cluster_addr"] = ADDR[host]
        out[host] = entry
    return out


HEALTHY_SET = dict(a=view(primary()), b=view(secondary()), c=view(secondary()))


@pytest.mark.parametrize("mode", ["auto", "planned"])
def test_planned_demotes_first_and_reattaches_everyone(mode):
    p = plan(lab(**HEALTHY_SET), "b", mode=mode, key_shares=3)
    assert p["refuse"] == "" and p["kind"] == "planned" and p["action"] == "failover"
    assert p["old_primary"] == "a" and p["demote"] == "a" and p["promote"] and p["catch_up"]
    assert p["reattach"] == ["a", "c"] and p["returning"] == []
    assert p["op_token_source"] == {"b": "ceremony", "a": "ceremony", "c": "ceremony"}
    text = "\n".join(p["steps"])
    assert text.index("catch-up") < text.index("demote a") < text.index("promote b") < text.index("re-attach a")


def test_unplanned_refused_while_the_old_primary_answers():
    p = plan(lab(**HEALTHY_SET), "b", mode="unplanned", key_shares=3)
    assert "still answers as an active DR primary" in p["refuse"] and p["action"] == "none"


def test_unplanned_with_two_primaries_allowed_leaves_the_old_one_alone():
    p = plan(lab(**HEALTHY_SET), "b", mode="unplanned", allow_two_primaries=True, batch_token=True)
    assert p["refuse"] == "" and p["demote"] is None and p["reattach"] == ["c"]
    assert any("stays an active primary" in w for w in p["warnings"])


@pytest.mark.parametrize("mode, refused", [("auto", "confirm with failover_mode: unplanned"),
                                           ("planned", "run with failover_mode: unplanned"),
                                           ("unplanned", "")])
def test_unreachable_primary(mode, refused):
    clusters = lab(a=view({}, answered=False), b=view(secondary(connected=False, state="idle")),
                   c=view(secondary(connected=False, state="idle")))
    p = plan(clusters, "b", mode=mode, key_shares=3, hooks={"fence": "fence.yml"})
    if refused:
        assert refused in p["refuse"]
    else:
        assert p["refuse"] == "" and p["kind"] == "unplanned" and p["reattach"] == ["c"]
        assert p["unreachable"] == ["a"] and "fence: run fence.yml" in p["steps"][0]
        assert any("a did not answer" in w for w in p["warnings"])


def test_resume_after_the_demotion_promotes():
    clusters = lab(a=view(demoted()), b=view(secondary(state="idle", connected=False)),
                   c=view(secondary(state="idle", connected=False)))
    p = plan(clusters, "b", mode="auto", batch_token=True)
    assert p["refuse"] == "" and p["kind"] == "resume" and p["promote"] and p["demote"] is None
    assert p["reattach"] == ["a", "c"]


def test_target_already_primary_reattaches_the_rest_only():
    clusters = lab(a=view(demoted()), b=view(primary(secondaries=("c",))), c=view(secondary(of="b")))
    p = plan(clusters, "b", batch_token=True)
    assert p["action"] == "reattach" and not p["promote"] and p["reattach"] == ["a"]


def test_completed_failover_is_no_change_and_needs_no_token():
    clusters = lab(a=view(secondary(of="b")), b=view(primary(secondaries=("a", "c"))), c=view(secondary(of="b")))
    p = plan(clusters, "b")  # no token source at all: nothing needs one
    assert p["refuse"] == "" and p["action"] == "none" and p["kind"] == "" and p["op_token_hosts"] == []
    assert "nothing to do" in p["steps"][-1]


def test_returning_primary_is_demoted_and_reattached_after_a_snapshot():
    clusters = lab(a=view(primary(wal=130)), b=view(primary(secondaries=("c",))), c=view(secondary(of="b")))
    p = plan(clusters, "b", mode="unplanned", key_shares=3, snapshot_dir="/snaps")
    assert p["returning"] == ["a"] and p["reattach"] == [] and p["op_token_source"] == {"a": "ceremony"}
    assert any("save a raft snapshot of a" in s for s in p["steps"])


@pytest.mark.parametrize("mode", ["auto", "planned"])
def test_split_brain_is_never_resolved_by_a_planned_or_auto_run(mode):
    # After an unplanned failover to b, a came back still a primary; a failback to a must not demote b.
    clusters = lab(a=view(primary(wal=130)), b=view(primary(secondaries=("c",))), c=view(secondary(of="b")))
    p = plan(clusters, "a", mode=mode, key_shares=3)
    assert "Two DR primaries answer: a (the target) and b" in p["refuse"] and p["action"] == "none"
    assert "Two DR primaries answer" in plan(clusters, "b", mode=mode, key_shares=3)["refuse"]


def test_split_brain_target_without_followers_is_refused_even_unplanned():
    clusters = lab(a=view(primary(wal=130)), b=view(primary(secondaries=("c",))), c=view(secondary(of="b")))
    p = plan(clusters, "a", mode="unplanned", key_shares=3)
    assert "the secondaries follow b, not a" in p["refuse"]


def test_unhealthy_target_refuses_a_planned_failover():
    clusters = lab(a=view(primary()), b=view(secondary(state="merkle-sync"), healthy=False), c=view(secondary()))
    assert "is not a healthy secondary of a" in plan(clusters, "b", key_shares=3)["refuse"]


def test_corrupted_merkle_tree_refuses():
    raw = dict(secondary(), corrupted_merkle_tree=True)
    assert "corrupted_merkle_tree" in plan(lab(a=view(primary()), b=view(raw)), "b", key_shares=3)["refuse"]


def test_a_stray_primary_refuses():
    clusters = lab(a=view(primary()), b=view(secondary()), c=view(primary(secondaries=())))
    assert "c answers as DR primary besides a" in plan(clusters, "b", key_shares=3)["refuse"]


def test_target_following_no_host_of_the_play_refuses():
    raw = dict(secondary(), known_primary_cluster_addrs=["https://elsewhere:8201"], primary_cluster_addr="",
               primaries=[])
    assert "follows no cluster of the play" in plan(lab(a=view(primary()), b=view(raw)), "b", key_shares=3)["refuse"]


def test_bad_targets():
    assert "is not a host of the play" in plan(lab(**HEALTHY_SET), "x", key_shares=3)["refuse"]
    disabled = lab(a=view(primary(secondaries=("b",))), b=view(secondary()), c=view({"mode": "disabled"}))
    assert "is not a DR secondary" in plan(disabled, "c", key_shares=3)["refuse"]


def test_the_primary_as_target_is_already_done():
    assert plan(lab(**HEALTHY_SET), "a")["action"] == "none"


def test_unreachable_target_refuses():
    clusters = lab(a=view(primary()), b=view({}, answered=False))
    assert "does not answer" in plan(clusters, "b", key_shares=3)["refuse"]


def test_missing_op_token_names_the_clusters_and_the_options():
    p = plan(lab(**HEALTHY_SET), "b", given_tokens=["b"])
    assert "No DR operation token for c," in p["refuse"] and "failover_key_shares" in p["refuse"]


def test_given_tokens_for_a_planned_failover_leave_the_demoted_primary_for_a_later_run():
    # Key holders made tokens on b and c beforehand; a can have one only once demoted.
    p = plan(lab(**HEALTHY_SET), "b", given_tokens=["b", "c"])
    assert p["refuse"] == "" and p["demote"] == "a" and p["promote"] and p["reattach"] == ["c"]
    assert "make one on it then" in p["skipped"]["a"] and any("a is demoted but not re-attached" in w for w in p["warnings"])
    # The later run: a demoted, b primary, a's token given now.
    later = lab(a=view(demoted()), b=view(primary(secondaries=("c",))), c=view(secondary(of="b")))
    assert plan(later, "b", given_tokens=["a"])["reattach"] == ["a"]


def test_token_sources_per_cluster():
    p = plan(lab(**HEALTHY_SET), "b", given_tokens=["b", "a"], key_shares=3)
    assert p["op_token_source"] == {"b": "given", "a": "given", "c": "ceremony"}
    assert plan(lab(**HEALTHY_SET), "b", batch_token=True, key_shares=3)["op_token_source"]["c"] == "batch"


def test_a_hosts_own_token_wins_over_the_batch_token():
    # AWX's "DR change" template carries the batch token credential on every launch.
    p = plan(lab(**HEALTHY_SET), "b", batch_token=True, given_tokens=["b"])
    assert p["op_token_source"] == {"b": "given", "a": "batch", "c": "batch"}


def test_older_clusters_are_not_reattached_but_the_promotion_goes_on():
    clusters = lab(a=view(primary(), version="1.16.0"), b=view(secondary(), version="1.16.1"),
                   c=view(secondary(), version="1.15.9+ent"))
    p = plan(clusters, "b", key_shares=3)
    assert p["refuse"] == "" and p["promote"] and p["reattach"] == []
    assert set(p["skipped"]) == {"a", "c"} and "older than b's 1.16.1" in p["skipped"]["c"]
    assert p["op_token_source"] == {"b": "ceremony"}


def test_reattach_false_promotes_only():
    p = plan(lab(**HEALTHY_SET), "b", reattach=False, key_shares=3)
    assert p["promote"] and p["reattach"] == []
    assert p["skipped"] == {"a": "failover_reattach is false", "c": "failover_reattach is false"}


def test_disabled_cluster_is_never_wiped():
    clusters = lab(a=view({"mode": "disabled"}), b=view(primary(secondaries=("c",))), c=view(secondary(of="b")))
    p = plan(clusters, "b")
    assert p["action"] == "none" and "left alone" in p["skipped"]["a"]


@pytest.mark.parametrize("kwargs", [{"mode": "sometimes"}, {"activation": "carrier-pigeon"}])
def test_bad_options_raise(kwargs):
    with pytest.raises(PlanError):
        plan(lab(**HEALTHY_SET), "b", **kwargs)


@pytest.mark.parametrize("text, parsed", [("1.15.2+ent", (1, 15, 2)), ("v2.7.2", (2, 7, 2)), ("", None), (None, None),
                                          ("banana", None)])
def test_parse_version(text, parsed):
    assert parse_version(text) == parsed


def test_older():
    assert older("1.15", "1.15.1") and not older("1.15.0", "1.15") and not older(None, "1.0") and not older("1.0", "x")


def test_cluster_view_of_a_failed_read():
    v = cluster_view({"failed": True, "msg": "connection refused"}, "https://a:8201")
    assert v["answered"] is False and v["mode"] == "unreachable" and v["error"] == "connection refused"
    ok = cluster_view({"mode": "primary", "healthy": True, "status": {"raw": primary()}, "version": "1.0"}, ADDR["a"])
    assert ok["answered"] and ok["raw"]["mode"] == "primary" and ok["cluster_addr"] == ADDR["a"]


def test_short_error_keeps_the_cause_only():
    msg = ("GET sys/replication/dr/status on https://a:8200 got no answer: ConnectionError: HTTPSConnectionPool(host='a', "
           "port=8200): Max retries exceeded (Caused by NewConnectionError(\"...: Failed to establish a new connection: "
           "[Errno 111] Connection refused\"))")
    assert cluster_view({"failed": True, "msg": msg})["error"] == "no answer: connection refused"
    assert cluster_view({"failed": True, "msg": "x" * 400})["error"].endswith("...")


def test_topology_draws_followers_under_their_primary():
    lines = topology(lab(a=view(primary()), b=view(secondary()), c=view(demoted())))
    assert lines[0].startswith("a  [primary, running")
    assert lines[1].startswith("└── b  [secondary, stream-wals")
    assert lines[2].startswith("c  [secondary, idle") and "follows no primary" in lines[2]
    assert topology(lab(a=view({}, answered=False)))[0] == "a  [does not answer]"
