"""Catch-up is real: the moment a secondary reports ``last_remote_wal`` >= the primary's index (with the same
merkle root), a promotion of it serves every write the primary acknowledged. Also after a re-attachment: a
demoted primary re-attached with update-primary claims nothing from the new primary before its first restore,
and that re-attachment takes one (normal, not forced) restore when nothing is written on the primary."""

import os
import re
import time

import pytest

from drlab_helpers import P, reset_clean, wait_for

RESTORED = re.compile(r"^(\S+) sync: restored primary index (\d+) \(forced=(True|False)\)")


@pytest.fixture(scope="module")
def env(fresh_lab, apis):
    lab = fresh_lab
    a = lab.cluster("a")
    yield {"lab": lab, "a": apis["a"], "b": apis["b"], "ta": a.root_token, "ca": a.ca_cert}
    reset_clean(lab)


def restores(lab, name):
    """[(time, index, forced)] from the cluster's gateway log."""
    with open(os.path.join(lab.dir, name, "gateway.log")) as fh:
        return [(m[1], int(m[2]), m[3] == "True") for m in map(RESTORED.match, fh) if m]


def write_three(api, token, tag):
    values = {}
    for i in range(3):
        values[f"cubbyhole/catch-up-{i}"] = f"{tag}-{i}-{time.time()}"
        r = api("POST", f"cubbyhole/catch-up-{i}", token=token, json={"v": values[f"cubbyhole/catch-up-{i}"]})
        assert r.status_code == 204, r.text
    return values


def caught_up(secondary, primary_index, primary_root):
    """Poll fast: the first status that claims the primary's index (what a catch-up wait acts on)."""
    def check():
        s = secondary.dr()
        return s["last_remote_wal"] >= primary_index and s["merkle_root"] == primary_root and s
    return wait_for(check, 40, interval=0.05, what="the secondary to claim the primary's index")


def caught_up_live(secondary, primary, timeout=40):
    """As caught_up, re-reading the primary at each poll: a primary that writes on its own (OpenBao may, after a
    promotion or an enable) moves its root on, and a root captured once may never be claimed."""
    def check():
        p, s = primary.dr(), secondary.dr()
        return s["last_remote_wal"] >= p["last_wal"] and s["merkle_root"] == p["merkle_root"] and s
    return wait_for(check, timeout, interval=0.05, what="the secondary to claim the primary's index")


def served(api, token, values):
    out = {}
    for path in values:
        r = api("GET", path, token=token)
        out[path] = r.json()["data"]["v"] if r.status_code == 200 else r.status_code
    return out


def test_set_up_a_to_b(env):
    a, b, ta = env["a"], env["b"], env["ta"]
    assert a("POST", P + "primary/enable", token=ta, json={}).status_code == 200
    tok = a("POST", P + "primary/secondary-token", token=ta, json={"id": "b"}).json()["wrap_info"]["token"]
    r = b("POST", P + "secondary/enable", token=env["lab"].cluster("b").root_token, json={"token": tok, "ca_file": env["ca"]})
    assert r.status_code == 200, r.text

    # Re-read the primary at each poll: OpenBao may write on its own after enabling (a captured root can then
    # never be claimed, which failed this test once beside a loaded make test).
    caught_up_live(b, a, timeout=60)


def test_promotion_at_the_moment_of_catch_up_serves_the_writes(env):
    a, b, ta = env["a"], env["b"], env["ta"]
    values = write_three(a, ta, "on-a")
    st = a.dr()
    caught_up(b, st["last_wal"], st["merkle_root"])
    # act on it at once: demote a, promote b, read the writes there
    assert a("POST", P + "primary/demote", token=ta, json={}).status_code == 200
    r = b("POST", P + "secondary/promote", json={"dr_operation_token": ta, "primary_cluster_addr": env["lab"].cluster("b").cluster_addr})
    assert r.status_code == 200, r.text
    assert served(b, ta, values) == values


def test_reattached_demoted_primary_claims_nothing_before_its_first_restore(env):
    lab, a, b, ta = env["lab"], env["a"], env["b"], env["ta"]
    before = len(restores(lab, "a"))
    tok = b("POST", P + "primary/secondary-token", token=ta, json={"id": "a"}).json()["wrap_info"]["token"]
    t0 = time.time()
    r = a("POST", P + "secondary/update-primary", json={"dr_operation_token": ta, "token": tok, "ca_file": env["ca"]})
    assert r.status_code == 204, r.text
    st, pst = a.dr(), b.dr()
    # its own index as a primary says nothing about b's data
    assert st["last_remote_wal"] == 0 and st["merkle_root"] != pst["merkle_root"] and st["state"] != "stream-wals"
    # b, just promoted, may still write on its own: compare with its status at each poll (failed once in make test)
    caught_up_live(a, b)
    took = time.time() - t0
    wait_for(lambda: a.dr()["state"] == "stream-wals", 5, interval=0.1, what="a streaming")
    time.sleep(3)  # nothing is written on b: no further restore may follow
    new = restores(lab, "a")[before:]
    # one restore, and not a forced one: a already holds the DR set's keyring
    assert [forced for _, _, forced in new] == [False], new
    assert took < 12, took


def test_failback_at_the_moment_of_catch_up_serves_the_writes(env):
    a, b, ta = env["a"], env["b"], env["ta"]
    values = write_three(b, ta, "on-b")
    st = b.dr()
    caught_up(a, st["last_wal"], st["merkle_root"])
    assert b("POST", P + "primary/demote", token=ta, json={}).status_code == 200
    r = a("POST", P + "secondary/promote", json={"dr_operation_token": ta})
    assert r.status_code == 200, r.text
    assert served(a, ta, values) == values
