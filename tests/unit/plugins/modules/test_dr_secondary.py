"""dr_secondary through main(), against recorded Vault answers."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from ansible_collections.vaultops.dr.plugins.modules import dr_secondary
from conftest import BASE_ARGS, fixture, run_module, status, writes

pytestmark = pytest.mark.usefixtures("fake_time", "old_primary_demoted")

URL = BASE_ARGS["url"]
STATUS = "sys/replication/dr/status"
SECONDARY = "sys/replication/dr/secondary/"
ACTIVATION = "hvs.CAESIFwrappedActivationTokenSecretValue0000001"
OP_TOKEN = "hvb.AAAAAQOperationTokenSecretValue00000002"
PRIMARY_CLUSTER = "https://10.0.1.11:8201"
SECRETS = (BASE_ARGS["token"], ACTIVATION, OP_TOKEN)


def body(call):
    return json.loads(call.request.body)


OLD_PRIMARY_STATUS = "https://10.0.1.11:8200/v1/" + STATUS  # primaries[0].api_address in status_secondary


@pytest.fixture
def old_primary_demoted(vault):
    """The planned-failover order: the primary status_secondary still shows connected was demoted just before,
    so the two-primaries guard finds it no longer a primary when it asks."""
    vault.add(responses.GET, OLD_PRIMARY_STATUS, json=fixture("status_demoted"))


def run(args, with_token=True, **kw):
    base = dict(BASE_ARGS)
    if not with_token:
        base.pop("token")
    return run_module(dr_secondary, dict(base, **args), **kw)


def no_secrets(result):
    text = json.dumps(result)
    for secret in SECRETS:
        assert secret not in text


ENABLE = {"state": "enabled", "activation_token": ACTIVATION}
PROMOTE = {"state": "promoted", "dr_operation_token": OP_TOKEN}
UPDATE = {"state": "primary_updated", "dr_operation_token": OP_TOKEN, "activation_token": ACTIVATION,
          "primary_cluster_addr": PRIMARY_CLUSTER}
DISABLE = {"state": "disabled", "dr_operation_token": OP_TOKEN}


# -- argument rules --------------------------------------------------------------------------
def test_enable_needs_activation_token_only_when_acting(vault):
    status(vault, "status_disabled", "status_secondary")
    result = run({"state": "enabled"})
    assert result["failed"] and "needs activation_token" in result["msg"]
    assert "vaultops.dr.dr_secondary_token" in result["msg"] and writes(vault) == []
    # a re-run, where dr_secondary_token issued no new token, needs none
    assert run({"state": "enabled"})["changed"] is False


def test_check_mode_without_activation_token_predicts_and_warns(vault, module_warnings):
    """A --check run of a whole playbook gets no token from the issuing task."""
    status(vault, "status_disabled")
    result = run({"state": "enabled"}, check_mode=True)
    assert result["changed"] is True and writes(vault) == []
    assert any("A real run needs activation_token" in w for w in module_warnings())


def test_activation_token_and_update_primary_addrs_are_exclusive(vault):
    result = run(dict(UPDATE, update_primary_addrs=["https://b:8201"]))
    assert result["failed"] and "mutually exclusive" in result["msg"]
    no_secrets(result)


def test_primary_updated_needs_token_or_addrs_when_acting(vault):
    status(vault, "status_demoted")
    result = run({"state": "primary_updated", "dr_operation_token": OP_TOKEN})
    assert result["failed"] and "activation_token (or update_primary_addrs)" in result["msg"]
    assert writes(vault) == []
    no_secrets(result)


# -- enabled ---------------------------------------------------------------------------------
def test_enable_check_mode(vault):
    status(vault, "status_disabled")
    result = run(ENABLE, check_mode=True, diff=True)
    assert result["changed"] is True and result["mode_before"] == "disabled"
    assert result["diff"] == {"before": {"mode": "disabled"}, "after": {"mode": "secondary"}}
    assert writes(vault) == []
    no_secrets(result)


def test_enable_200_warnings_waits_until_healthy(vault, fake_time):
    status(vault, "status_disabled", "status_bootstrapping", "status_secondary_syncing", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "enable", json=fixture("enable_secondary_warnings"))
    result = run(dict(ENABLE, ca_file="/etc/vault/ca.pem", primary_api_addr="https://a:8200"), diff=True)
    assert result["changed"] is True and result["status"]["healthy"] is True
    assert result["status"]["state"] == "stream-wals" and result["waited"] > 0
    assert "initial sync" in result["vault_warnings"][0]
    [post] = writes(vault)
    assert body(post) == {"token": ACTIVATION, "ca_file": "/etc/vault/ca.pem", "primary_api_addr": "https://a:8200"}
    assert post.request.headers["X-Vault-Token"] == BASE_ARGS["token"]
    no_secrets(result)


def test_enable_204(vault):
    status(vault, "status_disabled", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "enable", status=204)
    assert run(ENABLE)["changed"] is True


@pytest.mark.parametrize("name", ["status_secondary", "status_secondary_troubled", "status_demoted"])
@pytest.mark.parametrize("check_mode", [True, False])
def test_enable_never_wipes_a_secondary_twice(vault, name, check_mode):
    status(vault, name)
    result = run(ENABLE, check_mode=check_mode, diff=True)
    assert result["changed"] is False and result["mode_before"] == "secondary"
    assert result["diff"]["before"] == result["diff"]["after"] == {"mode": "secondary"}
    assert writes(vault) == []


def test_enable_on_unhealthy_secondary_warns_not_waits(vault, module_warnings, fake_time):
    status(vault, "status_demoted")
    result = run(ENABLE)
    assert result["changed"] is False and fake_time["sleeps"] == []
    assert any("would wipe it" in w and "primary_updated" in w for w in module_warnings())


def test_enable_while_bootstrapping_waits_without_enabling_again(vault):
    status(vault, "status_bootstrapping", "status_secondary")
    result = run(ENABLE)
    assert result["changed"] is False and result["status"]["healthy"] and writes(vault) == []


def test_enable_again_while_initial_sync_runs_waits_without_warning(vault, module_warnings):
    """An earlier run's wait timed out during a long initial sync: no enable, just wait."""
    status(vault, "status_secondary_syncing", "status_secondary_syncing", "status_secondary")
    result = run(ENABLE)
    assert result["changed"] is False and result["status"]["healthy"] and result["waited"] > 0
    assert writes(vault) == [] and not any("wipe" in w for w in module_warnings())


