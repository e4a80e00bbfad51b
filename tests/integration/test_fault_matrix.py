"""The fault matrix (issue 12): each step of a planned failover (ceremony op tokens from the key shares in the
play) x each fault, then the same command again; see fault_matrix.py for what a cell checks.

FAULT_MATRIX=full runs all 36 cells (make reliability, which then renders docs/reliability.md); otherwise the
smoke subset (make reliability-smoke, in make test). Each cell's result goes to tests/output/fault-matrix/cells/.
Cells follow each other on one lab: the failover alternates between a and b (c always follows); a cell that
leaves the DR set broken gets a reset lab and a fresh set-up before the next one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
from dr_checks import (
    NAMES,
    key_shares,
    lab_secrets,
    op_token_hashes,
    read_sentinels,
    topology,
    wait_topology,
    write_sentinels,
)
from fault_matrix import (
    CLIENT_TIMEOUT,
    HOLD,
    LATENCY_PAST_TIMEOUT,
    OUT,
    STEPS,
    StatusSampler,
    arm,
    cell_id,
    cells,
    fault_hit,
    judge,
    kill_group,
    two_primaries,
    wait_in_flight,
)

WHICH = os.environ.get("FAULT_MATRIX", "smoke")
CELLS = cells(WHICH, os.environ.get("FAULT_MATRIX_PART", ""))
if os.environ.get("FAULT_MATRIX_CELLS"):  # cell ids (step--fault), comma-separated, run in that order
    CELLS = [c for i in os.environ["FAULT_MATRIX_CELLS"].split(",") for c in cells("full") if cell_id(*c) == i.strip()]


class Matrix:
    """The lab the cells share, with the current primary and a counter for sentinel keys."""

    def __init__(self, lab, playbook):
        self.lab, self.playbook, self.sentinel_index, self.resets = lab, playbook, 0, 0

    def set_up(self):
        self.lab.reset()
        self.resets += 1
        self.playbook("vaultops.dr.setup", tokens=None)
        wait_topology(self.lab, "a", ["b", "c"])

    def ensure(self):
        """The current primary of a healthy DR set (one primary, the others streaming from it); else a new set."""
        for name in NAMES:
            try:
                self.lab.clear_faults(name)
            except Exception:  # noqa: BLE001 - a stopped cluster: start it
                self.lab.start(name)
        topo = topology(self.lab)
        primaries = [n for n, t in topo.items() if t[0] == "primary"]
        if len(primaries) == 1:
            try:
                wait_topology(self.lab, primaries[0], [n for n in NAMES if n != primaries[0]], timeout=60)
                return primaries[0]
            except AssertionError:
                pass
        self.set_up()
        return "a"

    def next_sentinels(self, on):
        first, self.sentinel_index = self.sentinel_index, self.sentinel_index + 3
        return write_sentinels(self.lab, on, count=3, first=first)


@pytest.fixture(scope="module")
def matrix(lab, tmp_path_factory):
    from conftest import PlaybookRunner

    the_matrix = Matrix(lab, PlaybookRunner(lab, tmp_path_factory.mktemp("matrix-setup")))
    the_matrix.set_up()
    return the_matrix


def first_error(text):
    """The first failure message of a run (for the matrix's notes), shortened."""
    match = re.search(r'(?:FAILED!|failed:).*?"msg": "(.*?)(?<!\\)"', text, re.S)
    return match.group(1)[:400] if match else ""


def wait_run(proc, timeout=900):
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
    return proc.returncode


@pytest.mark.parametrize(("step", "fault"), CELLS, ids=[cell_id(s, f) for s, f in CELLS])
def test_fault_cell(matrix, playbook, tmp_path, step, fault):
    lab = matrix.lab
    t_cell = time.time()
    old = matrix.ensure()
    target = "b" if old != "b" else "a"
    followers = [n for n in NAMES if n != target]
    who, path, method = STEPS[step]
    cluster = target if who == "target" else old
    values = matrix.next_sentinels(old)
    tokens_before = op_token_hashes(lab)
    args = {"failover_target": target, "failover_key_shares": key_shares(lab), "failover_wait_timeout": 90,
            "failover_reattach_attempts": 3}

    samplers = [StatusSampler(n, lab.cluster(n).api_addr, lab.cluster(n).ca_cert) for n in NAMES]
    for s in samplers:
        s.start()
    t0 = time.time()
    arm(lab, cluster, path, method, fault)
    log1, log2 = tmp_path / "run-1.log", tmp_path / "run-2.log"
    proc = playbook.start("vaultops.dr.failover", tokens="a", output=str(log1), **args)
    hit = None
    if fault in HOLD:
        hit = wait_in_flight(lab, cluster, path, method, proc)
        if hit and fault == "SIGKILL":
            kill_group(proc)
        elif hit:
            lab.stop(cluster)
    first_rc = wait_run(proc)
    first_seconds = time.time() - t0
    if fault == "cluster stopped" and hit:
        lab.start(cluster)
    if hit is None:
        hit = fault_hit(lab, cluster, path, method, fault, t0)
        # The gateway logs a request once it answers: one held past the client's timeout is logged up to
        # (latency - timeout) s after the client gave up, which may be after the run ended.
        deadline = time.time() + LATENCY_PAST_TIMEOUT - CLIENT_TIMEOUT + 5
        while not hit and fault == "latency > timeout" and time.time() < deadline:
            time.sleep(0.5)
            hit = fault_hit(lab, cluster, path, method, fault, t0)
    for name in NAMES:
        lab.clear_faults(name)

    t1 = time.time()
    rerun = playbook.start("vaultops.dr.failover", tokens="a", output=str(log2), **args)
    rerun_rc = wait_run(rerun)
    rerun_seconds = time.time() - t1

    checks, detail = {}, {}
    try:
        wait_topology(lab, target, followers, timeout=120)
        checks["topology"] = True
    except AssertionError:
        checks["topology"] = False
    detail["topology"] = {n: list(t) for n, t in topology(lab).items()}
    for s in samplers:
        s.stop()
    missing = read_sentinels(lab, target, values) if detail["topology"][target][0] == "primary" else ["no primary"]
    checks["sentinels"] = missing == []
    leaked = {n: len(h - tokens_before[n]) for n, h in op_token_hashes(lab).items()}
    checks["op tokens disposed"] = not any(leaked.values())
    overlaps = two_primaries(samplers)
    checks["never two primaries"] = overlaps == []
    checks["re-run succeeded"] = rerun_rc == 0
    outputs = log1.read_text() + log2.read_text()
    checks["no secret in output"] = not any(v in outputs for v in lab_secrets(lab))

    failed = [name for name, ok in checks.items() if not ok]
    outcome, note_id, note = judge(step, fault, failed)
    result = {
        "step": step, "fault": fault, "cluster": cluster, "old_primary": old, "target": target,
        "fault_hit": hit, "outcome": outcome, "failed_checks": failed, "checks": checks,
        "first_rc": first_rc, "rerun_rc": rerun_rc, "first_seconds": round(first_seconds, 1),
        "rerun_seconds": round(rerun_seconds, 1), "seconds": round(time.time() - t_cell, 1),
        "first_error": first_error(log1.read_text()), "rerun_error": first_error(log2.read_text()),
        "missing_sentinels": missing, "leaked_op_tokens": leaked, "two_primaries": overlaps,
        "samples": {s.name: len(s.samples) for s in samplers}, "topology": detail["topology"],
        "note_id": note_id, "note": note, "lab_resets_so_far": matrix.resets,
    }
    (OUT / "cells").mkdir(parents=True, exist_ok=True)
    (OUT / "cells" / ("%s.json" % cell_id(step, fault))).write_text(json.dumps(result, indent=2) + "\n")
    assert hit, "the %s fault never met the %s request on %s: the cell tested nothing" % (fault, step, cluster)
    assert outcome != "fail", json.dumps(result, indent=2)


def test_two_primaries_needs_overlapping_proof():
    """The sampler's verdict: two clusters count as primaries at once only where both surely were."""
    from fault_matrix import render

    a = StatusSampler("a", "https://x", None)
    b = StatusSampler("b", "https://y", None)
    # a primary until ~1.0, then demoted; b promoted at ~1.2: no overlap
    a.samples = [(0.0, 0.1, "primary"), (0.5, 0.6, "primary"), (1.0, 1.1, "secondary")]
    b.samples = [(0.1, 0.2, "secondary"), (1.2, 1.3, "primary"), (1.6, 1.7, "primary")]
    assert two_primaries([a, b]) == []
    # a comes back a primary while b still is: overlap from 1.45 to 1.6
    a.samples += [(1.4, 1.45, "primary"), (1.9, 2.0, "primary")]
    assert two_primaries([a, b]) == [("a", "b", 1.45, 1.6)]
    # a single primary sample proves no span; an unreachable cluster is no primary
    b.samples = [(1.5, 1.55, "primary"), (1.7, 1.8, "unreachable")]
    assert two_primaries([a, b]) == []
    # every cell of the table says something, even when not run
    table = render({("demote", "503"): {"step": "demote", "fault": "503", "outcome": "pass", "first_rc": 0,
                                        "seconds": 50}})
    assert "pass: run 1 completed" in table and table.count("not run (N1)") == len(STEPS) * 6 - 1
