"""The DR scenario, in order: primary a, secondaries b (wrapped token) and c (public-key token),
KV replication, lag reporting, op-token ceremonies (OTP, PGP, wrong shares, batch token),
revoke, planned failover (demote a, promote b, update-primary a) and failback, data intact."""

import base64
import os
import subprocess
import time

import pytest

from drlab_helpers import P, decode_otp, errors, healthy_secondary, kv_read, reset_clean, wait_for


def ceremony(api, keys, otp=None, pgp_key=None, token=None):
    body = {"pgp_key": pgp_key} if pgp_key else ({"otp": otp} if otp else {})
    r = api("PUT", P + "secondary/generate-operation-token/attempt", token=token, json=body)
    assert r.status_code == 200, r.text
    start = r.json()
    nonce = start["nonce"]
    last = None
    for k in keys:
        last = api("PUT", P + "secondary/generate-operation-token/update", token=token, json={"key": k, "nonce": nonce})
        if last.status_code != 200:
            return start, last
    return start, last


@pytest.fixture(scope="module")
def env(fresh_lab, apis):
    lab = fresh_lab
    a, b, c = (lab.cluster(n) for n in "abc")
    state = {"lab": lab, "a": apis["a"], "b": apis["b"], "c": apis["c"], "ta": a.root_token, "tb": b.root_token, "tc": c.root_token,
             "keys_a": a.unseal_keys_b64, "keys_b": b.unseal_keys_b64, "ca": a.ca_cert}
    yield state
    lab.clear_faults("a")
    reset_clean(lab)


def test_enable_primary_and_kv(env):
    a, ta = env["a"], env["ta"]
    r = a("POST", P + "primary/enable", token=ta, json={})
    assert r.status_code == 200 and "enabled as a primary" in r.json()["warnings"][0]
    st = a.dr()
    assert st["mode"] == "primary" and st["state"] == "running" and st["known_secondaries"] == [] and st["cluster_id"]
    assert a("POST", "sys/mounts/secret", token=ta, json={"type": "kv", "options": {"version": "2"}}).status_code == 204
    assert a("POST", "secret/data/sentinel", token=ta, json={"data": {"v": "one"}}).status_code == 200
    h = a("GET", "sys/health")
    assert h.status_code == 200 and h.json()["replication_dr_mode"] == "primary"


def test_secondary_enable_errors(env):
    a, b, ta, tb = env["a"], env["b"], env["ta"], env["tb"]
    tok = a("POST", P + "primary/secondary-token", token=ta, json={"id": "probe"}).json()["wrap_info"]
    assert tok["ttl"] == 1800 and tok["creation_time"] and tok["accessor"]
    # no CA given: the system roots don't know the lab CA (strict, like Vault)
    r = b("POST", P + "secondary/enable", token=tb, json={"token": tok["token"]})
    assert r.status_code == 400 and "certificate" in " ".join(errors(r)).lower()
    # token still unused: the failed TLS handshake never reached the primary; spend it, then it is invalid
    r = a("POST", "sys/wrapping/unwrap", token=tok["token"])
    assert r.status_code == 200 and r.json()["data"]["secondary_id"] == "probe"
    r = b("POST", P + "secondary/enable", token=tb, json={"token": tok["token"], "ca_file": env["ca"]})
    assert r.status_code == 400 and "wrapping token is not valid or does not exist" in " ".join(errors(r))
    assert b.dr()["mode"] == "disabled"
    assert a("POST", P + "primary/revoke-secondary", token=ta, json={"id": "probe"}).status_code == 204
    # expired activation token
    tok = a("POST", P + "primary/secondary-token", token=ta, json={"id": "short", "ttl": "1s"}).json()["wrap_info"]
    time.sleep(2.1)
    r = b("POST", P + "secondary/enable", token=tb, json={"token": tok["token"], "ca_file": env["ca"]})
    assert r.status_code == 400 and "wrapping token is not valid or does not exist" in " ".join(errors(r))
    assert a("POST", P + "primary/revoke-secondary", token=ta, json={"id": "short"}).status_code == 204
    assert b("POST", P + "secondary/enable", json={"token": "x"}).status_code == 403


