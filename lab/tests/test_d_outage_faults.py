"""Site outages (stop/start keep DR state), unplanned failover with an old primary coming back,
and every fault knob: status faults, latency, cut replication link."""

import shutil
import time

import pytest
import requests

from drlab_helpers import P, decode_otp, errors, healthy_secondary, kv_read, reset_clean, wait_for


@pytest.fixture(scope="module")
def env(fresh_lab, apis, tmp_path_factory):
    lab = fresh_lab
    a, b = apis["a"], apis["b"]
    ca, cb = lab.cluster("a"), lab.cluster("b")
    ta = ca.root_token
    ca_dir = tmp_path_factory.mktemp("cadir")  # ca_path: a directory of PEM files
    shutil.copy(ca.ca_cert, ca_dir / "lab-ca.crt")
    (ca_dir / "README").write_text("not a certificate")
    assert a("POST", P + "primary/enable", token=ta, json={}).status_code == 200
    assert a("POST", "sys/mounts/secret", token=ta, json={"type": "kv", "options": {"version": "2"}}).status_code == 204
    a("POST", "secret/data/s", token=ta, json={"data": {"v": 1}})
    tok = a("POST", P + "primary/secondary-token", token=ta, json={"id": "b"}).json()["wrap_info"]["token"]
    r = b("POST", P + "secondary/enable", token=cb.root_token, json={"token": tok, "ca_path": str(ca_dir / "missing")})
    assert r.status_code == 400
    r = b("POST", P + "secondary/enable", token=cb.root_token, json={"token": tok, "ca_path": str(ca_dir)})
    assert r.status_code == 200, r.text
    wait_for(lambda: healthy_secondary(b, a), 40, what="b healthy")
    yield {"lab": lab, "a": a, "b": b, "ta": ta, "keys_a": ca.unseal_keys_b64, "ca": ca.ca_cert}
    for n in "abc":
        lab.clear_faults(n)
    reset_clean(lab)


def _down(api) -> bool:
    try:
        api("GET", "sys/health")
    except requests.ConnectionError:
        return True
    return False


def test_stop_start_secondary_keeps_state(env):
    lab, a, b, ta = env["lab"], env["a"], env["b"], env["ta"]
    lab.stop("b")
    assert _down(b)
    st = lab.status()["b"]
    assert st["running"] is False
    wait_for(lambda: a.dr()["secondaries"][0]["connection_status"] == "disconnected", 10, what="primary sees b gone")
    a("POST", "secret/data/s", token=ta, json={"data": {"v": 2}})
    lab.start("b")
    s = b.dr()
    assert s["mode"] == "secondary" and s["secondary_id"] == "b"
    wait_for(lambda: healthy_secondary(b, a), 20, what="b caught up after restart")


def test_stop_start_primary_keeps_state(env):
    lab, a, b = env["lab"], env["a"], env["b"]
    cid = a.dr()["cluster_id"]
    lab.stop("a")
    assert _down(a)
    wait_for(lambda: b.dr()["connection_state"] == "transient_failure", 10, what="b loses its primary")
    s = b.dr()
    assert s["state"] == "idle" and s["primaries"][0]["connection_status"] == "disconnected"
    lab.start("a")
    st = a.dr()
    assert st["mode"] == "primary" and st["cluster_id"] == cid and st["known_secondaries"] == ["b"]
    wait_for(lambda: healthy_secondary(b, a), 20, what="b reconnected")


