"""Every DR endpoint on a cluster with DR replication disabled, plus pass-through behaviour."""

import pytest

from drlab_helpers import errors, wait_for

pytestmark = pytest.mark.usefixtures("fresh_lab")  # starts from a fresh lab (any file order)


def test_status_disabled(apis):
    a = apis["a"]
    r = a("GET", "sys/replication/status")
    assert r.status_code == 200
    assert r.json()["data"]["dr"]["mode"] == "disabled"
    assert r.json()["data"]["performance"]["mode"] == "disabled"
    assert a.dr() == {"mode": "disabled"}


def test_passthrough_keeps_vault_behaviour(lab, apis):
    a, tok = apis["a"], lab.cluster("a").root_token
    r = a("GET", "auth/token/lookup-self", token=tok)
    assert r.status_code == 200 and r.json()["data"]["policies"] == ["root"]
    assert a("GET", "auth/token/lookup-self").status_code in (400, 403)
    # response wrapping headers reach OpenBao
    r = a("POST", "sys/wrapping/wrap", token=tok, json={"x": 1}, headers={"X-Vault-Wrap-TTL": "60"})
    assert r.status_code == 200 and r.json()["wrap_info"]["ttl"] == 60
    r = a("POST", "sys/wrapping/unwrap", token=r.json()["wrap_info"]["token"])
    assert r.json()["data"] == {"x": 1}
    # binary bodies pass through untouched: raft snapshot save and restore via the gateway
    snap = a("GET", "sys/storage/raft/snapshot", token=tok)
    assert snap.status_code == 200 and len(snap.content) > 1000
    active = a("GET", "sys/leader").json()["active_time"]
    r = a("POST", "sys/storage/raft/snapshot", token=tok, data=snap.content)
    assert r.status_code == 204, r.text
    wait_for(lambda: a("GET", "sys/health").status_code == 200 and a("GET", "sys/leader").json().get("active_time") not in (None, active),
             20, 0.25, "a serves again after the restore")
    assert a("GET", "auth/token/lookup-self", token=tok).status_code == 200
    # sys/raw is not served outside recovery mode
    assert a("GET", "sys/raw/core/keyring", token=tok).status_code == 404


@pytest.mark.parametrize("path", [
    "sys/replication/dr/secondary/promote", "sys/replication/dr/secondary/disable",
    "sys/replication/dr/secondary/update-primary", "sys/replication/dr/secondary/reindex",
    "sys/replication/dr/secondary/operation-token/delete",
])
def test_secondary_ops_refused(lab, apis, path):
    r = apis["a"]("POST", path, json={"dr_operation_token": "x", "token": ""})
    assert r.status_code == 400
    assert errors(r) == ["Not a DR secondary."]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_operation_token_attempt_refused(apis, method):
    r = apis["a"](method, "sys/replication/dr/secondary/generate-operation-token/attempt", json={} if method == "PUT" else None)
    assert r.status_code == 400 and errors(r) == ["Not a DR secondary."]
    r = apis["a"]("PUT", "sys/replication/dr/secondary/generate-operation-token/update", json={"key": "x", "nonce": "y"})
    assert r.status_code == 400


@pytest.mark.parametrize("path", ["sys/replication/dr/primary/demote", "sys/replication/dr/primary/disable",
                                  "sys/replication/dr/primary/revoke-secondary", "sys/replication/dr/primary/secondary-token"])
def test_primary_ops_refused(lab, apis, path):
    r = apis["a"]("POST", path, token=lab.cluster("a").root_token, json={"id": "x"})
    assert r.status_code == 400, r.text


def test_auth_required(lab, apis):
    a = apis["a"]
    for path in ("sys/replication/dr/primary/enable", "sys/replication/dr/secondary/enable", "sys/replication/dr/primary/secondary-token"):
        r = a("POST", path, json={"token": "x", "id": "x"})
        assert r.status_code == 403 and errors(r) == ["permission denied"]
        r = a("POST", path, token="s.notatoken", json={"token": "x", "id": "x"})
        assert r.status_code == 403


def test_secondary_token_needs_sudo(lab, apis):
    a, root = apis["a"], lab.cluster("a").root_token
    assert a("POST", "sys/replication/dr/primary/enable", token=root, json={}).status_code == 200
    try:
        pol = 'path "sys/replication/dr/primary/secondary-token" { capabilities = ["create", "update"] }'
        assert a("PUT", "sys/policies/acl/nosudo", token=root, json={"policy": pol}).status_code == 204
        pol2 = 'path "sys/replication/dr/primary/secondary-token" { capabilities = ["update", "sudo"] }'
        assert a("PUT", "sys/policies/acl/withsudo", token=root, json={"policy": pol2}).status_code == 204
        t1 = a("POST", "auth/token/create", token=root, json={"policies": ["nosudo"], "ttl": "5m"}).json()["auth"]["client_token"]
        t2 = a("POST", "auth/token/create", token=root, json={"policies": ["withsudo"], "ttl": "5m"}).json()["auth"]["client_token"]
        r = a("POST", "sys/replication/dr/primary/secondary-token", token=t1, json={"id": "x"})
        assert r.status_code == 403 and errors(r) == ["permission denied"]
        r = a("POST", "sys/replication/dr/primary/secondary-token", token=t2, json={"id": "x", "ttl": "2m"})
        assert r.status_code == 200 and r.json()["wrap_info"]["ttl"] == 120
        # must be POST
        assert a("GET", "sys/replication/dr/primary/secondary-token?id=y", token=root).status_code == 405
        # a token for a known id is refused (strict); the id is known at once, disconnected
        r = a("POST", "sys/replication/dr/primary/secondary-token", token=root, json={"id": "x"})
        assert r.status_code == 400
        st = a.dr()
        assert st["known_secondaries"] == ["x"]
        assert st["secondaries"][0]["node_id"] == "x" and st["secondaries"][0]["connection_status"] == "disconnected"
        # enable twice / secondary enable on a primary
        assert a("POST", "sys/replication/dr/primary/enable", token=root, json={}).status_code == 400
        r = a("POST", "sys/replication/dr/secondary/enable", token=root, json={"token": "x"})
        assert r.status_code == 400
        r = a("POST", "sys/replication/dr/primary/revoke-secondary", token=root, json={"id": "x"})
        assert r.status_code == 204
        assert a.dr()["known_secondaries"] == []
        assert a("POST", "sys/replication/dr/primary/revoke-secondary", token=root, json={"id": "x"}).status_code == 400
    finally:
        cid = a.dr()["cluster_id"]
        r = a("POST", "sys/replication/dr/primary/disable", token=root, json={})
        assert r.status_code == 200 and r.json()["warnings"]
    assert a.dr() == {"mode": "disabled"}
    # re-enable gives a new cluster id
    a("POST", "sys/replication/dr/primary/enable", token=root, json={})
    assert a.dr()["cluster_id"] != cid
    a("POST", "sys/replication/dr/primary/disable", token=root, json={})


def test_generate_public_key(apis):
    r = apis["c"]("POST", "sys/replication/dr/secondary/generate-public-key")
    assert r.status_code == 200
    assert len(r.json()["data"]["secondary_public_key"]) > 20