def test_enable_two_secondaries(env):
    a, b, c, ta = env["a"], env["b"], env["c"], env["ta"]
    tok_b = a("POST", P + "primary/secondary-token", token=ta, json={"id": "b", "ttl": "10m"}).json()["wrap_info"]
    assert tok_b["ttl"] == 600
    r = b("POST", P + "secondary/enable", token=env["tb"], json={"token": tok_b["token"], "ca_file": env["ca"]})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == ["Vault has successfully found secondary information; it may take a while to perform "
                                    "setup tasks. Vault will be unavailable until these tasks and initial sync complete."]
    # public-key flow for c, with ca_path and primary_api_addr
    pub = c("POST", P + "secondary/generate-public-key").json()["data"]["secondary_public_key"]
    r = a("POST", P + "primary/secondary-token", token=ta, json={"id": "c", "secondary_public_key": pub})
    assert r.status_code == 200 and r.json()["wrap_info"] is None
    tok_c = r.json()["data"]["token"]
    r = c("POST", P + "secondary/enable", token=env["tc"], json={"token": tok_c})
    assert r.status_code == 200, r.text
    h = b("GET", "sys/health")
    assert h.status_code in (472, 503) and h.json()["replication_dr_mode"] in ("bootstrapping", "secondary")
    wait_for(lambda: healthy_secondary(b, a), 40, what="b healthy")
    wait_for(lambda: healthy_secondary(c, a), 40, what="c healthy")
    st = a.dr()
    assert st["known_secondaries"] == ["b", "c"]
    assert {s["node_id"]: s["connection_status"] for s in st["secondaries"]} == {"b": "connected", "c": "connected"}
    sb = b.dr()
    assert sb["cluster_id"] == st["cluster_id"]
    assert sb["secondary_id"] == "b" and sb["known_primary_cluster_addrs"] == [env["lab"].cluster("a").cluster_addr]
    assert sb["primaries"][0]["connection_status"] == "connected"
    h = b("GET", "sys/health")
    assert h.status_code == 472 and h.json()["replication_dr_mode"] == "secondary"
    assert b("GET", "sys/health?drsecondarycode=200").status_code == 200
    # a DR secondary refuses other paths, even with the primary's root token
    r = b("GET", "secret/data/sentinel", token=ta)
    assert r.status_code == 400 and errors(r) == ["path disabled in replication DR secondary mode"]
    for path in ("sys/seal-status", "sys/leader", "sys/replication/status"):
        assert b("GET", path).status_code == 200
    assert b("POST", P + "primary/enable", token=ta, json={}).status_code == 400
    r = b("POST", P + "secondary/enable", token=ta, json={"token": "x"})
    assert r.status_code == 400
    r = b("POST", P + "secondary/promote", json={})
    assert r.status_code == 400 and errors(r) == ["DR operation token was not provided"]
    r = b("POST", P + "secondary/promote", json={"dr_operation_token": "s.bogus"})
    assert r.status_code == 400 and errors(r) == ["invalid DR operation token"]


SECONDARY_ENDPOINTS = ["secondary/promote", "secondary/disable", "secondary/update-primary", "secondary/reindex",
                       "secondary/operation-token/delete"]
PRIMARY_ENDPOINTS = ["primary/enable", "primary/demote", "primary/disable", "primary/secondary-token", "primary/revoke-secondary"]


def test_endpoints_in_the_wrong_mode(env):
    a, b, ta = env["a"], env["b"], env["ta"]
    for ep in SECONDARY_ENDPOINTS:  # on a primary
        r = a("POST", P + ep, token=ta, json={"dr_operation_token": ta, "token": ""})
        assert r.status_code == 400 and errors(r) == ["Not a DR secondary."], (ep, r.text)
    for m in ("GET", "PUT", "DELETE"):
        r = a(m, P + "secondary/generate-operation-token/attempt", json={} if m == "PUT" else None)
        assert r.status_code == 400 and errors(r) == ["Not a DR secondary."]
    for ep in PRIMARY_ENDPOINTS:  # on a secondary, even with the primary's root token
        r = b("POST", P + ep, token=ta, json={"id": "z"})
        assert r.status_code == 400 and errors(r) == ["path disabled in replication DR secondary mode"], (ep, r.text)
    # unauthenticated reads still answer on the secondary
    assert b("GET", "sys/replication/status").json()["data"]["dr"]["mode"] == "secondary"
    assert a.dr()["mode"] == "primary" and b.dr()["mode"] == "secondary"


def test_kv_write_reaches_both_secondaries_within_10s(env):
    a, b, c, ta = env["a"], env["b"], env["c"], env["ta"]
    t = time.time()
    assert a("POST", "secret/data/sentinel", token=ta, json={"data": {"v": "two"}}).status_code == 200
    p = a.dr()
    s = b.dr()
    assert s["last_remote_wal"] < p["last_wal"] and s["merkle_root"] != p["merkle_root"]  # lag shows honestly
    trace = []

    def both():
        ok = healthy_secondary(b, a) and healthy_secondary(c, a)
        trace.append((round(time.time() - t, 1), a.dr()["last_wal"], b.dr()["last_remote_wal"], c.dr()["last_remote_wal"]))
        return ok

    try:
        wait_for(both, 10, 0.25, "both secondaries in sync")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; (t, primary last_wal, b last_remote_wal, c last_remote_wal): {trace}") from None
    env["replication_seconds"] = time.time() - t
    print(f"\nKV write replicated to 2 secondaries in {env['replication_seconds']:.1f}s")
    assert env["replication_seconds"] < 10


