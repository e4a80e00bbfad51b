"""The batch_token role (playbook vaultops.dr.batch_token) on a DR set a -> b, c of drlab.

check mode (nothing written) → real run mints a batch token, checked by plain HTTP on the primary
(auth/token/lookup: batch, orphan, not renewable, the policy; sys/capabilities: update on promote and
update-primary, read/update on the autopilot state since drlab runs integrated storage) → re-run with that token
as batch_token_current: changed=0 and no write → with a 1h token below min_ttl: a new one is minted → the role
pointed at a DR secondary fails before any write → and in a scratch failover (a demoted by plain HTTP) the
minted token promotes DR secondary b, which proves it is accepted on a DR secondary.
"""

from __future__ import annotations

import json
import time

import yaml

from born_private import Watch, umask
from dr_checks import recap, writes
from lab_api import Api, lab_vars, wait_for

POLICY = "vaultops-dr-operation"
PROMOTE = "sys/replication/dr/secondary/promote"
UPDATE_PRIMARY = "sys/replication/dr/secondary/update-primary"
AUTOPILOT = "sys/storage/raft/autopilot/state"


def run_role(playbook, tmp_path, name, **kw):
    out = tmp_path / ("%s.json" % name)
    proc = playbook("targets/batch_token/run_role.yml", tokens="a", out_file=str(out), **kw)
    return proc, json.loads(out.read_text())


def lookup(api, root, token):
    resp = api("POST", "auth/token/lookup", token=root, json={"token": token})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_batch_token_role(lab, playbook, tmp_path):
    lab.reset()
    playbook("vaultops.dr.setup", tokens=None)
    a, b = lab.cluster("a"), lab.cluster("b")
    api = Api(a)
    info = lab_vars(lab)

    # Check mode: the plan, nothing written (no policy on a), no token.
    since = time.time()
    proc, result = run_role(playbook, tmp_path, "check", check=True)
    assert writes(lab, since) == []
    assert api("GET", "sys/policies/acl/" + POLICY, token=a.root_token).status_code == 404
    assert "token" not in result and result["minted"] is False
    assert "would mint a batch DR operation token" in proc.stdout

    # Real run: policy, role and a batch token, on the primary only.
    since = time.time()
    proc, result = run_role(playbook, tmp_path, "first", verbosity=4)
    assert result["minted"] is True and result["primary"] == "a"
    token = result["token"]
    assert token not in proc.output and a.root_token not in proc.output  # at -vvvv
    assert {w["method"] for w in writes(lab, since)} <= {"PUT", "POST"} and len(writes(lab, since)) == 3
    assert all(w["cluster"] == "a" for w in lab.writes(since=since))
    data = lookup(api, a.root_token, token)
    assert data["type"] == "batch" and data["orphan"] is True and data["renewable"] is False
    assert POLICY in data["policies"] and data["ttl"] > 167 * 3600
    assert result["ttl"] == data["creation_ttl"] == 168 * 3600
    caps = api("POST", "sys/capabilities", token=a.root_token,
               json={"token": token, "paths": [PROMOTE, UPDATE_PRIMARY, AUTOPILOT]}).json()["data"]
    assert caps[PROMOTE] == ["update"] and caps[UPDATE_PRIMARY] == ["update"]
    assert sorted(caps[AUTOPILOT]) == ["read", "update"]
    role = api("GET", "auth/token/roles/" + POLICY, token=a.root_token).json()["data"]
    assert role["token_type"] == "batch" and role["orphan"] is True and role["renewable"] is False
    assert role["allowed_policies"] == [POLICY]

    # Re-run with the token in use (above min_ttl): changed=0, no write, no new token.
    since = time.time()
    for check in (True, False):
        proc, again = run_role(playbook, tmp_path, "again-%s" % check, check=check, batch_token_current=token,
                               verbosity=4)
        assert all(c["changed"] == 0 for c in recap(proc).values()), recap(proc)
        assert again["minted"] is False and "token" not in again and again["ttl"] > 167 * 3600
        assert "kept a batch DR operation token" in proc.stdout and token not in proc.output
    assert writes(lab, since) == []

    # A current token below min_ttl (1h left): a new one is minted.
    short = api("POST", "auth/token/create/" + POLICY, token=a.root_token,
                json={"ttl": "1h", "policies": [POLICY]}).json()["auth"]["client_token"]
    proc, renewed = run_role(playbook, tmp_path, "short", batch_token_current=short)
    assert renewed["minted"] is True and renewed["token"] not in (short, token)
    assert "not above min_ttl 48h" in renewed["reason"]
    assert lookup(api, a.root_token, renewed["token"])["ttl"] > 167 * 3600
    assert recap(proc)["a"]["changed"] == 1

    # The shipped playbook from the command line keeps the minted token in batch_token_output_file, born 0600:
    # under umask 000 no process of the run ever sees it with the token and a mode others can read.
    private = tmp_path / "private"
    private.mkdir()
    out = private / "op-token.yml"
    watch = Watch(private, tmp_path / "watch-op-token.log")
    with umask(0):
        proc = playbook("vaultops.dr.batch_token", tokens="a", env=watch.env, batch_token_output_file=str(out),
                        batch_token_current=short)
    watch.assert_born_private("op-token.yml")
    kept = yaml.safe_load(out.read_text())
    assert oct(out.stat().st_mode & 0o777) == "0o600" and len(set(kept.values())) == 1 and len(kept) == 5
    assert lookup(api, a.root_token, kept["batch_token_current"])["type"] == "batch"
    assert kept["batch_token_current"] not in proc.output

    # Pointed at a DR secondary: refused before any write.
    since = time.time()
    proc = playbook("vaultops.dr.batch_token", tokens="a", expect_fail=True, batch_token_primary="b")
    out = " ".join(proc.output.split())
    assert "b (%s) is in DR mode secondary, not a DR primary" % b.api_addr in out and "Run this against the primary" in out
    assert writes(lab, since) == []

    # A module failure shows its message although the task is no_log (the message never holds a secret).
    proc = playbook("vaultops.dr.batch_token", tokens="a", expect_fail=True, batch_token_ttl="24h")
    assert "ttl 24h must be longer than min_ttl 48h" in proc.output
    assert writes(lab, since) == []

    # Scratch failover by plain HTTP: demote a, then the batch token promotes DR secondary b.
    resp = api("POST", "sys/replication/dr/primary/demote", token=a.root_token, json={})
    assert resp.status_code in (200, 204), resp.text
    wait_for(lambda: Api(a).dr()["mode"] == "secondary", 60, "a demoted")
    resp = Api(b)("POST", PROMOTE, json={"dr_operation_token": token, "primary_cluster_addr": b.cluster_addr})
    assert resp.status_code in (200, 204), resp.text
    wait_for(lambda: Api(b).dr().get("mode") == "primary" and Api(b).dr().get("state") == "running", 120, "b promoted")
    assert info["clusters"]["a"]["root_token"] not in proc.output
