"""The setup role (playbook vaultops.dr.setup) against a reset 3-cluster drlab.

check mode (nothing changes) → real run (a primary, b and c its connected secondaries, by plain HTTP)
→ check mode again and a re-run (changed=0, no write request). A second scenario puts a DR topology of
its own on the lab (c a primary, b its secondary) and checks that setup from a refuses before any write.
"""

from __future__ import annotations

import time

from dr_checks import recap, writes
from lab_api import Api, issue_activation_token, wait_for


def modes(lab):
    return {name: Api(lab.cluster(name)).dr()["mode"] for name in ("a", "b", "c")}


def test_setup_check_real_rerun(lab, playbook):
    lab.reset()
    t0 = time.time()

    # Check mode on fresh clusters: the plan, no failure, no write.
    proc = playbook("vaultops.dr.setup", tokens=None, check=True)
    assert modes(lab) == {"a": "disabled", "b": "disabled", "c": "disabled"}
    assert writes(lab, t0) == []
    counts = recap(proc)
    assert all(counts[h]["changed"] >= 1 for h in ("a", "b", "c")), counts
    assert "enable this cluster as its DR secondary (this wipes it)" in proc.stdout

    # The real set-up, each host with its own root token (the clusters' tokens before the wipe).
    started = time.time()
    proc = playbook("vaultops.dr.setup", tokens=None, verbosity=4)
    took = time.time() - started
    # no root token nor activation token (drlab's are JWTs) in the -vvvv output
    assert not [n for n in ("a", "b", "c") if lab.cluster(n).root_token in proc.output]
    assert '"eyJ' not in proc.output and "'eyJ" not in proc.output and " eyJ" not in proc.output
    counts = recap(proc)
    assert all(counts[h]["failed"] == 0 and counts[h]["changed"] >= 1 for h in ("a", "b", "c")), counts

    a, b, c = (lab.cluster(n) for n in ("a", "b", "c"))
    primary = Api(a).dr()
    assert primary["mode"] == "primary" and primary["state"] == "running"
    assert sorted(primary["known_secondaries"]) == ["b", "c"]
    connected = {s["node_id"]: s["connection_status"] for s in primary.get("secondaries", [])}
    assert connected == {"b": "connected", "c": "connected"}, primary
    for cluster in (b, c):
        status = Api(cluster).dr()
        assert status["mode"] == "secondary" and status["state"] == "stream-wals", status
        assert a.cluster_addr in status["known_primary_cluster_addrs"], status
    # the secondaries were enabled in one task over both hosts: together, not one after the other
    print("setup of a -> b, c took %.1f s" % took)

    # Replication is real: a KV write on a reaches b and c (their WAL catches up with a's).
    api_a = Api(a)
    resp = api_a("POST", "sys/mounts/setuptest", token=a.root_token, json={"type": "kv", "options": {"version": "1"}})
    assert resp.status_code in (200, 204), resp.text
    resp = api_a("POST", "setuptest/sentinel", token=a.root_token, json={"value": "x"})
    assert resp.status_code in (200, 204), resp.text
    wal = Api(a).dr()["last_wal"]
    for cluster in (b, c):
        wait_for(lambda cl=cluster: Api(cl).dr().get("last_remote_wal", 0) >= wal, 120, "secondary to catch up")

    # Check mode and a re-run on the set-up topology (a's token everywhere): changed=0, no write, no token.
    since = time.time()
    for check in (True, False):
        proc = playbook("vaultops.dr.setup", tokens="a", check=check)
        counts = recap(proc)
        assert all(counts[h]["changed"] == 0 and counts[h]["failed"] == 0 for h in ("a", "b", "c")), (check, counts)
        assert "already a DR secondary of a: nothing to do" in proc.stdout
    assert writes(lab, since) == [], writes(lab, since)
    assert sorted(Api(a).dr()["known_secondaries"]) == ["b", "c"]


def test_setup_refuses_foreign_topology_before_any_write(lab, playbook):
    lab.reset()
    a, b, c = (lab.cluster(n) for n in ("a", "b", "c"))
    # c a DR primary of its own, b its secondary (plain HTTP).
    token = issue_activation_token(c, "b")
    resp = Api(b)("POST", "sys/replication/dr/secondary/enable", token=b.root_token,
                  json={"token": token, "ca_file": c.ca_cert})
    assert resp.status_code in (200, 204), resp.text
    wait_for(lambda: Api(b).dr().get("state") == "stream-wals", 120, "b streaming from c")

    since = time.time()
    proc = playbook("vaultops.dr.setup", tokens="c", expect_fail=True)
    out = " ".join(proc.output.split())
    assert "c (%s) is a DR primary too" % c.api_addr in out, out[-4000:]
    assert "already a DR secondary, but not of setup_primary a" in out
    assert "Nothing was changed." in out
    assert writes(lab, since) == []
    assert modes(lab) == {"a": "disabled", "b": "secondary", "c": "primary"}

    # Naming a DR secondary as the primary is refused as well.
    proc = playbook("vaultops.dr.setup", tokens="c", expect_fail=True, setup_primary="b")
    out = " ".join(proc.output.split())
    assert "setup_primary b (%s) is not a DR primary" % b.api_addr in out
    assert "promote it with the vaultops.dr.failover role" in out
    assert writes(lab, since) == []
