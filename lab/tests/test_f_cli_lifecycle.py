"""CLI commands, growing a lab, down twice, and reset (last: it wipes every cluster)."""

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from drlab_helpers import BASE_PORT, wait_for
from drlab import Lab

pytestmark = pytest.mark.usefixtures("fresh_lab")  # starts from a fresh lab (any file order)

P = "sys/replication/dr/"


def drlab(d, *args):
    return subprocess.run([sys.executable, "-m", "drlab", "--dir", d, *args], capture_output=True, text=True, timeout=120)


def test_cli_status_and_faults(lab, apis):
    r = drlab(lab.dir, "status")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert sorted(st) == ["a", "b", "c"] and all(v["running"] for v in st.values())
    r = drlab(lab.dir, "up", "--clusters", "3")
    assert r.returncode == 0 and "a: https://127.0.0.1:" in r.stdout
    assert drlab(lab.dir, "fault", "c", "--path", "sys/leader", "--status", "503", "--count", "1").returncode == 0
    assert [apis["c"]("GET", "sys/leader").status_code for _ in range(2)] == [503, 200]
    assert drlab(lab.dir, "fault", "c", "--latency", "0.7").returncode == 0
    t = time.time()
    apis["c"]("GET", "sys/leader")
    assert time.time() - t >= 0.7
    assert drlab(lab.dir, "fault", "c", "--cut-link", "b").returncode == 0
    assert lab.status()["c"]["cut_links"] == [lab.cluster("b").cluster_addr]
    assert drlab(lab.dir, "fault", "c", "--restore-link", "b").returncode == 0
    assert lab.status()["b"]["cut_links"] == []
    assert drlab(lab.dir, "fault", "c", "--clear").returncode == 0
    st = lab.status()["c"]
    assert st["faults"] == [] and st["latency"] == [] and st["cut_links"] == []
    assert drlab(lab.dir, "fault", "c").returncode == 2
    assert drlab(lab.dir, "stop", "nosuch").returncode == 1


def test_cli_stop_start_recovery(lab, apis):
    assert drlab(lab.dir, "stop", "c").returncode == 0
    assert lab.status()["c"]["running"] is False
    assert drlab(lab.dir, "start", "c").returncode == 0
    assert apis["c"]("GET", "sys/health").status_code == 200
    assert drlab(lab.dir, "recovery", "c").returncode == 0
    assert lab.status()["c"]["recovery"] is True
    assert drlab(lab.dir, "recovery", "c", "--off").returncode == 0
    assert lab.status()["c"]["recovery"] is False
    wait_for(lambda: apis["c"]("GET", "sys/health").status_code == 200, 20, what="c healthy")


def test_grow_lab_and_down_twice(tmp_path):
    d = str(tmp_path / "small")
    small = Lab(d)
    try:
        small.up(clusters=1, base_port=BASE_PORT + 100, op_generation_requires_token=True)
        assert sorted(small.info()["clusters"]) == ["a"]
        root_a = small.cluster("a").root_token
        small.up(clusters=2)
        assert sorted(small.info()["clusters"]) == ["a", "b"]
        # the Vault 2.x op-token setting is lab-wide: a cluster added later starts with it; the CLI flips it live
        assert [small.status()[n]["op_generation_requires_token"] for n in "ab"] == [True, True]
        r = drlab(d, "op-token-auth", "optional")
        assert r.returncode == 0 and r.stdout.strip() == "optional", r.stderr
        assert [small.status()[n]["op_generation_requires_token"] for n in "ab"] == [False, False]
        r = drlab(d, "up", "--require-token-for-op-generation")
        assert r.returncode == 0, r.stderr
        assert drlab(d, "op-token-auth").stdout.strip() == "required"
        assert [small.status()[n]["op_generation_requires_token"] for n in "ab"] == [True, True]
        assert small.cluster("a").root_token == root_a
        c = small.cluster("b")
        assert c.api_addr == f"https://127.0.0.1:{BASE_PORT + 110}"
        assert requests.get(c.api_addr + "/v1/sys/health", verify=c.ca_cert, timeout=5).status_code == 200
    finally:
        small.down()
        small.down()
    assert not small.status()["a"]["running"]
    for n in "ab":
        assert not os.path.exists(os.path.join(d, n, "gateway.pid"))
    r = drlab(d, "down", "--purge")
    assert r.returncode == 0 and not os.path.exists(d)


def test_down_then_up_keeps_data_and_dr_state(lab, apis):
    a, ta = apis["a"], lab.cluster("a").root_token
    assert a("POST", "sys/mounts/keep", token=ta, json={"type": "kv"}).status_code == 204
    assert a("PUT", "keep/x", token=ta, json={"v": 1}).status_code == 204
    assert a("POST", P + "primary/enable", token=ta, json={}).status_code == 200
    cid = a.dr()["cluster_id"]
    before = json.load(open(os.path.join(lab.dir, "lab.json")))
    lab.down()
    assert all(not v["running"] for v in lab.status().values())
    t = time.time()
    lab.up()
    assert time.time() - t < 15
    assert json.load(open(os.path.join(lab.dir, "lab.json"))) == before
    assert a("GET", "keep/x", token=ta).json()["data"] == {"v": 1}
    assert a.dr()["mode"] == "primary" and a.dr()["cluster_id"] == cid
    assert a("POST", P + "primary/disable", token=ta, json={}).status_code == 200


def test_reset_gives_fresh_clusters(lab, apis):
    a = apis["a"]
    old = {n: lab.cluster(n).root_token for n in "abc"}
    ta = old["a"]
    a("POST", "sys/mounts/wipe-me", token=ta, json={"type": "kv"})
    assert a("POST", P + "primary/enable", token=ta, json={}).status_code == 200
    t = time.time()
    lab.reset()
    took = time.time() - t
    print(f"\nreset of 3 clusters: {took:.1f}s")
    for n in "abc":
        c = lab.cluster(n)
        assert c.root_token != old[n]
        api = apis[n]
        assert api.dr() == {"mode": "disabled"}
        assert api("GET", "sys/health").status_code == 200
        assert api("GET", "auth/token/lookup-self", token=c.root_token).status_code == 200
    assert "wipe-me/" not in a("GET", "sys/mounts", token=lab.cluster("a").root_token).json()["data"]
