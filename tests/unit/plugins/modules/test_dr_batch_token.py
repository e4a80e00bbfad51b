"""dr_batch_token through main(), against recorded Vault answers (OpenBao 2.7.2 behind drlab, recorded here)."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.vaultops.dr.plugins.module_utils import _batch_token as bt
from ansible_collections.vaultops.dr.plugins.modules import dr_batch_token
from conftest import BASE_ARGS, fixture, run_module, status, writes

pytestmark = pytest.mark.usefixtures("fake_time")

POLICY = "sys/policies/acl/vaultops-dr-operation"
ROLE = "auth/token/roles/vaultops-dr-operation"
CREATE = "auth/token/create/vaultops-dr-operation"
LOOKUP = "auth/token/lookup"
RAFT = "sys/storage/raft/configuration"
MINTED = fixture("batch_token_create")["auth"]["client_token"]
CURRENT = fixture("batch_token_lookup_long")["data"]["id"]


def run(args=None, **kw):
    return run_module(dr_batch_token, dict(BASE_ARGS, **(args or {})), **kw)


def cluster(vault, mode="status_primary", raft=True, policy="batch_policy_current", role="batch_role_current",
            lookup=None):
    """Queue what a cluster answers: DR status, raft configuration, policy, role and (optionally) a lookup."""
    status(vault, mode)
    if raft:
        vault.add(responses.GET, vault.base + RAFT, json=fixture("batch_raft_configuration"))
    else:
        vault.add(responses.GET, vault.base + RAFT, status=404, json=fixture("error_404_empty"))
    for path, name in ((POLICY, policy), (ROLE, role)):
        if name:
            vault.add(responses.GET, vault.base + path, json=fixture(name))
        else:
            vault.add(responses.GET, vault.base + path, status=404, json=fixture("error_404_empty"))
    if lookup == "bad":
        vault.add(responses.POST, vault.base + LOOKUP, status=403, json=fixture("error_403_bad_token"))
    elif lookup:
        vault.add(responses.POST, vault.base + LOOKUP, json=fixture(lookup))


def accept_writes(vault):
    vault.add(responses.PUT, vault.base + POLICY, status=204)
    vault.add(responses.POST, vault.base + ROLE, status=204)
    vault.add(responses.POST, vault.base + CREATE, json=fixture("batch_token_create"))


def paths(calls):
    return [(c.request.method, c.request.path_url.split("/v1/", 1)[1]) for c in calls]


def test_recorded_policy_is_what_the_module_writes():
    assert fixture("batch_policy_current")["data"]["policy"] == bt.policy_hcl(True)
    text = bt.policy_hcl(True)
    assert 'path "sys/replication/dr/secondary/promote" {\n  capabilities = ["update"]\n}' in text
    assert 'path "sys/replication/dr/secondary/update-primary" {\n  capabilities = ["update"]\n}' in text
    assert 'path "sys/storage/raft/autopilot/state" {\n  capabilities = ["read", "update"]\n}' in text
    assert "autopilot" not in bt.policy_hcl(False)


def test_check_mode_on_a_fresh_primary_plans_everything_and_writes_nothing(vault):
    cluster(vault, policy=None, role=None)
    result = run(check_mode=True, diff=True)
    assert result["changed"] is True and result["minted"] is True and "token" not in result
    assert result["policy"]["changed"] and result["role"]["changed"]
    assert result["diff"]["before"] == {"policy": None, "role": None, "token": None}
    assert result["diff"]["after"]["role"] == {
        "allowed_policies": ["vaultops-dr-operation"], "orphan": True, "renewable": False, "token_type": "batch"}
    assert result["diff"]["after"]["token"] == {"type": "batch", "ttl": 604800}
    assert writes(vault) == []


def test_fresh_primary_gets_policy_role_and_a_batch_token(vault):
    cluster(vault, policy=None, role=None)
    accept_writes(vault)
    result = run({"ttl": "168h"})
    assert result["changed"] is True and result["minted"] is True
    assert result["token"] == MINTED and result["token_type"] == "batch" and result["ttl"] == 604800
    assert result["expire_time"].endswith("Z") and "T" in result["expire_time"]
    assert result["integrated_storage"] is True
    assert paths(writes(vault)) == [("PUT", POLICY), ("POST", ROLE), ("POST", CREATE)]
    policy, role, create = (json.loads(c.request.body) for c in writes(vault))
    assert policy == {"policy": bt.policy_hcl(True)}
    assert role == {"allowed_policies": ["vaultops-dr-operation"], "orphan": True, "renewable": False,
                    "token_type": "batch"}
    assert create == {"ttl": "168h", "policies": ["vaultops-dr-operation"]}
    assert all(c.request.headers["X-Vault-Token"] == BASE_ARGS["token"] for c in writes(vault))


@pytest.mark.parametrize("check_mode", [False, True])
def test_current_token_above_min_ttl_is_kept_with_no_write(vault, check_mode):
    cluster(vault, lookup="batch_token_lookup_long")
    result = run({"current_token": CURRENT}, check_mode=check_mode, diff=True)
    assert result["changed"] is False and result["minted"] is False and "token" not in result
    assert result["ttl"] == 604800 and result["expire_time"] == "2026-12-08T10:12:28Z"
    assert result["reason"].startswith("keep it: ") and "168h left, above min_ttl 48h" in result["reason"]
    # the lookup is a POST that changes nothing; nothing else was sent
    assert paths(writes(vault)) == [("POST", LOOKUP)]
    assert json.loads(writes(vault)[0].request.body) == {"token": CURRENT}
    assert CURRENT not in json.dumps(result)


@pytest.mark.parametrize("lookup, reason", [
    ("batch_token_lookup_short", "has 1h left, not above min_ttl 48h"),
    ("bad", "not a valid token"),
    ("batch_token_lookup_service", "a service token, not a batch token"),
])
def test_current_token_not_good_enough_is_replaced(vault, lookup, reason):
    cluster(vault, lookup=lookup)
    accept_writes(vault)
    result = run({"current_token": CURRENT})
    assert result["changed"] is True and result["minted"] is True and result["token"] == MINTED
    assert reason in result["reason"], result["reason"]
    assert not result["policy"]["changed"] and not result["role"]["changed"]
    assert paths(writes(vault)) == [("POST", LOOKUP), ("POST", CREATE)]


def test_policy_without_update_primary_is_rewritten_and_role_left_alone(vault):
    cluster(vault, policy="batch_policy_old", lookup="batch_token_lookup_long")
    accept_writes(vault)
    result = run({"current_token": CURRENT}, diff=True)
    assert result["changed"] is True and result["policy"]["changed"] and not result["role"]["changed"]
    assert result["minted"] is False and "token" not in result
    assert "update-primary" not in result["diff"]["before"]["policy"]
    assert paths(writes(vault)) == [("POST", LOOKUP), ("PUT", POLICY)]


def test_role_making_service_tokens_is_corrected(vault):
    cluster(vault, role="batch_role_service", lookup="batch_token_lookup_long")
    accept_writes(vault)
    result = run({"current_token": CURRENT}, diff=True)
    assert result["changed"] is True and result["role"]["changed"] and not result["policy"]["changed"]
    assert result["diff"]["before"]["role"]["token_type"] == "default-service"
    assert paths(writes(vault)) == [("POST", LOOKUP), ("POST", ROLE)]


def test_without_integrated_storage_the_autopilot_rule_is_left_out(vault):
    cluster(vault, raft=False, policy=None, role="batch_role_current")
    accept_writes(vault)
    result = run()
    assert result["integrated_storage"] is False
    assert json.loads(writes(vault)[0].request.body) == {"policy": bt.policy_hcl(False)}


def test_integrated_storage_given_skips_the_detection(vault):
    status(vault, "status_primary")
    vault.add(responses.GET, vault.base + POLICY, json=fixture("batch_policy_current"))
    vault.add(responses.GET, vault.base + ROLE, json=fixture("batch_role_current"))
    vault.add(responses.POST, vault.base + LOOKUP, json=fixture("batch_token_lookup_long"))
    result = run({"integrated_storage": True, "current_token": CURRENT})
    assert result["changed"] is False
    assert RAFT not in [p for _m, p in paths(vault.calls)]


def test_raft_detection_refused_includes_the_rule_with_a_warning(vault, module_warnings):
    status(vault, "status_primary")
    vault.add(responses.GET, vault.base + RAFT, status=403, json=fixture("error_403"))
    vault.add(responses.GET, vault.base + POLICY, json=fixture("batch_policy_current"))
    vault.add(responses.GET, vault.base + ROLE, json=fixture("batch_role_current"))
    vault.add(responses.POST, vault.base + LOOKUP, json=fixture("batch_token_lookup_long"))
    result = run({"current_token": CURRENT})
    assert result["integrated_storage"] is True and result["changed"] is False
    assert any("integrated storage" in w for w in module_warnings())


def test_dr_disabled_cluster_is_accepted(vault):
    cluster(vault, mode="status_disabled", lookup="batch_token_lookup_long")
    assert run({"current_token": CURRENT})["changed"] is False


def test_dr_secondary_fails_before_any_other_call(vault):
    status(vault, "status_secondary")
    result = run({"current_token": CURRENT})
    assert result["failed"] is True
    assert "dr_batch_token policy_name=vaultops-dr-operation role_name=vaultops-dr-operation on " + BASE_ARGS["url"] in result["msg"]
    assert "the cluster is mode secondary" in result["msg"]
    assert "Run this against the primary" in result["msg"]
    assert [p for _m, p in paths(vault.calls)] == ["sys/replication/dr/status"]
    assert CURRENT not in json.dumps(result)


def test_permission_denied_says_what_the_token_needs(vault):
    status(vault, "status_primary")
    vault.add(responses.GET, vault.base + RAFT, json=fixture("batch_raft_configuration"))
    vault.add(responses.GET, vault.base + POLICY, status=403, json=fixture("error_403"))
    result = run()
    assert result["failed"] is True and result["http_status"] == 403
    assert "GET sys/policies/acl/vaultops-dr-operation" in result["msg"] and "permission denied" in result["msg"]
    assert "needs read/update on sys/policies/acl/*" in result["msg"]
    assert writes(vault) == []


def test_ttl_not_above_min_ttl_is_refused(vault):
    result = run({"ttl": "24h", "min_ttl": "48h"})
    assert result["failed"] is True and "must be longer than min_ttl" in result["msg"]
    assert len(vault.calls) == 0


def test_role_making_non_batch_token_is_reported(vault):
    cluster(vault)
    service = fixture("batch_token_create")
    service["auth"].update(token_type="service", client_token="hvs.unit-test-service")
    vault.add(responses.POST, vault.base + CREATE, json=service)
    result = run()
    assert result["failed"] is True and "not a batch token" in result["msg"]
    assert "hvs.unit-test-service" not in json.dumps(result)


@pytest.mark.parametrize("text, seconds", [
    ("168h", 604800), ("48h", 172800), ("30m", 1800), ("1h30m", 5400), ("90s", 90), ("7d", 604800),
    ("3600", 3600), (3600, 3600), ("1.5h", 5400),
])
def test_parse_duration(text, seconds):
    assert bt.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "forever", "10x", "h", True])
def test_parse_duration_refuses_nonsense(text):
    with pytest.raises(ValueError):
        bt.parse_duration(text)


def test_human_duration():
    assert [bt.human_duration(s) for s in (604800, 5400, 59, 0, 3661)] == ["168h", "1h30m", "59s", "0s", "1h1m1s"]