def test_enable_second_run_idempotent(vault):
    status(vault, "status_disabled", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "enable", status=204)
    assert run(ENABLE)["changed"] is True
    assert run(ENABLE)["changed"] is False
    assert len(writes(vault)) == 1


@pytest.mark.parametrize("name", ["status_primary", "status_primary_legacy"])
def test_enable_on_primary_fails_without_wiping(vault, name):
    status(vault, name)
    result = run(ENABLE)
    assert result["failed"] is True and writes(vault) == []
    msg = result["msg"]
    assert msg.startswith("dr_secondary state=enabled on %s: the cluster is mode primary" % URL)
    assert "would wipe this DR primary" in msg and "vaultops.dr.dr_primary state=demoted" in msg
    no_secrets(result)


def test_enable_with_spent_activation_token_400(vault):
    status(vault, "status_disabled")
    vault.add(responses.POST, vault.base + SECONDARY + "enable", status=400, json=fixture("error_400_wrapping"))
    result = run(ENABLE)
    assert result["failed"] and "HTTP 400" in result["msg"] and "wrapping token is not valid" in result["msg"]
    assert "vaultops.dr.dr_secondary_token force=true" in result["msg"]
    assert result["vault_errors"] == fixture("error_400_wrapping")["errors"]
    no_secrets(result)


def test_enable_lost_answer_confirmed_not_replayed(vault, module_warnings):
    status(vault, "status_disabled", "status_bootstrapping", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "enable", body=requests.exceptions.ReadTimeout("Read timed out."))
    result = run(ENABLE)
    assert result["changed"] is True and len(writes(vault)) == 1
    assert any("was lost" in w for w in module_warnings())


def test_enable_wait_timeout(vault):
    status(vault, "status_disabled", "status_secondary_troubled")
    vault.add(responses.POST, vault.base + SECONDARY + "enable", status=204)
    result = run(dict(ENABLE, wait_timeout=60))
    assert result["failed"] and "waiting for a healthy DR secondary" in result["msg"]
    assert "transient_failure" in result["msg"]
    no_secrets(result)


