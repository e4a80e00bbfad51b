"""The double-launch guard against drlab: a failover held in flight (its drain hook waits for the test), a second
failover and a failback started meanwhile refuse at once naming the first run, send no request to any cluster,
and the first run then completes alone - one demotion, one promotion - and releases its lock."""

from __future__ import annotations

import json
import time

from dr_checks import NAMES, mint_batch_op_token, topology, wait_topology, writes
from lab_api import wait_for

HOLD = """---
- name: Hold the failover here, before its first write, until the test says go
  ansible.builtin.wait_for:
    path: "{{ go_file }}"
    timeout: 600
"""


def test_second_run_refuses_naming_the_first(fresh_lab, playbook, tmp_path):
    lab = fresh_lab
    playbook("vaultops.dr.setup", tokens=None)
    wait_topology(lab, "a", ["b", "c"])
    batch = mint_batch_op_token(lab, on="a", ttl="2h")
    locks, go, hold = tmp_path / "locks", tmp_path / "go", tmp_path / "hold.yml"
    hold.write_text(HOLD)
    common = dict(tokens="a", failover_dr_operation_token=batch, failover_run_lock_dir=str(locks))

    t0 = time.time()
    first_log = tmp_path / "first.log"
    first = playbook.start("vaultops.dr.failover", output=first_log, failover_target="b", failover_mode="planned",
                           failover_drain_tasks=str(hold), go_file=str(go), **common)
    try:
        (lock_file,) = wait_for(lambda: sorted(locks.glob("*.lock"))[:1], timeout=180, what="the first run's lock")
        holder = json.loads(lock_file.read_text())
        # The lock names the run: the ansible-playbook process, what it does, who and where.
        assert holder["pid"] == first.pid and holder["purpose"] == "failover to b", holder
        assert len(list(locks.glob("*.lock"))) == len(NAMES)  # one per cluster API address
        # Parked in the drain hook: the first run has read every status and written nothing.
        wait_for(lambda: first.poll() is None and _parked(lab, t0), timeout=180, what="the first run in its drain hook")
        assert writes(lab, t0) == []

        t1 = time.time()
        second = playbook("vaultops.dr.failover", expect_fail=True, failover_target="c", failover_mode="planned", **common)
        failback = playbook("vaultops.dr.failback", expect_fail=True, failback_primary="a",
                            failback_dr_operation_token=batch, failback_run_lock_dir=str(locks), tokens="a")
        for proc, what in ((second, "failover to c"), (failback, "failback to a")):
            out = " ".join(proc.output.split())
            assert "Refusing to start %s: failover to b by" % what in out, proc.output[-3000:]
            assert "(pid %d)" % first.pid in out and "Wait for it to finish and run again" in out
        # The refused runs sent nothing, not even a read: the lab's request log has no entry since they started.
        assert [r for n in NAMES for r in lab.requests(n, since=t1)] == []
        assert first.poll() is None and len(list(locks.glob("*.lock"))) == len(NAMES)
    finally:
        go.write_text("go")
    assert first.wait(timeout=600) == 0, first_log.read_text()[-6000:]

    # The first run completed alone: one demotion of a, one promotion of b, everyone follows b.
    wait_topology(lab, "b", ["a", "c"])
    assert topology(lab)["b"][0] == "primary"
    done = writes(lab, t0)
    assert [(w["cluster"], w["path"]) for w in done if w["path"].endswith("primary/demote")] == [
        ("a", "sys/replication/dr/primary/demote")]
    assert [(w["cluster"], w["path"]) for w in done if w["path"].endswith("secondary/promote")] == [
        ("b", "sys/replication/dr/secondary/promote")]
    # Released at the end: nothing left in the lock directory.
    assert sorted(p.name for p in locks.iterdir()) == []


def _parked(lab, since):
    """The first run has read the clusters (its pre-flight) and stopped sending requests (the hold)."""
    seen = [r for n in NAMES for r in lab.requests(n, since=since)]
    return bool(seen) and time.time() - max(float(r["time"]) for r in seen) > 3