def test_op_token_wrong_shares_fail(env):
    b = env["b"]
    # b now carries the primary's keys: its own init keys are wrong shares
    start, last = ceremony(b, env["keys_b"][:3])
    assert start["otp"] and start["otp_length"] == 26 and start["required"] == 3
    assert last.status_code in (400, 500)
    assert "root generation aborted" in " ".join(errors(last))
    # OpenBao keeps the aborted attempt open (progress reset); cancel it
    r = b("GET", P + "secondary/generate-operation-token/attempt")
    assert r.status_code == 200 and r.json()["progress"] == 0
    assert b("DELETE", P + "secondary/generate-operation-token/attempt").status_code == 204
    assert b("GET", P + "secondary/generate-operation-token/attempt").json()["started"] is False


def test_op_token_otp_ceremony(env):
    b = env["b"]
    start, last = ceremony(b, env["keys_a"][:2])
    assert last.status_code == 200 and last.json()["progress"] == 2 and not last.json()["complete"]
    r = b("GET", P + "secondary/generate-operation-token/attempt")
    assert r.json()["started"] and r.json()["progress"] == 2 and r.json()["nonce"] == start["nonce"]
    # one slot: a second attempt is refused; a repeated key is refused
    r = b("PUT", P + "secondary/generate-operation-token/attempt", json={})
    assert r.status_code == 400 and "already in progress" in " ".join(errors(r))
    r = b("PUT", P + "secondary/generate-operation-token/update", json={"key": env["keys_a"][0], "nonce": start["nonce"]})
    assert r.status_code == 400 and "already been provided" in " ".join(errors(r))
    r = b("PUT", P + "secondary/generate-operation-token/update", json={"key": env["keys_a"][2], "nonce": start["nonce"]})
    assert r.status_code == 200 and r.json()["complete"]
    tok = decode_otp(r.json()["encoded_token"], start["otp"])
    assert tok.startswith("s.")
    env["op_b"] = tok
    # cancel works; an invalid X-Vault-Token is refused, the primary's root token accepted
    b("PUT", P + "secondary/generate-operation-token/attempt", json={})
    assert b("DELETE", P + "secondary/generate-operation-token/attempt").status_code == 204
    assert b("GET", P + "secondary/generate-operation-token/attempt", token="s.nope").status_code == 403
    assert b("GET", P + "secondary/generate-operation-token/attempt", token=env["ta"]).status_code == 200
    # a client-chosen OTP of the wrong length is refused by OpenBao
    r = b("PUT", P + "secondary/generate-operation-token/attempt", json={"otp": "short"})
    assert r.status_code == 400 and "OTP string" in " ".join(errors(r)) and "length" in " ".join(errors(r))


def test_op_token_survives_restores(env):
    a, b, ta = env["a"], env["b"], env["ta"]
    a("POST", "secret/data/after-op", token=ta, json={"data": {"v": 1}})
    wait_for(lambda: healthy_secondary(b, a), 15, what="b resynced after write")
    r = b("POST", P + "secondary/reindex", json={"dr_operation_token": env["op_b"]})
    assert r.status_code == 200, r.text


def _gpg(home, *args, inp=None):
    return subprocess.run(["gpg", "--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", *args],
                          input=inp, capture_output=True, check=True)


def test_op_token_pgp_ceremony(env, tmp_path):
    c = env["c"]
    home = str(tmp_path / "gnupg")
    os.makedirs(home, mode=0o700)
    _gpg(home, "--quick-gen-key", "drlab-test@example.invalid", "rsa2048", "encr", "never")
    pub = _gpg(home, "--export", "drlab-test@example.invalid").stdout
    start, last = ceremony(c, env["keys_a"][:3], pgp_key=base64.b64encode(pub).decode())
    assert last.status_code == 200 and last.json()["complete"], last.text
    fp = last.json()["pgp_fingerprint"]
    assert fp and fp == fp.lower()
    plain = _gpg(home, "--decrypt", inp=base64.b64decode(last.json()["encoded_token"])).stdout.decode()
    assert plain.startswith("s.")
    env["op_c"] = plain
    r = c("POST", P + "secondary/reindex", json={"dr_operation_token": plain})
    assert r.status_code == 200
    r = c("POST", P + "secondary/operation-token/delete", json={"dr_operation_token": plain})
    assert r.status_code == 204
    r = c("POST", P + "secondary/reindex", json={"dr_operation_token": plain})
    assert r.status_code == 400 and errors(r) == ["invalid DR operation token"]
    assert c("POST", P + "secondary/operation-token/delete", json={}).status_code == 400