# -- promoted --------------------------------------------------------------------------------
def test_promote_check_mode(vault):
    status(vault, "status_secondary")
    result = run(PROMOTE, check_mode=True, diff=True, with_token=False)
    assert result["changed"] and result["diff"] == {"before": {"mode": "secondary", "primary": ["https://10.0.1.11:8201"]},
                                                    "after": {"mode": "primary", "primary": []}}
    assert writes(vault) == []


def test_promote_without_vault_token_412_503_then_running(vault):
    """The op token authorizes; right after promotion the cluster answers 412, then 503, then runs."""
    status(vault, "status_demoted")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", json=fixture("promote_warnings"))
    vault.add(responses.GET, vault.base + STATUS, status=412, json=fixture("error_412"))
    vault.add(responses.GET, vault.base + STATUS, status=503, json={"errors": ["promotion in progress"]})
    status(vault, "status_primary_fresh")
    result = run(dict(PROMOTE, primary_cluster_addr="https://b-lb:8201", force=True), with_token=False, diff=True)
    assert result["changed"] is True and result["mode_before"] == "secondary"
    assert result["status"]["mode"] == "primary" and result["status"]["state"] == "running"
    assert result["vault_warnings"] == fixture("promote_warnings")["warnings"]
    [post] = writes(vault)
    assert body(post) == {"dr_operation_token": OP_TOKEN, "primary_cluster_addr": "https://b-lb:8201", "force": True}
    assert "X-Vault-Token" not in post.request.headers
    no_secrets(result)


def test_promote_sends_vault_token_when_given(vault):
    status(vault, "status_secondary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=204)
    run(PROMOTE)
    assert writes(vault)[0].request.headers["X-Vault-Token"] == BASE_ARGS["token"]


def test_promote_post_refused_with_503_then_accepted(vault):
    status(vault, "status_secondary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=503, json={"errors": ["still catching up"]})
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=204)
    assert run(PROMOTE, with_token=False)["changed"] is True
    assert len(writes(vault)) == 2


def test_promote_answered_by_a_load_balancers_503_is_settled_by_status_never_sent_twice(vault):
    # issue 20: a 503 without a refusal of Vault's may come after Vault promoted
    status(vault, "status_secondary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=503, body="<html>503 Service Unavailable</html>",
              content_type="text/html")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=204)
    assert run(PROMOTE, with_token=False)["changed"] is True
    assert len(writes(vault)) == 1


# -- wait_for_writes: the promotion's RTO ends inside the module ---------------------------------------
WRITE_CHECK = "cubbyhole/vaultops-dr/write-check"


