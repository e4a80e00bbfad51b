"""What the role tests check on the lab, by plain HTTP and the lab's own records, never through the
collection: who is primary and who follows it, sentinel data, writes the lab received, DR operation
tokens left valid."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import requests
from lab_api import Api, lab_vars, wait_for

NAMES = ("a", "b", "c")
# POSTs that only read (Vault has no GET for them).
READ_ONLY_POSTS = ("sys/capabilities", "auth/token/lookup")
SENTINEL_PATH = "cubbyhole/vaultops-dr-test"


def recap(proc):
    """{host: {"ok": n, "changed": n, "failed": n, ...}} from the play recap."""
    out = {}
    for host, counts in re.findall(r"^(\w+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    assert out, proc.output[-3000:]
    return out


def changed(proc):
    return sum(c["changed"] for c in recap(proc).values())


def writes(lab, since):
    """State-changing requests the lab received since `since`, leaving out POSTs that only read."""
    return [w for w in lab.writes(since=since) if not w["path"].lstrip("/").startswith(READ_ONLY_POSTS)]


def dr(lab, name):
    return Api(lab.cluster(name)).dr()


def topology(lab, names=NAMES):
    """{name: (mode, the name of the cluster it follows or None, healthy-looking)} from plain status reads."""
    info = lab_vars(lab)
    by_addr = {c["cluster_addr"].rstrip("/"): n for n, c in info["clusters"].items()}
    out = {}
    for name in names:
        try:
            status = dr(lab, name)
        except requests.RequestException:
            out[name] = ("unreachable", None, False)
            continue
        addrs = [a.rstrip("/") for a in status.get("known_primary_cluster_addrs", [])]
        leader = next((by_addr[a] for a in addrs if a in by_addr), None)
        streaming = status.get("state") in ("stream-wals", "running")
        out[name] = (status["mode"], leader if status["mode"] == "secondary" else None, streaming)
    return out


def wait_topology(lab, primary, followers, timeout=120):
    """Wait until `primary` is a running primary and each of `followers` streams from it."""
    def reached():
        topo = topology(lab)
        ok = topo[primary][0] == "primary" and all(topo[f] == ("secondary", primary, True) for f in followers)
        return topo if ok else None

    return wait_for(reached, timeout=timeout, what="%s primary, followed by %s" % (primary, followers))


def token(lab, origin="a"):
    return lab_vars(lab)["clusters"][origin]["root_token"]


def write_sentinels(lab, on, count=1, origin="a", first=0):
    """Write `count` values on cluster `on` under keys first..first+count-1; each write is acknowledged
    (200/204) before the next. Give later batches their own `first`, or they overwrite earlier ones."""
    api, values = Api(lab.cluster(on)), {}
    for i in range(first, first + count):
        value = "sentinel-%d-%s" % (i, secrets.token_hex(6))
        resp = api("POST", "%s/%d" % (SENTINEL_PATH, i), token=token(lab, origin), json={"value": value})
        assert resp.status_code in (200, 204), resp.text
        values[i] = value
    return values


def read_sentinels(lab, on, values, origin="a"):
    """The values cluster `on` does not serve as written: [(index, HTTP status, what it served)].
    A 5xx (the cluster busy) is read again, for up to 10 s."""
    api, missing = Api(lab.cluster(on)), []
    for i, value in values.items():
        deadline = time.time() + 10
        while True:
            resp = api("GET", "%s/%d" % (SENTINEL_PATH, i), token=token(lab, origin))
            if resp.status_code < 500 or time.time() > deadline:
                break
            time.sleep(0.5)
        got = resp.json().get("data", {}).get("value") if resp.status_code == 200 else resp.text[:200]
        if resp.status_code != 200 or got != value:
            missing.append((i, resp.status_code, got))
    return missing


def op_token_hashes(lab):
    """{cluster: set of sha256 of the DR operation tokens it still accepts} (the lab's registry on disk)."""
    out = {}
    for name in NAMES:
        state = json.loads((Path(lab.dir) / name / "dr_state.json").read_text())
        out[name] = set(state.get("op_tokens", []))
    return out


def remembered_op_tokens(lab):
    """{cluster: count} of DR operation tokens the lab still accepts (its registry, per cluster)."""
    return {name: len(hashes) for name, hashes in op_token_hashes(lab).items()}


def root_accessors(lab, on, origin="a"):
    """Accessors of every token with the root policy that cluster `on` (a primary) holds."""
    api = Api(lab.cluster(on))
    tok = token(lab, origin)
    resp = api("LIST", "auth/token/accessors", token=tok)
    assert resp.status_code == 200, resp.text
    out = set()
    for accessor in resp.json()["data"]["keys"]:
        looked = api("POST", "auth/token/lookup-accessor", token=tok, json={"accessor": accessor})
        if looked.status_code == 200 and "root" in (looked.json()["data"].get("policies") or []):
            out.add(accessor)
    return out


def mint_batch_op_token(lab, on="a", origin="a", ttl="2h"):
    """A batch DR operation token as HashiCorp's runbook makes it, by plain HTTP on primary `on`."""
    api, tok = Api(lab.cluster(on)), token(lab, origin)
    policy = ('path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }\n'
              'path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }\n')
    assert api("PUT", "sys/policies/acl/test-dr-op", token=tok, json={"policy": policy}).status_code in (200, 204)
    resp = api("POST", "auth/token/roles/test-dr-op", token=tok, json={
        "allowed_policies": ["test-dr-op"], "orphan": True, "renewable": False, "token_type": "batch"})
    assert resp.status_code in (200, 204), resp.text
    resp = api("POST", "auth/token/create/test-dr-op", token=tok, json={"policies": ["test-dr-op"], "ttl": ttl})
    assert resp.status_code == 200, resp.text
    return resp.json()["auth"]["client_token"]


def assert_no_secret(proc, values):
    for value in values:
        assert value not in proc.output, "a secret appears in the playbook output"


def lab_secrets(lab):
    values = []
    for cluster in lab_vars(lab)["clusters"].values():
        values.append(cluster["root_token"])
        values.extend(cluster["unseal_keys_b64"])
        values.extend(cluster["unseal_keys_hex"])
    return [v for v in values if v]


def key_shares(lab, origin="a"):
    return lab_vars(lab)["clusters"][origin]["unseal_keys_b64"][:3]
