"""Plain HTTP against drlab clusters: the integration tests' independent view of the clusters,
never through the modules under test."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import requests

OP_ATTEMPT = "sys/replication/dr/secondary/generate-operation-token/attempt"


def write_token_inventory(the_lab, path, origin=None):
    """An inventory that gives each lab host its `vault_token` (0600), beside drlab's own inventory.

    `origin=None`: each cluster's own root token (what a first set-up needs). `origin="a"`: cluster a's
    root token on every host: once the DR set was built from a, every cluster serves a's token store,
    through failovers and failbacks alike.
    """
    info = lab_vars(the_lab)
    hosts = {name: {"vault_token": info["clusters"][origin or name]["root_token"]} for name in info["clusters"]}
    Path(path).write_text(json.dumps({"vault_clusters": {"hosts": hosts}}))
    os.chmod(path, 0o600)
    return str(path)


def lab_vars(the_lab):
    """lab.json as the playbooks see it (`lab.clusters.a.root_token`, `lab.ca_cert`, ...)."""
    return json.loads((Path(the_lab.dir) / "lab.json").read_text())


class Api:
    """Plain HTTP against one lab cluster."""

    def __init__(self, cluster):
        self.c = cluster
        self.s = requests.Session()
        self.s.verify = cluster.ca_cert
        self.s.trust_env = False

    def __call__(self, method, path, token=None, **kw):
        headers = {"X-Vault-Token": token} if token else {}
        return self.s.request(method, "%s/v1/%s" % (self.c.api_addr, path), headers=headers, timeout=60, **kw)

    def dr(self):
        resp = self("GET", "sys/replication/dr/status")
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]

    def attempt(self, path=OP_ATTEMPT, token=None):
        resp = self("GET", path, token=token)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def delete_op_token(self, op_token):
        return self("POST", "sys/replication/dr/secondary/operation-token/delete", json={"dr_operation_token": op_token})


def wait_for(fn, timeout=120, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(1)
    raise AssertionError("timed out waiting for %s; last: %r" % (what, last))


def issue_activation_token(primary, secondary_id):
    """Enable DR primary on `primary` (a drlab cluster) and return a wrapped activation token."""
    api = Api(primary)
    resp = api("POST", "sys/replication/dr/primary/enable", token=primary.root_token, json={})
    assert resp.status_code in (200, 204), resp.text
    resp = api("POST", "sys/replication/dr/primary/secondary-token", token=primary.root_token, json={"id": secondary_id})
    assert resp.status_code == 200, resp.text
    return resp.json()["wrap_info"]["token"]