def test_wait_for_writes_writes_with_the_token_until_accepted(vault, fake_time):
    status(vault, "status_secondary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=204)
    vault.add(responses.POST, vault.base + WRITE_CHECK, status=503, json={"errors": ["Vault is sealed"]})
    vault.add(responses.POST, vault.base + WRITE_CHECK, status=412, json=fixture("error_412"))
    vault.add(responses.POST, vault.base + WRITE_CHECK, status=204)
    result = run(dict(PROMOTE, wait_for_writes=True))
    assert result["changed"] is True
    promote, *checks = writes(vault)
    assert promote.request.url.endswith("/promote") and len(checks) == 3
    assert {c.request.headers["X-Vault-Token"] for c in checks} == {BASE_ARGS["token"]}
    assert "written_at" in body(checks[-1])
    assert fake_time["sleeps"][-2:] == [0.2, 0.4]  # polled fast, like the status waits
    assert result["writes_accepted_at"] >= result["promoted_at"] and result["writes_accepted_after"] >= 0
    no_secrets(result)


def test_wait_for_writes_refused_with_403_fails_at_once(vault, fake_time):
    status(vault, "status_secondary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=204)
    vault.add(responses.POST, vault.base + WRITE_CHECK, status=403, json=fixture("error_403"))
    result = run(dict(PROMOTE, wait_for_writes=True))
    assert result["failed"] and "was promoted, but it refused the write" in result["msg"]
    assert "Check that token is valid on it" in result["msg"] and result["http_status"] == 403
    assert len(writes(vault)) == 2 and fake_time["sleeps"] == []  # no poll: waiting cannot change a 403
    no_secrets(result)


def test_wait_for_writes_needs_a_token_before_any_write(vault):
    status(vault, "status_secondary")
    result = run(dict(PROMOTE, wait_for_writes=True), with_token=False)
    assert result["failed"] and "needs token (wait_for_writes writes with it)" in result["msg"]
    assert writes(vault) == []


def test_wait_for_writes_is_no_write_without_a_promotion_or_in_check_mode(vault):
    status(vault, "status_primary_fresh", "status_secondary")
    assert run(dict(PROMOTE, wait_for_writes=True))["changed"] is False
    result = run(dict(PROMOTE, wait_for_writes=True), check_mode=True)
    assert result["changed"] is True and "writes_accepted_at" not in result
    assert writes(vault) == []


# -- demote_primary: a planned failover's demote and promote in one run ----------------------------------
OLD = "https://vault-a.test:8200/v1/"


def old_primary(vault, *names, demote_status=204):
    for name in names:
        vault.add(responses.GET, OLD + STATUS, json=fixture(name))
    vault.add(responses.POST, OLD + "sys/replication/dr/primary/demote", status=demote_status,
              json={"errors": ["demote refused"]} if demote_status >= 400 else None)


DEMOTE_AND_PROMOTE = dict(PROMOTE, demote_primary="https://vault-a.test:8200")


def test_demote_primary_demotes_then_promotes(vault):
    status(vault, "status_secondary", "status_primary_fresh")
    old_primary(vault, "status_primary", "status_demoted")  # read once before the demotion, then its wait
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=204)
    result = run(DEMOTE_AND_PROMOTE, diff=True)
    assert result["changed"] is True and result["status"]["mode"] == "primary"
    assert [c.request.url for c in writes(vault)] == [OLD + "sys/replication/dr/primary/demote",
                                                      vault.base + SECONDARY + "promote"]
    assert writes(vault)[0].request.headers["X-Vault-Token"] == BASE_ARGS["token"]
    assert result["demoted_primary"]["changed"] is True and result["demoted_primary"]["mode_before"] == "primary"
    assert result["diff"]["after"]["demote_primary"] == "https://vault-a.test:8200 (secondary)"
    # the read before the demotion serves the guard and the demotion both; the second is the demotion's wait
    assert len([c for c in vault.calls if c.request.url == OLD + STATUS]) == 2
    no_secrets(result)


def test_demote_primary_already_demoted_is_a_resumed_run(vault):
    status(vault, "status_secondary", "status_primary_fresh")
    old_primary(vault, "status_demoted")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=204)
    result = run(DEMOTE_AND_PROMOTE)
    assert result["changed"] is True and result["demoted_primary"]["changed"] is False
    assert [c.request.url for c in writes(vault)] == [vault.base + SECONDARY + "promote"]


def test_demote_primary_of_another_replication_set_is_refused_before_any_write(vault):
    status(vault, "status_secondary")
    other = fixture("status_primary")
    other["data"]["cluster_id"] = "0000aaaa-1111-2222-3333-444455556666"
    vault.add(responses.GET, OLD + STATUS, json=other)
    for check_mode in (True, False):
        result = run(DEMOTE_AND_PROMOTE, check_mode=check_mode)
        assert result["failed"] and "not the primary this secondary replicates from" in result["msg"]
        assert "Nothing was demoted" in result["msg"]
    assert writes(vault) == []


def test_demote_primary_not_answering_is_refused_before_any_write(vault):
    status(vault, "status_secondary")
    vault.add(responses.GET, OLD + STATUS, body=requests.exceptions.ConnectionError("[Errno 111] Connection refused"))
    result = run(dict(DEMOTE_AND_PROMOTE, retries=0))
    assert result["failed"] and "does not answer" in result["msg"] and "unplanned" in result["msg"]
    assert writes(vault) == []


def test_demote_primary_refused_promotes_nothing(vault):
    status(vault, "status_secondary")
    old_primary(vault, "status_primary", demote_status=400)
    result = run(DEMOTE_AND_PROMOTE)
    assert result["failed"] and "demoting demote_primary first failed, so this cluster was not promoted" in result["msg"]
    assert "demote refused" in result["msg"] and result["http_status"] == 400
    assert [c.request.url for c in writes(vault)] == [OLD + "sys/replication/dr/primary/demote"]