def test_op_token_vault2_requires_a_vault_token(env):
    """drlab's Vault 2.x emulation: generate-operation-token refuses requests without a valid Vault token;
    the DR secondary accepts the primary's root token (it holds the primary's token store)."""
    lab, b, ta = env["lab"], env["b"], env["ta"]
    attempt, update = P + "secondary/generate-operation-token/attempt", P + "secondary/generate-operation-token/update"
    lab.set_op_generation_requires_token(True)
    try:
        assert lab.op_generation_requires_token() and lab.status()["b"]["op_generation_requires_token"] is True
        for m in ("GET", "PUT", "POST", "DELETE"):
            r = b(m, attempt, json={} if m in ("PUT", "POST") else None)
            assert r.status_code == 403 and errors(r) == ["permission denied"], (m, r.text)
            assert b(m, attempt, token="s.nope", json={} if m in ("PUT", "POST") else None).status_code == 403
        r = b("PUT", update, json={"key": env["keys_a"][0], "nonce": "x"})
        assert r.status_code == 403 and errors(r) == ["permission denied"]
        r = b("GET", attempt, token=ta)
        assert r.status_code == 200 and r.json()["started"] is False
        # a 3-share OTP ceremony with the primary's root token; a share sent without it is refused and not counted
        r = b("PUT", attempt, token=ta, json={})
        assert r.status_code == 200, r.text
        start = r.json()
        r = b("PUT", update, json={"key": env["keys_a"][0], "nonce": start["nonce"]})
        assert r.status_code == 403
        assert b("GET", attempt, token=ta).json()["progress"] == 0
        assert b("DELETE", attempt, token=ta).status_code == 204
        start, last = ceremony(b, env["keys_a"][:3], token=ta)
        assert last.status_code == 200 and last.json()["complete"], last.text
        tok = decode_otp(last.json()["encoded_token"], start["otp"])
        assert tok.startswith("s.")
        # the cluster accepts it as a DR operation token (deleting it proves it), then no longer
        assert b("POST", P + "secondary/operation-token/delete", json={"dr_operation_token": tok}).status_code == 204
        assert b("POST", P + "secondary/operation-token/delete", json={"dr_operation_token": tok}).status_code == 400
    finally:
        lab.set_op_generation_requires_token(False)
    assert not lab.op_generation_requires_token() and lab.status()["b"]["op_generation_requires_token"] is False
    r = b("GET", attempt)  # pre-2.0 again: no token needed
    assert r.status_code == 200 and r.json()["started"] is False


def test_batch_token_is_accepted(env):
    a, b, ta = env["a"], env["b"], env["ta"]
    pol = ('path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }\n'
           'path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }\n')
    assert a("PUT", "sys/policies/acl/dr-ops", token=ta, json={"policy": pol}).status_code == 204
    r = a("POST", "auth/token/create-orphan", token=ta, json={"policies": ["dr-ops"], "type": "batch", "ttl": "8h", "renewable": False})
    assert r.status_code == 200, r.text
    batch = r.json()["auth"]["client_token"]
    assert batch.startswith("b.")
    env["batch"] = batch
    wait_for(lambda: healthy_secondary(b, a) and healthy_secondary(env["c"], a), 15, what="policy replicated")
    # accepted for update-primary (update_primary_addrs, same primary), refused for disable (no capability)
    a_addr = env["lab"].cluster("a").cluster_addr
    r = b("POST", P + "secondary/update-primary", json={"dr_operation_token": batch,
                                                      "update_primary_addrs": ["https://127.0.0.1:9", a_addr]})
    assert r.status_code == 204, r.text
    assert b.dr()["known_primary_cluster_addrs"] == ["https://127.0.0.1:9", a_addr]
    wait_for(lambda: healthy_secondary(b, a) and b.dr()["primaries"][0]["cluster_address"] == a_addr, 10, what="b on the 2nd address")
    r = b("POST", P + "secondary/disable", json={"dr_operation_token": batch})
    assert r.status_code == 400 and errors(r) == ["invalid DR operation token"]
    r = b("POST", P + "secondary/update-primary", json={"dr_operation_token": batch, "token": "x", "update_primary_addrs": ["y"]})
    assert r.status_code == 400
    r = b("POST", P + "secondary/operation-token/delete", json={"dr_operation_token": batch})  # no capability on delete
    assert r.status_code == 400 and errors(r) == ["invalid DR operation token"]


