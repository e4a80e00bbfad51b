"""The failover and failback roles against drlab (real OpenBao underneath), checked by plain HTTP and
the lab's own records: who is primary and who follows it, sentinel data, the writes the lab received
(a re-run sends none), and that no DR operation token the run generated is still accepted.

Each test starts from a reset lab set up by the setup role (a primary, b and c its secondaries).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from born_private import Watch, umask
from dr_checks import (
    assert_no_secret,
    changed,
    key_shares,
    lab_secrets,
    mint_batch_op_token,
    read_sentinels,
    remembered_op_tokens,
    root_accessors,
    topology,
    wait_topology,
    write_sentinels,
    writes,
)
from lab_api import Api, wait_for

HOOKS = Path(__file__).resolve().parent / "targets" / "failover"


@pytest.fixture
def dr_set(lab, playbook):
    """A reset lab with DR set up from a (b, c its healthy secondaries)."""
    lab.reset()
    playbook("vaultops.dr.setup", tokens=None)
    wait_topology(lab, "a", ["b", "c"])
    return lab


def hooks(tmp_path, *names):
    out = {"hook_dir": str(tmp_path)}
    for name in names:
        out["failover_%s_tasks" % name] = str(HOOKS / ("%s.yml" % name))
    return out


def hook_record(tmp_path, name):
    path = tmp_path / ("%s.json" % name)
    return json.loads(path.read_text()) if path.exists() else None


def first(writes_seen, path_part):
    return next((w for w in writes_seen if path_part in w["path"]), None)


def test_planned_failover_zero_loss_hooks_and_rerun(dr_set, playbook, tmp_path):
    lab = dr_set
    accessors_before = root_accessors(lab, "a")

    # Check mode prints the plan (each step, the cluster, the op-token source) and writes nothing.
    t0 = time.time()
    proc = playbook("vaultops.dr.failover", tokens="a", check=True, failover_target="b",
                    failover_key_shares=key_shares(lab), **hooks(tmp_path, "drain", "traffic"))
    assert writes(lab, t0) == []
    for step in ("drain: run", "catch-up: wait until b", "demote a", "promote b with a ceremony on it",
                 "re-attach a to b", "re-attach c to b"):
        assert step in proc.stdout, proc.stdout[-4000:]
    assert hook_record(tmp_path, "drain") is None and topology(lab)["a"][0] == "primary"

    # Writes acknowledged just before the failover: the catch-up wait holds the demotion until b has them.
    values = write_sentinels(lab, "a", count=10)
    t0 = time.time()
    proc = playbook("vaultops.dr.failover", tokens="a", verbosity=2, failover_target="b",
                    failover_key_shares=key_shares(lab), **hooks(tmp_path, "drain", "traffic"))
    wait_topology(lab, "b", ["a", "c"])
    assert read_sentinels(lab, "b", values) == [], "writes acknowledged before the demotion were lost"
    assert_no_secret(proc, lab_secrets(lab))
    assert "RTO:" in proc.stdout and "Failover to b: complete (planned, from a)" in proc.stdout

    # The drain hook ran before the demotion, the traffic hook after the promotion, with the new primary's addresses.
    seen = writes(lab, t0)
    demote, promote = first(seen, "primary/demote"), first(seen, "secondary/promote")
    assert demote and promote and demote["cluster"] == "a" and promote["cluster"] == "b"
    drain, traffic = hook_record(tmp_path, "drain"), hook_record(tmp_path, "traffic")
    assert drain["at"] < demote["time"] < promote["time"] < traffic["at"]
    assert traffic["new_primary"] == "b" and traffic["addr"] == lab.cluster("b").api_addr
    assert traffic["cluster_addr"] == lab.cluster("b").cluster_addr

    # Every op token the ceremonies made is gone: none in the lab's registry, no new root token on b.
    assert remembered_op_tokens(lab) == {"a": 0, "b": 0, "c": 0}
    assert root_accessors(lab, "b") <= accessors_before

    # A completed failover re-run: no change, no write.
    t0 = time.time()
    proc = playbook("vaultops.dr.failover", tokens="a", failover_target="b", failover_key_shares=key_shares(lab))
    assert changed(proc) == 0 and writes(lab, t0) == []


def test_unplanned_refusals_fencing_and_returning_primary(dr_set, playbook, tmp_path):
    lab = dr_set
    values = write_sentinels(lab, "a", count=3)
    wait_for(lambda: Api(lab.cluster("b")).dr()["last_remote_wal"] >= Api(lab.cluster("a")).dr()["last_wal"],
             what="b to receive a's writes")
    wait_for(lambda: read_sentinels(lab, "c", {}) == [] and Api(lab.cluster("c")).dr()["last_remote_wal"]
             >= Api(lab.cluster("a")).dr()["last_wal"], what="c to receive a's writes")
    shares = key_shares(lab)
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()

    # Unplanned while the old primary answers: refused before any write (never two primaries).
    t0 = time.time()
    proc = playbook("vaultops.dr.failover", tokens="a", expect_fail=True, failover_target="b",
                    failover_mode="unplanned", failover_key_shares=shares)
    assert "still answers as an active DR primary" in proc.output and writes(lab, t0) == []

    # The primary's site goes down: auto refuses (it may be alive behind a partition) ...
    lab.stop("a")
    t0 = time.time()
    proc = playbook("vaultops.dr.failover", tokens="a", expect_fail=True, failover_target="b",
                    failover_key_shares=shares)
    assert "confirm with failover_mode: unplanned" in proc.output and writes(lab, t0) == []

    # ... the operator confirms: fence, promote b, re-point c; a is named as not re-attached. The promotion
    # record is born 0600 (under umask 000 no process of the run sees it written and readable by others).
    watch = Watch(snapshots, tmp_path / "watch-promotion.log")
    with umask(0):
        proc = playbook("vaultops.dr.failover", tokens="a", env=watch.env, failover_target="b",
                        failover_mode="unplanned", failover_key_shares=shares, failover_snapshot_dir=str(snapshots),
                        **hooks(tmp_path, "fence"))
    watch.assert_born_private("promotion-b.json")
    assert hook_record(tmp_path, "fence") is not None
    topo = wait_topology(lab, "b", ["c"])
    assert "a did not answer; it is not re-attached" in proc.stdout, topo
    assert read_sentinels(lab, "b", values) == []
    assert (snapshots / "promotion-b.json").exists()
    assert remembered_op_tokens(lab)["b"] == 0 and remembered_op_tokens(lab)["c"] == 0

    # The old primary comes back, still a primary: the same playbook saves a snapshot of it (born 0600), reports
    # the WAL entries it holds beyond what b had received, demotes it and re-attaches it.
    lab.start("a")
    assert Api(lab.cluster("a")).dr()["mode"] == "primary"
    watch = Watch(snapshots, tmp_path / "watch-snapshot.log")
    with umask(0):
        proc = playbook("vaultops.dr.failover", tokens="a", env=watch.env, failover_target="b",
                        failover_mode="unplanned", failover_key_shares=shares, failover_snapshot_dir=str(snapshots))
    watch.assert_born_private("a-*.snap")
    wait_topology(lab, "b", ["a", "c"])
    assert "a came back still a primary with last_wal" in proc.stdout
    assert "re-attachment discarded" in proc.stdout
    assert list(snapshots.glob("a-*.snap")) and next(snapshots.glob("a-*.snap")).stat().st_size > 0
    assert read_sentinels(lab, "b", values) == []
    assert remembered_op_tokens(lab) == {"a": 0, "b": 0, "c": 0}

    t0 = time.time()
    proc = playbook("vaultops.dr.failover", tokens="a", failover_target="b", failover_mode="unplanned",
                    failover_key_shares=shares, failover_snapshot_dir=str(snapshots))
    assert changed(proc) == 0 and writes(lab, t0) == []


def test_resumed_after_a_fault_and_after_a_kill(dr_set, playbook, tmp_path):
    lab = dr_set
    values = write_sentinels(lab, "a", count=3)
    batch = mint_batch_op_token(lab, on="a")

    # update-primary on a keeps failing: the run fails, rescue reads the topology and says how to resume.
    lab.fault("a", path="sys/replication/dr/secondary/update-primary", status=500, count=-1,
              message="injected: cannot reach the new primary")
    proc = playbook("vaultops.dr.failover", tokens="a", expect_fail=True, failover_target="b",
                    failover_dr_operation_token=batch, failover_reattach_attempts=2)
    assert "Topology now:" in proc.output and "run the same command again" in proc.output
    assert "ansible-playbook vaultops.dr.failover -i" in proc.output
    assert topology(lab)["b"][0] == "primary" and topology(lab)["c"][1] == "b"
    lab.clear_faults("a")

    # The same command again finishes the job (b is already primary: re-attach a).
    proc = playbook("vaultops.dr.failover", tokens="a", failover_target="b", failover_dr_operation_token=batch)
    wait_topology(lab, "b", ["a", "c"])
    assert read_sentinels(lab, "b", values) == []

    # Failback, killed with SIGKILL right after the promotion: the re-run finishes it.
    cmd_proc = playbook.start("vaultops.dr.failback", tokens="a", failback_primary="a",
                              failback_dr_operation_token=batch)
    try:
        wait_for(lambda: Api(lab.cluster("a")).dr()["mode"] == "primary", timeout=180, what="a promoted")
    finally:
        os.killpg(cmd_proc.pid, signal.SIGKILL)
        cmd_proc.wait()
    playbook("vaultops.dr.failback", tokens="a", failback_primary="a", failback_dr_operation_token=batch)
    wait_topology(lab, "a", ["b", "c"])
    assert read_sentinels(lab, "a", values) == []
    t0 = time.time()
    proc = playbook("vaultops.dr.failback", tokens="a", failback_primary="a", failback_dr_operation_token=batch)
    assert changed(proc) == 0 and writes(lab, t0) == []


def test_public_key_flow_given_tokens_and_version_skew(dr_set, playbook):
    lab = dr_set
    values = write_sentinels(lab, "a", count=2)
    from test_replication import dr_operation_token  # drlab's ceremony by plain HTTP

    info = json.loads((Path(lab.dir) / "lab.json").read_text())
    lab.set_version("c", "2.6.0")  # older than b: must not be re-attached to it
    try:
        given = {"b": dr_operation_token(info, "b", "a"), "a": "placeholder"}
        t0 = time.time()
        proc = playbook("vaultops.dr.failover", tokens="a", failover_target="b", failover_activation="public_key",
                        failover_dr_operation_tokens=given, failover_reattach_attempts=1, expect_fail=True)
        assert "could not be re-attached" in proc.output
        # a's token is only needed after its demotion: a placeholder fails there, after the promotion.
        assert topology(lab)["b"][0] == "primary"
        given["a"] = dr_operation_token(info, "a", "a")
        proc = playbook("vaultops.dr.failover", tokens="a", failover_target="b", failover_activation="public_key",
                        failover_dr_operation_tokens=given)
        wait_topology(lab, "b", ["a"])
        assert "c is not re-attached: runs Vault 2.6.0, older than b's" in proc.stdout
        assert topology(lab)["c"][1] == "a"  # left as it was, following the demoted a
        assert read_sentinels(lab, "b", values) == []
        public_key_calls = [w for w in writes(lab, t0) if w["path"].endswith("generate-public-key")]
        assert {w["cluster"] for w in public_key_calls} == {"a"}
        assert all(v not in proc.output for v in given.values())
        assert Api(lab.cluster("a")).delete_op_token(given["a"]).status_code in (200, 204)  # the caller's to dispose of
    finally:
        lab.set_version("c", None)


def test_drill_failover_and_failback_with_a_batch_token(dr_set, playbook, tmp_path):
    """The drill: failover to c and failback to a (the failback role), both with a batch DR operation token
    (valid on every cluster, never disposed of); writes acknowledged before it are on a afterwards."""
    lab = dr_set
    reports = tmp_path / "reports"
    reports.mkdir()
    batch = mint_batch_op_token(lab, on="a")
    values = write_sentinels(lab, "a", count=5)
    proc = playbook("vaultops.dr.drill", tokens="a", drill_target="c", drill_dr_operation_token=batch,
                    drill_report_dir=str(reports))
    wait_topology(lab, "a", ["b", "c"])
    assert read_sentinels(lab, "a", values) == [] and read_sentinels(lab, "c", {}) == []
    report = json.loads((reports / "drill-report.json").read_text())
    assert report["passed"] and report["primary"] == "a" and report["target"] == "c"
    assert [c["ok"] for c in report["data_checks"]] == [True, True]
    assert report["rto_seconds"]["failover"] > 0 and report["rto_seconds"]["failback"] > 0
    assert report["failover"]["outcome"] == "complete" and report["failback"]["outcome"] == "complete"
    assert report["failover"]["topology_after"][0].startswith("c  [primary")
    names = [p["name"] for p in report["timeline"]]
    assert "demote and promote" in names and names.count("re-attach") == 2
    markdown = (reports / "drill-report.md").read_text()
    assert "RTO" in markdown and "| sentinel after failover on c | ok |" in markdown
    svg = ElementTree.parse(reports / "drill-report.svg").getroot()  # noqa: S314 - our own file; well-formed, one bar per phase
    assert svg.tag.endswith("svg") and len(svg.findall("{http://www.w3.org/2000/svg}rect")) == len(report["timeline"])
    assert "RTO failover:" in proc.stdout and batch not in proc.output
    assert "Publish the drill report" in proc.stdout

    # The failback done: running it again changes nothing and sends no write.
    t0 = time.time()
    proc = playbook("vaultops.dr.failback", tokens="a", failback_primary="a", failback_dr_operation_token=batch)
    assert changed(proc) == 0 and writes(lab, t0) == []