def test_promotion_failing_after_the_demotion_says_no_cluster_is_primary(vault):
    status(vault, "status_secondary")
    old_primary(vault, "status_primary", "status_demoted")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=400, json=fixture("error_400_op_token"))
    result = run(DEMOTE_AND_PROMOTE)
    assert result["failed"] and "Check dr_operation_token" in result["msg"]
    assert "was demoted by this run" in result["msg"] and "no cluster is a DR primary" in result["msg"]


def test_demote_primary_check_mode_reads_only(vault):
    status(vault, "status_secondary")
    old_primary(vault, "status_primary")
    result = run(DEMOTE_AND_PROMOTE, check_mode=True, diff=True)
    assert result["changed"] is True and writes(vault) == []
    assert result["diff"]["before"]["demote_primary"] == "https://vault-a.test:8200 (primary)"


def test_demote_primary_needs_a_token(vault):
    status(vault, "status_secondary")
    result = run(DEMOTE_AND_PROMOTE, with_token=False)
    assert result["failed"] and "demote_primary demotes with it" in result["msg"] and writes(vault) == []


@pytest.mark.parametrize("name", ["status_primary_fresh", "status_primary_legacy"])
def test_promote_on_primary_is_no_change_even_without_op_token(vault, name):
    status(vault, name)
    for check_mode in (True, False):
        result = run({"state": "promoted"}, check_mode=check_mode, with_token=False)
        assert result["changed"] is False and result["mode_before"] == "primary"
    assert writes(vault) == []


def test_promote_needs_op_token_when_acting(vault):
    status(vault, "status_secondary")
    result = run({"state": "promoted"}, with_token=False)
    assert result["failed"] and "needs dr_operation_token" in result["msg"]
    assert "vaultops.dr.dr_operation_token" in result["msg"] and writes(vault) == []


def test_promote_bad_op_token_400(vault):
    status(vault, "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", status=400, json={"errors": ["invalid DR operation token"]})
    result = run(PROMOTE, with_token=False)
    assert result["failed"] and result["msg"].startswith("dr_secondary state=promoted on %s: POST" % URL)
    assert "invalid DR operation token" in result["msg"] and "Check dr_operation_token" in result["msg"]
    no_secrets(result)


def test_promote_on_disabled_fails(vault):
    status(vault, "status_disabled")
    result = run(PROMOTE)
    assert result["failed"] and "vaultops.dr.dr_primary state=enabled" in result["msg"]