def test_revoked_secondary_is_cut_off(env):
    a, c, ta = env["a"], env["c"], env["ta"]
    assert a("POST", P + "primary/revoke-secondary", token=ta, json={"id": "c"}).status_code == 204
    assert a.dr()["known_secondaries"] == ["b"]
    a("POST", "secret/data/after-revoke", token=ta, json={"data": {"v": 1}})
    wait_for(lambda: c.dr()["connection_state"] == "transient_failure", 10, what="c cut off")
    st = c.dr()
    assert st["state"] == "idle" and st["primaries"][0]["connection_status"] == "disconnected"
    assert st["last_remote_wal"] < a.dr()["last_wal"]


def test_planned_failover_demote_promote_update_primary(env):
    a, b, ta, lab = env["a"], env["b"], env["ta"], env["lab"]
    wait_for(lambda: healthy_secondary(b, a), 15, what="b in sync before failover")
    cid = a.dr()["cluster_id"]
    r = a("POST", P + "primary/demote", token=ta, json={})
    assert r.status_code == 200 and r.json()["warnings"]
    st = a.dr()
    assert st["mode"] == "secondary" and st["state"] == "idle" and st["cluster_id"] == cid and st["known_primary_cluster_addrs"] == []
    r = a("GET", "secret/data/sentinel", token=ta)
    assert r.status_code == 400 and errors(r) == ["path disabled in replication DR secondary mode"]
    assert a("GET", "sys/health").status_code == 472
    # update_primary_addrs is refused on a freshly demoted cluster
    r = a("POST", P + "secondary/update-primary", json={"dr_operation_token": env["batch"], "update_primary_addrs": ["https://x:1"]})
    assert r.status_code == 400
    # promote b with the op token generated earlier
    r = b("POST", P + "secondary/promote", json={"dr_operation_token": env["op_b"], "primary_cluster_addr": lab.cluster("b").cluster_addr})
    assert r.status_code == 200, r.text
    st = b.dr()
    assert st["mode"] == "primary" and st["state"] == "running" and st["known_secondaries"] == [] and st["cluster_id"] == cid
    assert b("GET", "sys/health").status_code == 200
    assert kv_read(b, ta, "sentinel") == {"v": "two"}  # the primary's data and root token
    assert b("POST", "secret/data/sentinel", token=ta, json={"data": {"v": "three"}}).status_code == 200
    # re-attach a to b without a wipe
    tok = b("POST", P + "primary/secondary-token", token=ta, json={"id": "a"}).json()["wrap_info"]["token"]
    r = a("POST", P + "secondary/update-primary", json={"dr_operation_token": env["batch"], "token": tok, "ca_file": env["ca"]})
    assert r.status_code == 204, r.text
    wait_for(lambda: healthy_secondary(a, b), 20, what="a following b")
    assert a.dr()["cluster_id"] == cid


def test_failback(env):
    a, b, ta, lab = env["a"], env["b"], env["ta"], env["lab"]
    assert b("POST", P + "primary/demote", token=ta, json={}).status_code == 200
    r = a("POST", P + "secondary/promote", json={"dr_operation_token": env["batch"]})
    assert r.status_code == 200, r.text
    assert kv_read(a, ta, "sentinel") == {"v": "three"}  # written on b while it was primary
    tok = a("POST", P + "primary/secondary-token", token=ta, json={"id": "b2"}).json()["wrap_info"]["token"]
    # clearing the known primary, then attaching with a token
    assert b("POST", P + "secondary/update-primary", json={"dr_operation_token": env["batch"], "token": ""}).status_code == 204
    assert b.dr()["known_primary_cluster_addrs"] == []
    r = b("POST", P + "secondary/update-primary", json={"dr_operation_token": env["batch"], "token": tok, "ca_file": env["ca"],
                                                      "primary_api_addr": lab.cluster("a").api_addr})
    assert r.status_code == 204, r.text
    a("POST", "secret/data/sentinel", token=ta, json={"data": {"v": "four"}})
    wait_for(lambda: healthy_secondary(b, a), 20, what="b following a again")
    # data really moved: disable b's DR (with the primary's root-capable token) and read it
    r = b("POST", P + "secondary/disable", json={"dr_operation_token": ta})
    assert r.status_code == 200
    assert b.dr() == {"mode": "disabled"}
    assert kv_read(b, ta, "sentinel") == {"v": "four"}
    assert a("POST", P + "primary/revoke-secondary", token=ta, json={"id": "b2"}).status_code == 204