def test_status_fault_for_next_k_requests(env):
    lab, a = env["lab"], env["a"]
    lab.fault("a", path="sys/replication/dr/status", status=503, count=2)
    codes = [a("GET", "sys/replication/dr/status").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    lab.fault("a", path="sys/replication/dr/*", status=412, count=1, method="POST")
    assert a("GET", "sys/replication/dr/status").status_code == 200  # method filter
    r = a("POST", P + "primary/enable", token=env["ta"], json={})
    assert r.status_code == 412 and errors(r) == ["required index state not present"]
    lab.fault("a", path="/v1/sys/health", status=429, count=1, message="custom text")
    r = a("GET", "sys/health")
    assert r.status_code == 429 and errors(r) == ["custom text"]
    lab.fault("a", path="sys/leader", status=503, count=-1)
    assert [a("GET", "sys/leader").status_code for _ in range(3)] == [503, 503, 503]
    lab.clear_faults("a")
    assert a("GET", "sys/leader").status_code == 200


def test_latency(env):
    lab, a = env["lab"], env["a"]
    lab.latency("a", 1.0, path="sys/leader")
    t = time.time()
    a("GET", "sys/leader")
    assert time.time() - t >= 1.0
    t = time.time()
    a("GET", "sys/seal-status")
    assert time.time() - t < 0.9
    lab.latency("a", 0, path="sys/leader")
    t = time.time()
    a("GET", "sys/leader")
    assert time.time() - t < 0.9
    lab.latency("a", 0.6)
    t = time.time()
    a("GET", "sys/seal-status")
    assert time.time() - t >= 0.6
    lab.clear_faults("a")


def test_cut_link_keeps_apis_up(env):
    lab, a, b, ta = env["lab"], env["a"], env["b"], env["ta"]
    lab.cut_link("a", "b")
    assert lab.status()["a"]["cut_links"] == [lab.cluster("b").cluster_addr]
    a("POST", "secret/data/s", token=ta, json={"data": {"v": "cut"}})
    wait_for(lambda: b.dr()["connection_state"] == "transient_failure", 10, what="b disconnected")
    wait_for(lambda: a.dr()["secondaries"][0]["connection_status"] == "disconnected", 10, what="a sees b disconnected")
    assert a("GET", "sys/health").status_code == 200
    assert b("GET", "sys/health").status_code == 472
    s, p = b.dr(), a.dr()
    assert s["last_remote_wal"] < p["last_wal"] and s["merkle_root"] != p["merkle_root"]
    lab.restore_link("a", "b")
    wait_for(lambda: healthy_secondary(b, a), 20, what="b resynced after link restored")


def test_unplanned_failover_and_returning_old_primary(env):
    lab, a, b, ta = env["lab"], env["a"], env["b"], env["ta"]
    wait_for(lambda: healthy_secondary(b, a), 20, what="in sync")
    lab.stop("a")
    # DR op token from the primary's key shares (no token sent: pre-2.0 behaviour)
    r = b("PUT", P + "secondary/generate-operation-token/attempt", json={})
    start = r.json()
    for k in env["keys_a"][:3]:
        r = b("PUT", P + "secondary/generate-operation-token/update", json={"key": k, "nonce": start["nonce"]})
    op = decode_otp(r.json()["encoded_token"], start["otp"])
    r = b("POST", P + "secondary/promote", json={"dr_operation_token": op, "force": True})
    assert r.status_code == 200, r.text
    assert kv_read(b, ta, "s") == {"v": "cut"}
    # the old primary comes back without being demoted: split brain, as in Vault
    lab.start("a")
    st = a.dr()
    assert st["mode"] == "primary" and st["state"] == "running" and st["known_secondaries"] == ["b"]
    assert a("POST", P + "primary/demote", token=ta, json={}).status_code == 200
    tok = b("POST", P + "primary/secondary-token", token=ta, json={"id": "a"}).json()["wrap_info"]["token"]
    # the op token made on b is not valid on a; a's own op token would need a ceremony: use a fresh one
    r = a("PUT", P + "secondary/generate-operation-token/attempt", json={})
    start = r.json()
    for k in env["keys_a"][:3]:
        r = a("PUT", P + "secondary/generate-operation-token/update", json={"key": k, "nonce": start["nonce"]})
    op_a = decode_otp(r.json()["encoded_token"], start["otp"])
    r = a("POST", P + "secondary/update-primary", json={"dr_operation_token": op_a, "token": tok, "ca_file": env["ca"]})
    assert r.status_code == 204, r.text
    b("POST", "secret/data/s", token=ta, json={"data": {"v": "after"}})
    wait_for(lambda: healthy_secondary(a, b), 20, what="a follows b")
    # op token delete after use
    assert a("POST", P + "secondary/operation-token/delete", json={"dr_operation_token": op_a}).status_code == 204