def test_promote_connection_refused_never_sent(vault):
    status(vault, "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "promote", body=requests.exceptions.ConnectionError(
        NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")))
    result = run(PROMOTE)
    assert result["failed"] and "Connection refused" in result["msg"] and "Check url" in result["msg"]
    assert len(writes(vault)) == 3  # never sent, so retried
    no_secrets(result)


# -- primary_updated -------------------------------------------------------------------------
def test_update_primary_on_demoted_cluster(vault):
    status(vault, "status_demoted", "status_secondary_syncing", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "update-primary", status=204)
    result = run(dict(UPDATE, ca_file="/ca.pem"), with_token=False, diff=True)
    assert result["changed"] is True and result["status"]["healthy"]
    assert result["diff"] == {"before": {"mode": "secondary"}, "after": {"mode": "secondary"}}
    assert body(writes(vault)[0]) == {"dr_operation_token": OP_TOKEN, "token": ACTIVATION, "ca_file": "/ca.pem"}
    no_secrets(result)


@pytest.mark.parametrize("check_mode", [True, False])
def test_update_primary_already_following_is_no_change(vault, check_mode):
    status(vault, "status_secondary")
    result = run(dict(UPDATE, primary_cluster_addr=PRIMARY_CLUSTER + "/"), check_mode=check_mode, with_token=False)
    assert result["changed"] is False and writes(vault) == []


def test_update_primary_following_but_unhealthy_acts(vault):
    status(vault, "status_secondary_troubled", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "update-primary", status=204)
    assert run(UPDATE, with_token=False)["changed"] is True


def test_update_primary_following_other_primary_acts(vault):
    status(vault, "status_secondary")
    result = run(dict(UPDATE, primary_cluster_addr="https://10.0.3.11:8201"), check_mode=True)
    assert result["changed"] is True


def test_update_primary_without_cluster_addr_always_acts(vault):
    status(vault, "status_secondary", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "update-primary", status=204)
    args = dict(UPDATE)
    args.pop("primary_cluster_addr")
    assert run(args, check_mode=True)["changed"] is True
    assert run(args)["changed"] is True
    assert len(writes(vault)) == 1


def test_update_primary_with_addrs(vault):
    status(vault, "status_secondary_troubled", "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "update-primary", status=204)
    args = {"state": "primary_updated", "dr_operation_token": OP_TOKEN, "update_primary_addrs": [PRIMARY_CLUSTER]}
    run(args)
    assert body(writes(vault)[0]) == {"dr_operation_token": OP_TOKEN, "update_primary_addrs": [PRIMARY_CLUSTER]}


@pytest.mark.parametrize("name, todo", [("status_primary", "demote it first with vaultops.dr.dr_primary state=demoted"),
                                        ("status_disabled", "vaultops.dr.dr_secondary state=enabled")])
def test_update_primary_wrong_mode(vault, name, todo):
    status(vault, name)
    result = run(UPDATE)
    assert result["failed"] and todo in result["msg"] and writes(vault) == []
    assert "dr_secondary state=primary_updated on %s" % URL in result["msg"]
    no_secrets(result)


def test_update_primary_wait_for_the_new_primary(vault):
    """Waiting with primary_cluster_addr means following that address, not just being healthy."""
    other = fixture("status_secondary")
    other["data"]["known_primary_cluster_addrs"] = ["https://10.0.9.9:8201"]
    other["data"]["primary_cluster_addr"] = "https://10.0.9.9:8201"
    other["data"]["primaries"][0]["cluster_address"] = "https://10.0.9.9:8201"
    vault.add(responses.GET, vault.base + STATUS, json=other)
    vault.add(responses.GET, vault.base + STATUS, json=other)
    status(vault, "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "update-primary", status=204)
    result = run(UPDATE)
    assert result["changed"] and result["waited"] > 0
    assert PRIMARY_CLUSTER in result["status"]["raw"]["known_primary_cluster_addrs"]


# -- disabled --------------------------------------------------------------------------------
def test_disable_secondary(vault):
    status(vault, "status_secondary", "status_disabled")
    vault.add(responses.POST, vault.base + SECONDARY + "disable", status=204)
    result = run(DISABLE, with_token=False, diff=True)
    assert result["changed"] and result["status"]["mode"] == "disabled"
    assert result["diff"] == {"before": {"mode": "secondary", "primary": ["https://10.0.1.11:8201"]},
                              "after": {"mode": "disabled", "primary": []}}
    assert body(writes(vault)[0]) == {"dr_operation_token": OP_TOKEN}


def test_disable_on_disabled_no_change(vault):
    status(vault, "status_disabled")
    assert run({"state": "disabled"}, with_token=False)["changed"] is False
    assert writes(vault) == []


def test_disable_on_primary_points_to_dr_primary(vault):
    status(vault, "status_primary")
    result = run(DISABLE)
    assert result["failed"] and "vaultops.dr.dr_primary state=disabled" in result["msg"]
    assert writes(vault) == []


def test_disable_refused_not_a_secondary(vault):
    status(vault, "status_secondary")
    vault.add(responses.POST, vault.base + SECONDARY + "disable", status=400, json=fixture("error_400_not_secondary"))
    result = run(DISABLE)
    assert result["failed"] and "Not a DR secondary." in result["msg"]
    assert result["http_status"] == 400
    no_secrets(result)


def test_no_secret_in_any_result(vault):
    """Every path above checks too; this one runs each state once more, success and failure."""
    results = []
    status(vault, "status_disabled")
    results.append(run(ENABLE, check_mode=True))
    results.append(run(PROMOTE))
    results.append(run(UPDATE))
    results.append(run(DISABLE))
    for result in results:
        no_secrets(result)


def test_state_is_required_since_enabling_wipes_the_cluster(vault):
    args = dict(BASE_ARGS, activation_token="eyJhbGciOi.fake")
    result = run_module(dr_secondary, args)
    assert result["failed"] and "state" in result["msg"] and "required" in result["msg"]
    assert len(vault.calls) == 0  # refused before any request
